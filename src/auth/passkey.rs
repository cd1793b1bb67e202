//! Passkeys (WebAuthn) as a second factor, through webauthn-rs: registration on the account page and the
//! sign-in's second step. The relying party is the console as `STOREDESK_PUBLIC_URL` names it: its host is the RP
//! id and its origin the only origin accepted, so a passkey made for one host does not sign in on another.
//!
//! Each ceremony has two requests; what webauthn-rs keeps between them (the challenge and the credentials allowed)
//! stays in the database, never in the browser, tied to the enrolling session or to the pending sign-in, taken
//! out by the second request (single use) and refused once expired. Signature counters are checked as webauthn-rs
//! checks them: an assertion whose counter did not move forward is refused as a possible cloned passkey.
use base64::Engine as _;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::store::passkeys::{CeremonyOwner, PasskeyRow};
use crate::store::{Actor, Store, StoreError};

/// How long a ceremony waits for its second request (also what the browser is told).
pub const CEREMONY_MS: i64 = 5 * 60 * 1000;
/// The longest name a passkey may have.
pub const NAME_MAX: usize = 60;
/// The most passkeys one account may have: more than anyone carries, few enough that the sign-in's list of allowed
/// credentials (sent to the browser) and the account page stay small.
pub const PER_USER_MAX: usize = 20;

pub fn too_many() -> String {
    format!("This account already has {PER_USER_MAX} passkeys, the most one account can have; remove one you no longer use, then add the new one. Nothing was added.")
}

/// The console as a WebAuthn relying party.
pub struct RelyingParty {
    webauthn: Webauthn,
    rp_id: String,
}

pub const UNAVAILABLE: &str = "Passkeys are not available: STOREDESK_PUBLIC_URL names this console by an IP address, and passkeys need a host name (such as localhost or console.example.com). Ask whoever runs storedesk to set it.";

impl RelyingParty {
    /// The relying party of `public_url`, or the sentence that says why passkeys cannot work with it (an IP
    /// address: WebAuthn needs a host name).
    pub fn of(public_url: &str) -> Result<RelyingParty, &'static str> {
        let origin = Url::parse(public_url).map_err(|_| UNAVAILABLE)?;
        let Some(host) = origin.domain().map(str::to_ascii_lowercase) else {
            return Err(UNAVAILABLE);
        };
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .and_then(|b| {
                b.rp_name("storedesk")
                    .timeout(std::time::Duration::from_millis(CEREMONY_MS as u64))
                    .build()
            })
            .map_err(|_| UNAVAILABLE)?;
        Ok(RelyingParty {
            webauthn,
            rp_id: host,
        })
    }

    /// The RP id: the public URL's host.
    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The user handle the authenticator keeps: stable per user, and no e-mail address in it.
fn user_handle(user_id: i64) -> Uuid {
    Uuid::from_u64_pair(0x7374_6f72_6564_6573, user_id as u64)
}

