//! Step 1's App Store Connect API key (`AuthKey_<KEYID>.p8`, from Users and Access → Integrations → App Store
//! Connect API). The key itself is the same kind of file as the In-App Purchase key (a PKCS#8 P-256 key), so it is
//! parsed by [`crate::domain::ApplePrivateKey`]; what differs is where it comes from, which the sentences say, and
//! which file name is the wrong kind.
use crate::domain::key_id::KeyId;

/// Why Step 1 refused the file's name: the sentence next to the file field.
pub const IN_APP_PURCHASE_KEY_AT_STEP_1: &str = "This is an In-App Purchase key (SubscriptionKey_….p8). Step 1 needs an App Store Connect API key (AuthKey_….p8): make one under Users and Access → Integrations → App Store Connect API, not on the In-App Purchase tab. The In-App Purchase key belongs in Step 3.";

/// No file chosen at Step 1.
pub const NO_CONNECT_FILE: &str = "Choose the AuthKey_….p8 file you downloaded when you generated the key (App Store Connect → Users and Access → Integrations → App Store Connect API). Apple lets you download it only once.";

/// The sentence for an `AuthKey_<other id>.p8` whose Key ID differs from the one typed.
pub fn key_id_mismatch(file_key_id: &str, entered: &str) -> String {
    format!("This file is named after key {file_key_id}, but the Key ID entered is {entered}. Enter the Key ID of this file, or choose the AuthKey_{entered}.p8 file.")
}

/// The file's name says it is an In-App Purchase key (`SubscriptionKey_…`), the wrong kind at Step 1.
pub fn is_in_app_purchase_key_name(file_name: &str) -> bool {
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    name.get(..16)
        .is_some_and(|h| h.eq_ignore_ascii_case("SubscriptionKey_"))
}

/// Checks an uploaded file's name at Step 1: a `SubscriptionKey_…` file is the wrong kind, and an `AuthKey_<id>.p8`
/// must be named after the Key ID entered (browsers' " (1)" suffixes allowed). Any other name is accepted: the
/// content decides.
pub fn check_connect_file_name(file_name: &str, key_id: &KeyId) -> Result<(), String> {
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    let starts = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
    };
    if is_in_app_purchase_key_name(name) {
        return Err(IN_APP_PURCHASE_KEY_AT_STEP_1.to_owned());
    }
    if !starts("AuthKey_") {
        return Ok(());
    }
    let rest = &name["AuthKey_".len()..];
    let Some(file_key_id) = rest.get(..crate::domain::KEY_ID_LEN) else {
        return Ok(());
    };
    let tail = &rest[file_key_id.len()..];
    let tail = [".p8.txt", ".p8", ".txt", ".pem"]
        .iter()
        .find_map(|ext| {
            let cut = tail.len().checked_sub(ext.len())?;
            tail.get(cut..)
                .filter(|t| t.eq_ignore_ascii_case(ext))
                .map(|_| &tail[..cut])
        })
        .unwrap_or(tail);
    let suffix_ok = {
        let t = tail.trim_start_matches([' ', '-', '_']);
        let digits = t.trim_start_matches('(').trim_end_matches(')');
        tail.is_empty() || (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
    };
    if crate::domain::shapes::is_key_id_shape(file_key_id)
        && suffix_ok
        && file_key_id != key_id.as_str()
    {
        return Err(key_id_mismatch(file_key_id, key_id.as_str()));
    }
    Ok(())
}

/// The shared key parsers (Key ID, Issuer ID, `.p8` content) speak of the In-App Purchase tab, where Step 3's key
/// comes from; at Step 1 the same rule is said about the App Store Connect API tab.
pub fn for_connect_api(sentence: &str) -> String {
    sentence
        .replace(
            "Integrations → In-App Purchase",
            "Integrations → App Store Connect API",
        )
        .replace("In-App Purchase tab", "App Store Connect API tab")
        .replace("In-App Purchase keys", "App Store Connect API keys")
        .replace("In-App Purchase key", "App Store Connect API key")
        .replace("SubscriptionKey_", "AuthKey_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_wrong_kind_and_of_another_key_are_refused() {
        let kid = KeyId::parse("2X9R4HXF34").unwrap();
        assert_eq!(
            check_connect_file_name("SubscriptionKey_2X9R4HXF34.p8", &kid),
            Err(IN_APP_PURCHASE_KEY_AT_STEP_1.to_owned())
        );
        assert!(check_connect_file_name("AuthKey_2X9R4HXF34.p8", &kid).is_ok());
        assert!(check_connect_file_name("C:\\keys\\AuthKey_2X9R4HXF34 (1).p8", &kid).is_ok());
        assert!(check_connect_file_name("key.p8", &kid).is_ok());
        assert_eq!(
            check_connect_file_name("AuthKey_7Q3W8ZK2LM.p8", &kid),
            Err(key_id_mismatch("7Q3W8ZK2LM", "2X9R4HXF34"))
        );
    }

    #[test]
    fn shared_sentences_name_the_app_store_connect_api_tab() {
        let s = for_connect_api(&crate::domain::IssuerIdError::Empty.to_string());
        assert!(s.contains("App Store Connect API tab"), "{s}");
        assert!(!s.contains("In-App Purchase"), "{s}");
    }
}
