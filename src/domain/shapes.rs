//! The shapes of Apple's identifiers, without their rules: Key ID and Issuer ID each recognise the other's shape
//! to say "this is the other field's value", and a UUID is also what an offer's nonce and an app account token
//! look like. Kept apart so those modules need not use each other.

/// True for exactly 10 characters of `A-Z0-9`; other modules use it to spot Key IDs inside file names.
pub fn is_key_id_shape(s: &str) -> bool {
    s.len() == 10
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// True for hexadecimal digits in groups of 8-4-4-4-12 joined by hyphens, in either case.
pub fn is_uuid_shape(s: &str) -> bool {
    const HYPHENS: [usize; 4] = [8, 13, 18, 23];
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if HYPHENS.contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_told_apart() {
        assert!(is_key_id_shape("ABCDE12345"));
        assert!(!is_key_id_shape("abcde12345"));
        assert!(!is_key_id_shape("ABCDE1234"));
        assert!(is_uuid_shape("57246542-96fe-1a63-e053-0824d011072a"));
        assert!(is_uuid_shape("57246542-96FE-1A63-E053-0824D011072A"));
        assert!(!is_uuid_shape("57246542096fe-1a63-e053-0824d011072a"));
        assert!(!is_uuid_shape("57246542-96fe-1a63-e053-0824d011072"));
        assert!(!is_uuid_shape("ABCDE12345"));
    }
}
