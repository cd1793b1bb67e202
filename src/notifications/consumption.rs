//! The form that answers a CONSUMPTION_REQUEST: every field of Apple's Send Consumption Information (v2) body,
//! its allowed values in words, and Apple's rules checked before anything is sent.
use app_store_server_library::models::consumption_request::ConsumptionRequest;
use app_store_server_library::models::delivery_status::DeliveryStatus;
use app_store_server_library::models::refund_preference::RefundPreference;
use serde::Deserialize;

/// (value, words) for `deliveryStatus`.
pub const DELIVERY_STATUSES: &[(&str, &str)] = &[
    ("DELIVERED", "Delivered, and it works properly"),
    (
        "UNDELIVERED_QUALITY_ISSUE",
        "Not delivered: it had a quality issue",
    ),
    (
        "UNDELIVERED_WRONG_ITEM",
        "Not delivered: the wrong item was delivered",
    ),
    (
        "UNDELIVERED_SERVER_OUTAGE",
        "Not delivered: a server outage",
    ),
    ("UNDELIVERED_OTHER", "Not delivered: another reason"),
];

/// (value, words) for `refundPreference`; the empty value leaves the field out.
pub const REFUND_PREFERENCES: &[(&str, &str)] = &[
    ("", "No preference: leave it to Apple"),
    ("DECLINE", "Decline the refund"),
    ("GRANT_FULL", "Grant a full refund"),
    ("GRANT_PRORATED", "Grant a prorated refund"),
];

/// (value, words) for `customerConsented`.
pub const CONSENT_CHOICES: &[(&str, &str)] = &[
    ("", "Choose…"),
    (
        "true",
        "Yes: the customer consented to sharing consumption data",
    ),
    ("false", "No: the customer did not consent"),
];

/// (value, words) for `sampleContentProvided`.
pub const SAMPLE_CHOICES: &[(&str, &str)] = &[
    ("", "Choose…"),
    (
        "true",
        "Yes: a free sample, trial or description was available before the purchase",
    ),
    ("false", "No: nothing was provided before the purchase"),
];

pub const CONSENT_REQUIRED: &str =
    "Say whether the customer consented to sharing consumption data with Apple.";
pub const CONSENT_REFUSED: &str = "Apple accepts consumption information only when the customer consented to share it. Without consent, send nothing: Apple decides on its own.";
pub const SAMPLE_REQUIRED: &str =
    "Say whether the customer could try a sample, a trial or a description of the content before buying.";
pub const DELIVERY_REQUIRED: &str = "Choose how the purchase was delivered.";
pub const PERCENTAGE_NOT_A_NUMBER: &str =
    "Write the share consumed as a number from 0 to 100, such as 50 or 12.5, or leave it empty.";
pub const PERCENTAGE_OUT_OF_RANGE: &str = "The share consumed must be between 0 and 100 %.";
pub const PERCENTAGE_TOO_PRECISE: &str =
    "Apple takes the share in thousandths of a percent: use at most three decimals.";
pub const PERCENTAGE_UNDELIVERED: &str =
    "When the purchase was not delivered, the share consumed must be 0 % or left empty.";
