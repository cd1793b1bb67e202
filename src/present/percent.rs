//! Percentages Apple counts in milliunits (`revocationPercentage`, `consumptionPercentage`: 50000 is 50 %).

/// `50000` → `50 %`, `12500` → `12.5 %`, `1` → `0.001 %`.
pub fn percentage(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let abs = milli.unsigned_abs();
    let (whole, frac) = (abs / 1000, abs % 1000);
    if frac == 0 {
        format!("{sign}{whole} %")
    } else {
        let digits = format!("{frac:03}");
        format!("{sign}{whole}.{} %", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_drop_trailing_zeros() {
        assert_eq!(percentage(50_000), "50 %");
        assert_eq!(percentage(12_500), "12.5 %");
        assert_eq!(percentage(100_000), "100 %");
        assert_eq!(percentage(0), "0 %");
        assert_eq!(percentage(1), "0.001 %");
        assert_eq!(percentage(33_330), "33.33 %");
    }

    #[test]
    fn a_negative_value_keeps_its_sign() {
        // The support desk's copy showed "0.5 %" for -500 (the sign was lost with the whole part).
        assert_eq!(percentage(-500), "-0.5 %");
        assert_eq!(percentage(-12_500), "-12.5 %");
        assert_eq!(percentage(i64::MIN), "-9223372036854775.808 %");
    }
}
