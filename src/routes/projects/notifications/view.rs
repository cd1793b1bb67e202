//! What every notifications page shows of one row, already in words.
use crate::notifications::words;
use crate::present::{time, When};
use crate::store::notifications::NotificationRow;

/// One `<option>` of a select.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub fn list(options: &[(&str, &str)], current: &str) -> Vec<Choice> {
        options
            .iter()
            .map(|(v, l)| Choice {
                value: (*v).to_owned(),
                label: (*l).to_owned(),
                selected: *v == current,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct NotificationView {
    pub id: i64,
    pub uuid: String,
    pub at: String,
    pub ago: String,
    pub received: String,
    pub type_code: String,
    pub type_label: String,
    pub badge: &'static str,
    pub subtype_code: Option<String>,
    pub subtype_label: Option<String>,
    pub environment: String,
    pub transaction_id: Option<String>,
    pub original_transaction_id: Option<String>,
    /// `/projects/{slug}/transactions?q=<id>`: the support desk's view of the transaction.
    pub transaction_link: Option<String>,
    pub original_link: Option<String>,
    pub product_id: Option<String>,
    pub source: String,
    pub source_label: &'static str,
    pub detail_link: String,
}

pub fn desk_link(slug: &str, id: &str) -> String {
    crate::urls::search(slug, id)
}

impl NotificationView {
    pub fn new(slug: &str, r: &NotificationRow, now: i64) -> Self {
        let signed = When::at(r.signed_date, now);
        NotificationView {
            id: r.id,
            uuid: r.notification_uuid.clone(),
            at: signed.utc,
            ago: signed.relative,
            received: time::utc_and_relative(r.received_at, now),
            type_label: words::type_label(&r.notification_type),
            badge: words::type_badge(&r.notification_type, r.subtype.as_deref()),
            type_code: r.notification_type.clone(),
            subtype_label: r.subtype.as_deref().map(words::subtype_label),
            subtype_code: r.subtype.clone(),
            environment: r.environment.clone(),
            transaction_link: r.transaction_id.as_deref().map(|t| desk_link(slug, t)),
            original_link: r
                .original_transaction_id
                .as_deref()
                .filter(|o| Some(*o) != r.transaction_id.as_deref())
                .map(|t| desk_link(slug, t)),
            transaction_id: r.transaction_id.clone(),
            original_transaction_id: r.original_transaction_id.clone(),
            product_id: r.product_id.clone(),
            source: r.source.clone(),
            source_label: words::source_label(&r.source),
            detail_link: crate::urls::notification(slug, r.id),
        }
    }
}