pub const PERCENTAGE_AUTO_RENEWABLE: &str = "Leave the share consumed empty for an auto-renewable subscription: Apple computes it from the time used and refuses any share sent.";
pub const PERCENTAGE_PRORATED_RANGE: &str = "A prorated refund needs the share consumed: more than 0 and less than 100 %, such as 40 or 67.932.";
pub const PRORATED_UNDELIVERED: &str = "A prorated refund needs a share consumed above 0 %, and a purchase that was not delivered has consumed 0 %: choose another refund preference, or say it was delivered.";
pub const REFUND_PREFERENCE_UNKNOWN: &str =
    "Choose a refund preference from the list, or “No preference”.";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConsumptionForm {
    #[serde(default)]
    pub customer_consented: String,
    #[serde(default)]
    pub sample_content_provided: String,
    #[serde(default)]
    pub delivery_status: String,
    #[serde(default)]
    pub consumption_percentage: String,
    #[serde(default)]
    pub refund_preference: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumptionErrors {
    pub customer_consented: Option<String>,
    pub sample_content_provided: Option<String>,
    pub delivery_status: Option<String>,
    pub consumption_percentage: Option<String>,
    pub refund_preference: Option<String>,
}

impl ConsumptionErrors {
    pub fn is_empty(&self) -> bool {
        *self == ConsumptionErrors::default()
    }
}

fn delivery(value: &str) -> Option<DeliveryStatus> {
    Some(match value {
        "DELIVERED" => DeliveryStatus::Delivered,
        "UNDELIVERED_QUALITY_ISSUE" => DeliveryStatus::UndeliveredQualityIssue,
        "UNDELIVERED_WRONG_ITEM" => DeliveryStatus::UndeliveredWrongItem,
        "UNDELIVERED_SERVER_OUTAGE" => DeliveryStatus::UndeliveredServerOutage,
        "UNDELIVERED_OTHER" => DeliveryStatus::UndeliveredOther,
        _ => return None,
    })
}

fn refund_preference(value: &str) -> Result<Option<RefundPreference>, ()> {
    Ok(Some(match value {
        "" => return Ok(None),
        "DECLINE" => RefundPreference::Declined,
        "GRANT_FULL" => RefundPreference::GrantFull,
        "GRANT_PRORATED" => RefundPreference::GrantProrated,
        _ => return Err(()),
    }))
}

fn yes_no(value: &str) -> Option<bool> {
    match value.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// "50", "12.5", "100 %", "33,333" → milliunits (50000, 12500, 100000, 33333).
fn percentage(value: &str) -> Result<Option<u32>, &'static str> {
    let v = value.trim().trim_end_matches('%').trim().replace(',', ".");
    if v.is_empty() {
        return Ok(None);
    }
    let (whole, frac) = v.split_once('.').unwrap_or((&v, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(PERCENTAGE_NOT_A_NUMBER);
    }
    if frac.len() > 3 {
        return Err(PERCENTAGE_TOO_PRECISE);
    }
    if whole.len() > 3 {
        return Err(PERCENTAGE_OUT_OF_RANGE);
    }
    let whole: u32 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| PERCENTAGE_NOT_A_NUMBER)?
    };
    let frac: u32 = format!("{frac:0<3}")
        .parse()
        .map_err(|_| PERCENTAGE_NOT_A_NUMBER)?;
    let milli = whole * 1000 + frac;
    if milli > 100_000 {
        return Err(PERCENTAGE_OUT_OF_RANGE);
    }
    Ok(Some(milli))
}