/// A name as typed, trimmed, or the sentence that refuses it.
pub fn check_name(typed: &str) -> Result<String, String> {
    let name = typed.trim();
    if name.is_empty() {
        return Err("Give the passkey a name, such as \u{201c}Work laptop\u{201d} or \u{201c}Phone\u{201d}, so you can tell your passkeys apart; nothing was added.".into());
    }
    if name.chars().count() > NAME_MAX {
        return Err(format!(
            "A passkey's name can be at most {NAME_MAX} characters; nothing was added."
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(
            "A passkey's name cannot hold control characters (such as a tab or a line break); nothing was added."
                .into(),
        );
    }
    Ok(name.to_string())
}

fn parse_passkey(row: &PasskeyRow) -> anyhow::Result<Passkey> {
    serde_json::from_str(&row.credential).map_err(|e| {
        anyhow::anyhow!(
            "passkey {} of user {} cannot be read: {e}",
            row.id,
            row.user_id
        )
    })
}

/// Starts adding a passkey named `typed_name`: the options for `navigator.credentials.create`, or the sentence
/// that refuses the name. The user's passkeys are excluded, so one authenticator is not registered twice.
pub async fn start_registration(
    store: &Store,
    rp: &RelyingParty,
    user_id: i64,
    email: &str,
    session_id: i64,
    typed_name: &str,
) -> anyhow::Result<Result<CreationChallengeResponse, String>> {
    let name = match check_name(typed_name) {
        Ok(name) => name,
        Err(sentence) => return Ok(Err(sentence)),
    };
    let existing = store.passkeys_of(user_id).await?;
    if existing.len() >= PER_USER_MAX {
        return Ok(Err(too_many()));
    }
    if existing.iter().any(|p| p.name == name) {
        return Ok(Err(crate::store::passkeys::duplicate_name(&name)));
    }
    let mut exclude = Vec::new();
    for row in existing.iter().filter(|p| p.rp_id == rp.rp_id) {
        exclude.push(parse_passkey(row)?.cred_id().clone());
    }
    let (options, state) = rp
        .webauthn
        .start_passkey_registration(
            user_handle(user_id),
            email,
            email,
            Some(exclude).filter(|e| !e.is_empty()),
        )
        .map_err(|e| anyhow::anyhow!("could not start a passkey registration: {e}"))?;
    let state = serde_json::to_string(&state)?;
    let now = crate::clock::now_ms();
    store
        .begin_passkey_ceremony(
            CeremonyOwner::Session(session_id),
            user_id,
            &name,
            &state,
            now,
            now + CEREMONY_MS,
        )
        .await?;
    Ok(Ok(options))
}

pub const NO_CREDENTIAL: &str = "Adding a passkey needs JavaScript in your browser, and the browser sent no passkey; nothing was added. Turn JavaScript on, or use an authenticator app instead.";
pub const UNREADABLE: &str =
    "The browser's answer could not be read as a passkey; nothing was added. Try again.";
pub const REGISTRATION_GONE: &str = "This passkey request waited more than five minutes or was already used; nothing was added. Press \u{201c}Add a passkey\u{201d} again.";

/// The sentence for a ceremony webauthn-rs refused, saying what was wrong in words a person can act on.
fn refusal(e: &WebauthnError, outcome: &str) -> String {
    let why = match e {
        WebauthnError::MismatchedChallenge => {
            "it answers another request than the one this page made"
        }
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            "it was made for another web address than this console's"
        }
        WebauthnError::UserNotVerified => {
            "your device did not check that it is you (a PIN, fingerprint or face)"
        }
        WebauthnError::CredentialPossibleCompromise => {
            "its signature counter went backwards, which is what a copied passkey does"
        }
        WebauthnError::CredentialNotFound => "it is not one of this account's passkeys",
        WebauthnError::InvalidClientDataType => "it is not the kind of answer this step asks for",
        _ => "its signature or contents did not check out",
    };
    format!("The passkey was refused: {why}; {outcome}.")
}

/// Finishes adding a passkey with the browser's answer (`navigator.credentials.create`'s credential as JSON):
/// the name of the passkey added, or the sentence that says why nothing was.
pub async fn finish_registration(
    store: &Store,
    rp: &RelyingParty,
    user_id: i64,
    session_id: i64,
    credential: &str,
    actor: &Actor,
) -> anyhow::Result<Result<String, String>> {
    if credential.trim().is_empty() {
        return Ok(Err(NO_CREDENTIAL.into()));
    }
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(credential) else {
        return Ok(Err(UNREADABLE.into()));
    };
    let now = crate::clock::now_ms();
    let Some(ceremony) = store
        .take_passkey_ceremony(CeremonyOwner::Session(session_id), now)
        .await?
        .filter(|c| c.user_id == user_id)
    else {
        return Ok(Err(REGISTRATION_GONE.into()));
    };
    let state: PasskeyRegistration = serde_json::from_str(&ceremony.state)?;
    let passkey = match rp.webauthn.finish_passkey_registration(&answer, &state) {
        Ok(passkey) => passkey,
        Err(e) => return Ok(Err(refusal(&e, "nothing was added"))),
    };
    let json = serde_json::to_string(&passkey)?;
    match store
        .add_passkey(
            user_id,
            &ceremony.name,
            &b64url(passkey.cred_id()),
            &json,
            &rp.rp_id,
            actor,
        )
        .await
    {
        Ok(_) => Ok(Ok(ceremony.name)),
        Err(StoreError::Conflict(sentence)) => Ok(Err(sentence)),
        Err(e) => Err(e.into()),
    }
}

pub const NO_PASSKEY_HERE: &str = "You have no passkey for this web address. Type a code from your authenticator app or a recovery code instead.";

/// The user's passkeys that can sign in here (made for this RP id).
pub async fn usable_passkeys(
    store: &Store,
    rp: &RelyingParty,
    user_id: i64,
) -> anyhow::Result<Vec<PasskeyRow>> {
    Ok(store
        .passkeys_of(user_id)
        .await?
        .into_iter()
        .filter(|p| p.rp_id == rp.rp_id)
        .collect())
}

/// Starts the sign-in's passkey step for a pending sign-in: the options for `navigator.credentials.get`, or the
/// sentence when the user has no passkey for this host.
pub async fn start_authentication(
    store: &Store,
    rp: &RelyingParty,
    user_id: i64,
    pending_id: i64,
) -> anyhow::Result<Result<RequestChallengeResponse, String>> {
    let rows = usable_passkeys(store, rp, user_id).await?;
    if rows.is_empty() {
        return Ok(Err(NO_PASSKEY_HERE.into()));
    }
    let passkeys = rows
        .iter()
        .map(parse_passkey)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (options, state) = rp
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| anyhow::anyhow!("could not start a passkey sign-in: {e}"))?;
    let state = serde_json::to_string(&state)?;
    let now = crate::clock::now_ms();
    store
        .begin_passkey_ceremony(
            CeremonyOwner::PendingSignIn(pending_id),
            user_id,
            "",
            &state,
            now,
            now + CEREMONY_MS,
        )
        .await?;
    Ok(Ok(options))
}

