//! Our own statuses are stored as one word of text (`apple_keys.status`, `notification_backfills.status`,
//! `consumption_answers.outcome`) and carried above the store as enums. The text is parsed here, at the store's
//! edge, when a row is decoded: a word no variant owns fails the read with an error naming it, instead of reaching
//! a page as a string nobody compares against.

/// A status word in the database that no variant of its enum spells.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} in the database")]
pub struct UnknownStatus {
    /// Which status it was meant to be, e.g. "key status".
    pub what: &'static str,
    pub value: String,
}

/// Gives a status enum that has `ALL` and `as_str()` its parse from text, `Display`, `FromStr`, and a
/// `sqlx::Decode` for the `Any` pool (read as text, then parsed), so `FromRow` rows can hold the enum.
/// The match is exact: the database holds the words exactly as `as_str()` writes them.
macro_rules! status_text {
    ($status:ident, $what:literal) => {
        impl $status {
            /// The variant whose stored text is exactly `text`.
            pub fn parse(text: &str) -> Result<Self, $crate::store::status_text::UnknownStatus> {
                Self::ALL
                    .into_iter()
                    .find(|s| s.as_str() == text)
                    .ok_or_else(|| $crate::store::status_text::UnknownStatus {
                        what: $what,
                        value: text.to_owned(),
                    })
            }
        }

        impl std::fmt::Display for $status {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $status {
            type Err = $crate::store::status_text::UnknownStatus;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl sqlx::Type<sqlx::Any> for $status {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $status {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                // Read as an owned String: sqlx's `&str` decode for `Any` panics on owned text.
                let text = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok(Self::parse(&text)?)
            }
        }
    };
}
pub(crate) use status_text;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use sqlx::Row;

    use super::super::keys::KeyStatus;

    /// Decoding goes through sqlx for real: a stored word becomes its variant, and an unknown one fails the read
    /// with an error that names the word.
    #[tokio::test]
    async fn rows_decode_known_words_and_refuse_unknown_ones_by_name() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let row = sqlx::query("SELECT 'failing' AS status")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            row.try_get::<KeyStatus, _>("status").unwrap(),
            KeyStatus::Failing
        );
        let row = sqlx::query("SELECT 'paused' AS status")
            .fetch_one(&pool)
            .await
            .unwrap();
        let error = row.try_get::<KeyStatus, _>("status").unwrap_err();
        assert!(
            error.to_string().contains("unknown key status \"paused\""),
            "{error}"
        );
    }
}
