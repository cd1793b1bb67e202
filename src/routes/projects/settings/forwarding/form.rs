//! The destination form (add and edit): its fields, how it is shown back, and its checks — the URL's in
//! `crate::forwarding::target`, the name, environments and types here. Each refusal is one sentence under its
//! field, and nothing is stored until every field passes.
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::forwarding::target::parse_destination_url;
use crate::notifications::words::{type_label, KNOWN_TYPES};
use crate::store::forwarding::DestinationSettings;

pub const NAME_MAX: usize = 80;
pub const NO_NAME: &str = "Give the destination a name, such as “Backend (production)”.";
pub const NAME_TOO_LONG: &str = "A destination's name is at most 80 characters long.";
pub const NO_ENVIRONMENT: &str = "Tick at least one environment: Production, Sandbox or both.";

/// A ticked type box is sent as `type.DID_RENEW=on`.
const TYPE_PREFIX: &str = "type.";

/// The form as posted: every field optional, so a field left out is refused with its sentence, not a 400.
#[derive(Deserialize, Default)]
pub struct DestinationForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub production: Option<String>,
    #[serde(default)]
    pub sandbox: Option<String>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, String>,
}

/// One type's box.
#[derive(Clone)]
pub struct TypeChoice {
    pub code: &'static str,
    pub label: String,
    pub ticked: bool,
}

/// The form as shown: what was typed and ticked, and the sentences of a refusal.
#[derive(Clone)]
pub struct FormView {
    pub name: String,
    pub url: String,
    pub production: bool,
    pub sandbox: bool,
    pub types: Vec<TypeChoice>,
    pub name_error: Option<String>,
    pub url_error: Option<String>,
    pub environment_error: Option<String>,
    pub types_error: Option<String>,
}

impl FormView {
    /// An empty add form: both environments, every type.
    pub fn empty() -> Self {
        Self::of(&DestinationSettings {
            name: String::new(),
            url: String::new(),
            production: true,
            sandbox: true,
            types: Vec::new(),
            enabled: true,
        })
    }

    /// The edit form of a destination's settings.
    pub fn of(s: &DestinationSettings) -> Self {
        FormView {
            name: s.name.clone(),
            url: s.url.clone(),
            production: s.production,
            sandbox: s.sandbox,
            types: choices(&s.types),
            name_error: None,
            url_error: None,
            environment_error: None,
            types_error: None,
        }
    }

    pub fn has_errors(&self) -> bool {
        self.name_error.is_some()
            || self.url_error.is_some()
            || self.environment_error.is_some()
            || self.types_error.is_some()
    }

    pub fn types_ticked(&self) -> usize {
        self.types.iter().filter(|t| t.ticked).count()
    }
}

fn choices(ticked: &[String]) -> Vec<TypeChoice> {
    KNOWN_TYPES
        .iter()
        .map(|code| TypeChoice {
            code,
            label: type_label(code),
            ticked: ticked.iter().any(|t| t == code),
        })
        .collect()
}

/// Checks the form: the settings to store (with `enabled` as given), or the form to show again.
pub fn check(form: &DestinationForm, enabled: bool) -> Result<DestinationSettings, Box<FormView>> {
    let name = form.name.trim().to_owned();
    let typed: Vec<String> = form
        .rest
        .keys()
        .filter_map(|k| k.strip_prefix(TYPE_PREFIX))
        .map(str::to_owned)
        .collect();
    let mut shown = FormView {
        name: name.clone(),
        url: form.url.trim().to_owned(),
        production: form.production.is_some(),
        sandbox: form.sandbox.is_some(),
        types: choices(&typed),
        name_error: None,
        url_error: None,
        environment_error: None,
        types_error: None,
    };
    if name.is_empty() {
        shown.name_error = Some(NO_NAME.into());
    } else if name.chars().count() > NAME_MAX {
        shown.name_error = Some(NAME_TOO_LONG.into());
    } else if name.chars().any(char::is_control) {
        shown.name_error = Some("A destination's name is one line of text.".into());
    }
    let url = parse_destination_url(&form.url).map_err(|e| e.to_string());
    if let Err(e) = &url {
        shown.url_error = Some(e.clone());
    }
    if !shown.production && !shown.sandbox {
        shown.environment_error = Some(NO_ENVIRONMENT.into());
    }
    if let Some(unknown) = typed.iter().find(|t| !KNOWN_TYPES.contains(&t.as_str())) {
        shown.types_error = Some(format!(
            "“{unknown}” is not a notification type Apple sends. Tick types from the list."
        ));
    }
    match url {
        Ok(url) if !shown.has_errors() => Ok(DestinationSettings {
            name,
            url: url.url,
            production: shown.production,
            sandbox: shown.sandbox,
            // In Apple's order, whatever order the form sent.
            types: KNOWN_TYPES
                .iter()
                .filter(|t| typed.iter().any(|x| x == *t))
                .map(|t| (*t).to_owned())
                .collect(),
            enabled,
        }),
        _ => Err(Box::new(shown)),
    }
}