/// How a passkey sign-in ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Passed with the passkey of this name.
    Passed(String),
    /// Refused: the sentence for the page and the audit log's words.
    Refused { sentence: String, detail: String },
}

pub const SIGN_IN_NO_CREDENTIAL: &str = "Signing in with a passkey needs JavaScript in your browser, and the browser sent no passkey. Turn JavaScript on, or type a code instead.";
pub const SIGN_IN_UNREADABLE: &str =
    "The browser's answer could not be read as a passkey. Press \u{201c}Use a passkey\u{201d} again.";
pub const SIGN_IN_GONE: &str = "This passkey request waited more than five minutes or was already used. Press \u{201c}Use a passkey\u{201d} again.";

fn refused(sentence: impl Into<String>, detail: impl Into<String>) -> SignInOutcome {
    SignInOutcome::Refused {
        sentence: sentence.into(),
        detail: detail.into(),
    }
}

/// Checks the browser's answer (`navigator.credentials.get`'s credential as JSON) against the pending sign-in's
/// ceremony; a passkey that passes has its counter and last use recorded.
pub async fn finish_authentication(
    store: &Store,
    rp: &RelyingParty,
    user_id: i64,
    pending_id: i64,
    credential: &str,
) -> anyhow::Result<SignInOutcome> {
    if credential.trim().is_empty() {
        return Ok(refused(SIGN_IN_NO_CREDENTIAL, "no passkey answer was sent"));
    }
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else {
        return Ok(refused(
            SIGN_IN_UNREADABLE,
            "the passkey answer could not be read",
        ));
    };
    let now = crate::clock::now_ms();
    let Some(ceremony) = store
        .take_passkey_ceremony(CeremonyOwner::PendingSignIn(pending_id), now)
        .await?
        .filter(|c| c.user_id == user_id)
    else {
        return Ok(refused(
            SIGN_IN_GONE,
            "no passkey request waiting (expired, or already used)",
        ));
    };
    let state: PasskeyAuthentication = serde_json::from_str(&ceremony.state)?;
    let result = match rp.webauthn.finish_passkey_authentication(&answer, &state) {
        Ok(result) => result,
        Err(e) => {
            let detail = match &e {
                WebauthnError::CredentialPossibleCompromise => {
                    "passkey refused: its counter went backwards (possibly a cloned passkey)"
                        .to_string()
                }
                other => format!("passkey refused: {other}"),
            };
            return Ok(refused(
                refusal(&e, "try again, or type a code instead"),
                detail,
            ));
        }
    };
    let id = b64url(result.cred_id());
    let rows = usable_passkeys(store, rp, user_id).await?;
    let Some(row) = rows.iter().find(|p| p.credential_id == id) else {
        return Ok(refused(
            "This passkey was removed from your account. Use another passkey, or type a code instead.",
            "the passkey was removed during the sign-in",
        ));
    };
    let mut passkey = parse_passkey(row)?;
    passkey.update_credential(&result);
    store
        .passkey_used(row.id, &serde_json::to_string(&passkey)?, now)
        .await?;
    Ok(SignInOutcome::Passed(row.name.clone()))
}
