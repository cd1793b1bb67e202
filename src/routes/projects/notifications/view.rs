//! What every notifications page shows of one row, already in words.
use crate::notifications::words;
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

pub fn when(at: i64, now: i64) -> (String, String) {
    (crate::clock::utc(at), crate::clock::relative(at, now))
}

impl NotificationView {
    pub fn new(slug: &str, r: &NotificationRow, now: i64) -> Self {
        let (at, ago) = when(r.signed_date, now);
        NotificationView {
            id: r.id,
            uuid: r.notification_uuid.clone(),
            at,
            ago,
            received: format!(
                "{} ({})",
                crate::clock::utc(r.received_at),
                crate::clock::relative(r.received_at, now)
            ),
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

/// "5 h 12 min left", "40 min left", "overdue by 3 h", "overdue by 2 days".
pub fn time_left(deadline: i64, now: i64) -> String {
    let left = deadline - now;
    let minutes = left.abs() / 60_000;
    let span = if minutes >= 48 * 60 {
        format!("{} days", minutes / (24 * 60))
    } else if minutes >= 60 {
        let (h, m) = (minutes / 60, minutes % 60);
        if m == 0 || h >= 10 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else {
        format!("{} min", minutes.max(1))
    };
    if left > 0 {
        format!("{span} left")
    } else {
        format!("overdue by {span}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_naturally() {
        let h = 3_600_000;
        assert_eq!(time_left(5 * h + 12 * 60_000, 0), "5 h 12 min left");
        assert_eq!(time_left(40 * 60_000, 0), "40 min left");
        assert_eq!(time_left(0, 3 * h), "overdue by 3 h");
        assert_eq!(time_left(0, 60 * h), "overdue by 2 days");
        assert_eq!(time_left(11 * h + 59 * 60_000, 0), "11 h left");
    }
}
