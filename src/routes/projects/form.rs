//! The project form: every field parsed into its domain type, each failure kept next to its field.
use serde::Deserialize;

use crate::domain::{AppAppleId, BundleId, Environment, Slug};
use crate::store::{NewProject, Project};

#[derive(Deserialize, Default, Clone, Debug)]
pub struct ProjectForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub bundle_id: String,
    #[serde(default)]
    pub app_apple_id: String,
    #[serde(default)]
    pub environment: String,
    /// The App Apple ID of an app chosen from App Store Connect's list (Step 1's key); empty when typed by hand.
    #[serde(default)]
    pub connect_app: String,
}

#[derive(Default, Clone, Debug)]
pub struct ProjectErrors {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub bundle_id: Option<String>,
    pub app_apple_id: Option<String>,
    pub environment: Option<String>,
}

impl ProjectErrors {
    pub fn any(&self) -> bool {
        self.name.is_some()
            || self.slug.is_some()
            || self.bundle_id.is_some()
            || self.app_apple_id.is_some()
            || self.environment.is_some()
    }
}

impl ProjectForm {
    pub fn from_project(p: &Project) -> Self {
        ProjectForm {
            name: p.name.clone(),
            slug: p.slug.clone(),
            bundle_id: p.bundle_id.clone(),
            app_apple_id: p.app_apple_id.map(|v| v.to_string()).unwrap_or_default(),
            environment: p.environment.clone(),
            connect_app: String::new(),
        }
    }

    pub fn parse(&self) -> Result<NewProject, ProjectErrors> {
        let mut errors = ProjectErrors::default();
        let name = self.name.trim().to_string();
        if name.is_empty() {
            errors.name = Some("Enter a name for the project, such as the app's name.".into());
        } else if name.chars().count() > 80 {
            errors.name = Some("Use at most 80 characters for the name.".into());
        }
        let slug = Slug::parse(&self.slug)
            .map_err(|e| errors.slug = Some(e.to_string()))
            .ok();
        let bundle_id = BundleId::parse(&self.bundle_id)
            .map_err(|e| errors.bundle_id = Some(e.to_string()))
            .ok();
        let app_apple_id = if self.app_apple_id.trim().is_empty() {
            Some(None)
        } else {
            AppAppleId::parse(&self.app_apple_id)
                .map(Some)
                .map_err(|e| errors.app_apple_id = Some(e.to_string()))
                .ok()
        };
        let environment = Environment::parse(&self.environment)
            .map_err(|_| errors.environment = Some("Choose Production or Sandbox.".into()))
            .ok();
        match (slug, bundle_id, app_apple_id, environment) {
            (Some(slug), Some(bundle_id), Some(app_apple_id), Some(environment))
                if !errors.any() =>
            {
                Ok(NewProject {
                    name,
                    slug,
                    bundle_id,
                    app_apple_id,
                    environment,
                })
            }
            _ => Err(errors),
        }
    }
}
