//! A key as the keys page and Step 3 show it: what identifies it (never the key), its times, and its health in
//! the one set of words `present::status::key_health` gives; and the correction form for a key Apple never accepted.
use crate::domain::KeyHealth;
use crate::present::status::key_health;
use crate::present::time;
use crate::store::keys::KeyRow;

pub struct KeyView {
    pub id: i64,
    pub key_id: String,
    pub issuer_id: String,
    pub fingerprint: String,
    pub uploaded_by: String,
    /// `2026-11-26 14:03 UTC (3 days ago)`
    pub uploaded: String,
    pub last_success: String,
    pub last_failure: String,
    /// The last Verify now's summary and when it ran.
    pub last_check: Option<String>,
    pub health: KeyHealth,
    pub word: &'static str,
    pub badge: &'static str,
    pub sentence: &'static str,
    pub in_use: bool,
    /// Apple never accepted it: its Key ID and Issuer ID may be corrected in place.
    pub correctable: bool,
}

fn when(at: Option<i64>, now: i64) -> String {
    at.map(|t| time::utc_and_relative(t, now))
        .unwrap_or_else(|| "never".into())
}

impl KeyView {
    pub fn from_row(row: &KeyRow, now: i64) -> Self {
        let health = row.health();
        let words = key_health(health);
        KeyView {
            id: row.id,
            key_id: row.key_id.clone(),
            issuer_id: row.issuer_id.clone(),
            fingerprint: row.fingerprint.clone(),
            uploaded_by: row.uploaded_by.clone(),
            uploaded: when(Some(row.uploaded_at), now),
            last_success: when(row.last_success_at, now),
            last_failure: match (&row.last_failure, row.last_failure_at) {
                (Some(what), Some(at)) => format!("{} — {what}", when(Some(at), now)),
                _ => "none".into(),
            },
            last_check: row
                .verify_summary
                .as_ref()
                .map(|summary| match row.checked_at {
                    Some(at) => format!("{}: {summary}", when(Some(at), now)),
                    None => summary.clone(),
                }),
            health,
            word: words.word,
            badge: words.class,
            sentence: words.sentence,
            in_use: row.status.is_in_use(),
            correctable: row.facts().correctable(),
        }
    }
}

/// The sentences next to the correction form's fields, and one for the form as a whole.
#[derive(Default, Clone, Debug)]
pub struct CorrectErrors {
    pub key_id: Option<String>,
    pub issuer_id: Option<String>,
    pub form: Option<String>,
}

/// The form that corrects the Key ID or Issuer ID of the key in use while Apple has never accepted it.
pub struct CorrectForm {
    pub key_row_id: i64,
    pub key_id: String,
    pub issuer_id: String,
    pub errors: CorrectErrors,
    /// Where the form is shown (`wizard` or `keys`), so an answer comes back to the same page.
    pub return_to: &'static str,
}

impl CorrectForm {
    /// The form prefilled with what is stored, when the key may be corrected.
    pub fn for_key(key: &KeyView, return_to: &'static str) -> Option<CorrectForm> {
        key.correctable.then(|| CorrectForm {
            key_row_id: key.id,
            key_id: key.key_id.clone(),
            issuer_id: key.issuer_id.clone(),
            errors: CorrectErrors::default(),
            return_to,
        })
    }
}