/// Checks the form against Apple's rules (API digest 3.6). `auto_renewable`: the transaction is an
/// auto-renewable subscription.
pub fn validate(
    form: &ConsumptionForm,
    auto_renewable: bool,
) -> Result<ConsumptionRequest, ConsumptionErrors> {
    let mut errors = ConsumptionErrors::default();
    match yes_no(&form.customer_consented) {
        Some(true) => {}
        Some(false) => errors.customer_consented = Some(CONSENT_REFUSED.into()),
        None => errors.customer_consented = Some(CONSENT_REQUIRED.into()),
    }
    let sample = yes_no(&form.sample_content_provided);
    if sample.is_none() {
        errors.sample_content_provided = Some(SAMPLE_REQUIRED.into());
    }
    let delivery_status = delivery(form.delivery_status.trim());
    if delivery_status.is_none() {
        errors.delivery_status = Some(DELIVERY_REQUIRED.into());
    }
    let preference = refund_preference(form.refund_preference.trim()).unwrap_or_else(|()| {
        errors.refund_preference = Some(REFUND_PREFERENCE_UNKNOWN.into());
        None
    });
    let share = percentage(&form.consumption_percentage).unwrap_or_else(|e| {
        errors.consumption_percentage = Some(e.into());
        None
    });
    let delivered = delivery_status
        .as_ref()
        .map(|d| *d == DeliveryStatus::Delivered);
    let prorated = preference == Some(RefundPreference::GrantProrated);
    if errors.consumption_percentage.is_none() {
        // Apple's rules (consumptionPercentage, refundPreference): a subscription's share is Apple's to compute;
        // an undelivered purchase consumed nothing; a prorated refund of anything else needs 0 < share < 100 %.
        if auto_renewable {
            if share.is_some() {
                errors.consumption_percentage = Some(PERCENTAGE_AUTO_RENEWABLE.into());
            }
        } else if delivered == Some(false) {
            if share.is_some_and(|p| p != 0) {
                errors.consumption_percentage = Some(PERCENTAGE_UNDELIVERED.into());
            } else if prorated {
                errors.refund_preference = Some(PRORATED_UNDELIVERED.into());
            }
        } else if prorated && !share.is_some_and(|p| p > 0 && p < 100_000) {
            errors.consumption_percentage = Some(PERCENTAGE_PRORATED_RANGE.into());
        }
    }
    match (errors.is_empty(), delivery_status, sample) {
        (true, Some(delivery_status), Some(sample_content_provided)) => Ok(ConsumptionRequest {
            customer_consented: true,
            consumption_percentage: share,
            delivery_status,
            refund_preference: preference,
            sample_content_provided,
        }),
        _ => Err(errors),
    }
}

