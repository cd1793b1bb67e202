//! Apple's prices. Apple sends an integer in milliunits of the currency (9990 is 9.99); people read the
//! amount with the currency's own decimals, then its ISO 4217 code: `9.99 EUR`, `1,500 JPY`, `12.345 KWD`.
//!
//! The code always follows the amount, for every currency: a symbol would be ambiguous (`$` is also CAD,
//! AUD, MXN…; `¥` is also CNY), and a support agent comparing with a receipt needs to know which one it is.
use serde::Serialize;

/// ISO 4217's code for "no currency", shown when Apple sent a price without its currency.
pub const NO_CURRENCY: &str = "XXX";

/// An amount of money as Apple sends it and as people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Money {
    pub milliunits: i64,
    /// The ISO 4217 code as Apple sent it, or [`NO_CURRENCY`].
    pub currency: String,
    /// `9.99 EUR`, `1,500 JPY`, `12.345 KWD`.
    pub text: String,
    /// The amount alone, `9.99`, for CSV.
    pub amount: String,
}

/// Digits after the decimal point (ISO 4217 minor units); currencies not listed have two, as most do.
pub fn currency_decimals(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The amount with the currency's decimals. A value finer than the currency allows keeps all three
/// milliunit digits: rounding someone's money on a support page would show a price Apple never charged.
pub fn amount(milliunits: i64, currency: &str) -> String {
    let sign = if milliunits < 0 { "-" } else { "" };
    let abs = milliunits.unsigned_abs();
    let whole = group_thousands(abs / 1000);
    let frac = abs % 1000;
    let decimals = currency_decimals(currency);
    let fraction = if decimals >= 3 {
        let scaled = frac * 10u64.pow(decimals - 3);
        format!(".{scaled:0width$}", width = decimals as usize)
    } else {
        let unit = 10u64.pow(3 - decimals);
        if frac % unit != 0 {
            format!(".{frac:03}")
        } else if decimals == 0 {
            String::new()
        } else {
            format!(".{:0width$}", frac / unit, width = decimals as usize)
        }
    };
    format!("{sign}{whole}{fraction}")
}

/// A price as Apple sent it. A missing (or empty) currency is still shown, as [`NO_CURRENCY`]: hiding a
/// price Apple sent would hide what the customer was charged.
pub fn money(milliunits: i64, currency: Option<&str>) -> Money {
    let currency = currency
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(NO_CURRENCY);
    let amount = amount(milliunits, currency);
    Money {
        milliunits,
        currency: currency.to_owned(),
        text: format!("{amount} {currency}"),
        amount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(milliunits: i64, currency: &str) -> String {
        money(milliunits, Some(currency)).text
    }

    #[test]
    fn every_currency_of_the_table_shows_its_decimals() {
        for code in [
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
            "VND", "VUV", "XAF", "XOF", "XPF",
        ] {
            assert_eq!(text(1_500_000, code), format!("1,500 {code}"));
        }
        for code in ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"] {
            assert_eq!(text(12_345, code), format!("12.345 {code}"));
        }
        for code in ["CLF", "UYW"] {
            assert_eq!(text(12_340, code), format!("12.3400 {code}"));
        }
        for code in ["USD", "EUR", "GBP", "CAD", "CHF", "CNY", "AUD"] {
            assert_eq!(text(9_990, code), format!("9.99 {code}"));
        }
    }

    #[test]
    fn a_currency_not_in_the_table_has_two_decimals_and_is_shown_as_sent() {
        assert_eq!(text(12_990, "ZZZ"), "12.99 ZZZ");
        assert_eq!(text(12_990, "usd"), "12.99 usd");
    }

    #[test]
    fn a_missing_currency_is_shown_as_no_currency() {
        // The support desk showed `9.99 XXX`; the notification pages left the price out.
        assert_eq!(money(9_990, None).text, "9.99 XXX");
        assert_eq!(money(9_990, Some("")).text, "9.99 XXX");
        assert_eq!(money(9_990, Some("  ")).currency, "XXX");
    }

    #[test]
    fn zero_negative_and_huge_amounts() {
        assert_eq!(text(0, "USD"), "0.00 USD");
        assert_eq!(text(0, "JPY"), "0 JPY");
        assert_eq!(text(0, "KWD"), "0.000 KWD");
        assert_eq!(text(-9_990, "USD"), "-9.99 USD");
        assert_eq!(text(-1_500_000, "JPY"), "-1,500 JPY");
        assert_eq!(text(1_234_567_890, "USD"), "1,234,567.89 USD");
        assert_eq!(text(i64::MAX, "USD"), "9,223,372,036,854,775.807 USD");
        assert_eq!(text(i64::MIN, "USD"), "-9,223,372,036,854,775.808 USD");
    }

    #[test]
    fn the_amount_alone_is_for_csv() {
        let m = money(9_990, Some("EUR"));
        assert_eq!(m.amount, "9.99");
        assert_eq!(m.currency, "EUR");
        assert_eq!(m.milliunits, 9_990);
    }

    // The cases below are where notifications/words.rs::price (on the notification pages) and
    // support/present.rs::amount (on the support desk, its CSV and the JSON API) used to disagree.

    #[test]
    fn the_code_follows_the_amount_even_where_a_symbol_was_shown() {
        // words::price showed "$99.99", "€9.99", "£4.49" and "¥1,500"; the support desk the code.
        assert_eq!(text(99_990, "USD"), "99.99 USD");
        assert_eq!(text(9_990, "EUR"), "9.99 EUR");
        assert_eq!(text(4_490, "GBP"), "4.49 GBP");
        assert_eq!(text(1_500_000, "JPY"), "1,500 JPY");
        // words::price: "-$9.99".
        assert_eq!(text(-9_990, "USD"), "-9.99 USD");
    }

    #[test]
    fn a_value_finer_than_the_currency_is_not_rounded() {
        // words::price rounded half up: "$1.00", "€10.00", "¥1,501"; the support desk kept the digits.
        assert_eq!(text(995, "USD"), "0.995 USD");
        assert_eq!(text(9_995, "EUR"), "9.995 EUR");
        assert_eq!(text(1_500_500, "JPY"), "1,500.500 JPY");
        // words::price: "-$0.00" (a minus sign on nothing).
        assert_eq!(text(-1, "USD"), "-0.001 USD");
    }

    #[test]
    fn four_decimal_currencies_have_their_four_decimals() {
        // words::price had no four-decimal currencies: "12.34 CLF".
        assert_eq!(text(12_340, "CLF"), "12.3400 CLF");
        assert_eq!(text(12_345, "UYW"), "12.3450 UYW");
    }
}