/// The body in words for the answers list: "consented, no sample, delivered, 50 % consumed, grant full".
pub fn describe(request_json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(request_json).unwrap_or_default();
    let mut parts = Vec::new();
    if v.get("customerConsented").and_then(|b| b.as_bool()) == Some(true) {
        parts.push("customer consented".to_owned());
    }
    match v.get("sampleContentProvided").and_then(|b| b.as_bool()) {
        Some(true) => parts.push("sample provided".to_owned()),
        Some(false) => parts.push("no sample".to_owned()),
        None => {}
    }
    if let Some(d) = v.get("deliveryStatus").and_then(|d| d.as_str()) {
        let words = DELIVERY_STATUSES
            .iter()
            .find(|(k, _)| *k == d)
            .map(|(_, w)| w.to_lowercase())
            .unwrap_or_else(|| d.to_owned());
        parts.push(words);
    }
    if let Some(p) = v.get("consumptionPercentage").and_then(|p| p.as_i64()) {
        parts.push(format!(
            "{} consumed",
            crate::present::percent::percentage(p)
        ));
    }
    match v.get("refundPreference").and_then(|r| r.as_str()) {
        Some(r) => parts.push(
            REFUND_PREFERENCES
                .iter()
                .find(|(k, _)| *k == r)
                .map(|(_, w)| w.to_lowercase())
                .unwrap_or_else(|| r.to_owned()),
        ),
        None => parts.push("no refund preference".to_owned()),
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(
        consent: &str,
        sample: &str,
        delivery: &str,
        share: &str,
        pref: &str,
    ) -> ConsumptionForm {
        ConsumptionForm {
            customer_consented: consent.into(),
            sample_content_provided: sample.into(),
            delivery_status: delivery.into(),
            consumption_percentage: share.into(),
            refund_preference: pref.into(),
        }
    }

    #[test]
    fn a_complete_form_becomes_apples_body() {
        let r = validate(
            &form("true", "false", "DELIVERED", "50", "GRANT_FULL"),
            false,
        )
        .unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"customerConsented": true, "sampleContentProvided": false,
                "deliveryStatus": "DELIVERED", "consumptionPercentage": 50000, "refundPreference": "GRANT_FULL"})
        );
        let r = validate(&form("true", "true", "UNDELIVERED_OTHER", "", ""), false).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("consumptionPercentage").is_none());
        assert!(json.get("refundPreference").is_none());
    }

    #[test]
    fn percentages_are_read_in_thousandths() {
        assert_eq!(percentage("12.5"), Ok(Some(12_500)));
        assert_eq!(percentage("0,001"), Ok(Some(1)));
        assert_eq!(percentage("100 %"), Ok(Some(100_000)));
        assert_eq!(percentage(" "), Ok(None));
        assert_eq!(percentage("100.001"), Err(PERCENTAGE_OUT_OF_RANGE));
        assert_eq!(percentage("1.2345"), Err(PERCENTAGE_TOO_PRECISE));
        assert_eq!(percentage("-3"), Err(PERCENTAGE_NOT_A_NUMBER));
        assert_eq!(percentage("half"), Err(PERCENTAGE_NOT_A_NUMBER));
        assert_eq!(percentage("."), Err(PERCENTAGE_NOT_A_NUMBER));
    }

    #[test]
    fn apples_rules_are_checked_before_sending() {
        let e = validate(&form("true", "false", "UNDELIVERED_OTHER", "10", ""), false).unwrap_err();
        assert_eq!(
            e.consumption_percentage.as_deref(),
            Some(PERCENTAGE_UNDELIVERED)
        );
        assert!(validate(&form("true", "false", "UNDELIVERED_OTHER", "0", ""), false).is_ok());
        // An auto-renewable subscription takes no share at all, whatever the preference.
        for pref in ["", "DECLINE", "GRANT_FULL", "GRANT_PRORATED"] {
            for share in ["0", "10", "100"] {
                let e =
                    validate(&form("true", "false", "DELIVERED", share, pref), true).unwrap_err();
                assert_eq!(
                    e.consumption_percentage.as_deref(),
                    Some(PERCENTAGE_AUTO_RENEWABLE),
                    "{pref} {share}"
                );
            }
            let ok = validate(&form("true", "false", "DELIVERED", "", pref), true).unwrap();
            assert_eq!(ok.consumption_percentage, None);
        }
        // Anything else: a prorated refund needs 0 < share < 100 %.
        for share in ["", "0", "100"] {
            let e = validate(
                &form("true", "false", "DELIVERED", share, "GRANT_PRORATED"),
                false,
            )
            .unwrap_err();
            assert_eq!(
                e.consumption_percentage.as_deref(),
                Some(PERCENTAGE_PRORATED_RANGE),
                "{share}"
            );
        }
        for (share, milli) in [("0.001", 1), ("10", 10_000), ("99.999", 99_999)] {
            let ok = validate(
                &form("true", "false", "DELIVERED", share, "GRANT_PRORATED"),
                false,
            )
            .unwrap();
            assert_eq!(ok.consumption_percentage, Some(milli));
        }
        assert!(validate(
            &form("true", "false", "DELIVERED", "100", "GRANT_FULL"),
            false
        )
        .is_ok());
        assert!(validate(&form("true", "false", "DELIVERED", "0", "DECLINE"), false).is_ok());
        let e = validate(
            &form("true", "false", "UNDELIVERED_OTHER", "", "GRANT_PRORATED"),
            false,
        )
        .unwrap_err();
        assert_eq!(e.refund_preference.as_deref(), Some(PRORATED_UNDELIVERED));
        assert_eq!(e.consumption_percentage, None);
        let e = validate(&form("false", "", "", "", "MAYBE"), false).unwrap_err();
        assert_eq!(e.customer_consented.as_deref(), Some(CONSENT_REFUSED));
        assert_eq!(e.sample_content_provided.as_deref(), Some(SAMPLE_REQUIRED));
        assert_eq!(e.delivery_status.as_deref(), Some(DELIVERY_REQUIRED));
        assert_eq!(
            e.refund_preference.as_deref(),
            Some(REFUND_PREFERENCE_UNKNOWN)
        );
    }

    #[test]
    fn an_answer_reads_in_words() {
        assert_eq!(
            describe(r#"{"customerConsented":true,"sampleContentProvided":false,"deliveryStatus":"DELIVERED","consumptionPercentage":12500,"refundPreference":"DECLINE"}"#),
            "customer consented, no sample, delivered, and it works properly, 12.5 % consumed, decline the refund"
        );
    }
}
