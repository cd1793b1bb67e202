//! What can go wrong when calling Apple, in words a support agent can act on.

use super::Environment;

macro_rules! api_error_kinds {
    ($($variant:ident = $code:literal, $name:literal, $what:literal;)*) => {
        /// Apple's `errorCode` values (App Store Server API v1.21 plus Retention Messaging codes that can
        /// share the key). Unknown codes are kept raw: Apple adds codes without notice.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ApiErrorKind {
            $($variant,)*
            Unknown(i64),
        }

        impl ApiErrorKind {
            pub fn from_code(code: i64) -> Self {
                match code {
                    $($code => ApiErrorKind::$variant,)*
                    other => ApiErrorKind::Unknown(other),
                }
            }

            pub fn code(self) -> i64 {
                match self {
                    $(ApiErrorKind::$variant => $code,)*
                    ApiErrorKind::Unknown(code) => code,
                }
            }

            /// Apple's library name, e.g. `TRANSACTION_ID_NOT_FOUND`; `UNKNOWN` for codes we don't know.
            pub fn name(self) -> &'static str {
                match self {
                    $(ApiErrorKind::$variant => $name,)*
                    ApiErrorKind::Unknown(_) => "UNKNOWN",
                }
            }

            /// What Apple objected to, in our words (never Apple's errorMessage).
            pub fn description(self) -> &'static str {
                match self {
                    $(ApiErrorKind::$variant => $what,)*
                    ApiErrorKind::Unknown(_) => "an error code this version of storedesk does not know",
                }
            }
        }
    };
}

api_error_kinds! {
    GeneralBadRequest = 4000000, "GENERAL_BAD_REQUEST", "the request was not valid";
    InvalidAppIdentifier = 4000002, "INVALID_APP_IDENTIFIER", "the app identifier is not valid";
    InvalidRequestRevision = 4000005, "INVALID_REQUEST_REVISION", "the page token (revision) is not valid";
    InvalidTransactionId = 4000006, "INVALID_TRANSACTION_ID", "the transaction id is not valid (it must be digits only)";
    InvalidOriginalTransactionId = 4000008, "INVALID_ORIGINAL_TRANSACTION_ID", "the original transaction id is not valid";
    InvalidExtendByDays = 4000009, "INVALID_EXTEND_BY_DAYS", "the number of days to extend by is not valid (at most 90)";
    InvalidExtendReasonCode = 4000010, "INVALID_EXTEND_REASON_CODE", "the extension reason code is not valid";
    InvalidRequestIdentifier = 4000011, "INVALID_REQUEST_IDENTIFIER", "the request identifier is not valid";
    StartDateTooFarInPast = 4000012, "START_DATE_TOO_FAR_IN_PAST", "the start date is further back than Apple allows (180 days in Production, 30 in Sandbox)";
    StartDateAfterEndDate = 4000013, "START_DATE_AFTER_END_DATE", "the start date is not before the end date";
    InvalidPaginationToken = 4000014, "INVALID_PAGINATION_TOKEN", "the page token is not valid";
    InvalidStartDate = 4000015, "INVALID_START_DATE", "the start date is not a valid timestamp";
    InvalidEndDate = 4000016, "INVALID_END_DATE", "the end date is not a valid timestamp";
    PaginationTokenExpired = 4000017, "PAGINATION_TOKEN_EXPIRED", "the page token has expired; start again from the first page";
    InvalidNotificationType = 4000018, "INVALID_NOTIFICATION_TYPE", "the notification type or subtype is not valid";
    MultipleFiltersSupplied = 4000019, "MULTIPLE_FILTERS_SUPPLIED", "a transaction id and a notification type can't be combined; use one filter";
    InvalidTestNotificationToken = 4000020, "INVALID_TEST_NOTIFICATION_TOKEN", "the test notification token is not valid";
    InvalidSort = 4000021, "INVALID_SORT", "the sort order is not valid";
    InvalidProductType = 4000022, "INVALID_PRODUCT_TYPE", "a product type filter is not valid";
    InvalidProductId = 4000023, "INVALID_PRODUCT_ID", "a product id is not valid";
    InvalidSubscriptionGroupIdentifier = 4000024, "INVALID_SUBSCRIPTION_GROUP_IDENTIFIER", "a subscription group identifier is not valid";
    InvalidExcludeRevoked = 4000025, "INVALID_EXCLUDE_REVOKED", "the exclude-revoked filter is not valid";
    InvalidInAppOwnershipType = 4000026, "INVALID_IN_APP_OWNERSHIP_TYPE", "the ownership type filter is not valid";
    InvalidEmptyStorefrontCountryCodeList = 4000027, "INVALID_EMPTY_STOREFRONT_COUNTRY_CODE_LIST", "the list of storefront countries must not be empty";
    InvalidStorefrontCountryCode = 4000028, "INVALID_STOREFRONT_COUNTRY_CODE", "a storefront country code is not valid";
    InvalidRevoked = 4000030, "INVALID_REVOKED", "the revoked filter is not valid";
    InvalidStatus = 4000031, "INVALID_STATUS", "a subscription status filter is not valid (1 to 5)";
    InvalidAccountTenure = 4000032, "INVALID_ACCOUNT_TENURE", "the account tenure value is not valid";
    InvalidAppAccountToken = 4000033, "INVALID_APP_ACCOUNT_TOKEN", "the app account token is not a valid UUID";
    InvalidConsumptionStatus = 4000034, "INVALID_CONSUMPTION_STATUS", "the consumption status value is not valid";
    InvalidCustomerConsented = 4000035, "INVALID_CUSTOMER_CONSENTED", "the customer's consent is required to send consumption information";
    InvalidDeliveryStatus = 4000036, "INVALID_DELIVERY_STATUS", "the delivery status value is not valid";
    InvalidLifetimeDollarsPurchased = 4000037, "INVALID_LIFETIME_DOLLARS_PURCHASED", "the lifetime-purchased value is not valid";
    InvalidLifetimeDollarsRefunded = 4000038, "INVALID_LIFETIME_DOLLARS_REFUNDED", "the lifetime-refunded value is not valid";
    InvalidPlatform = 4000039, "INVALID_PLATFORM", "the platform value is not valid";
    InvalidPlayTime = 4000040, "INVALID_PLAY_TIME", "the play time value is not valid";
    InvalidSampleContentProvided = 4000041, "INVALID_SAMPLE_CONTENT_PROVIDED", "the sample-content-provided value is not valid";
    InvalidUserStatus = 4000042, "INVALID_USER_STATUS", "the user status value is not valid";
    InvalidTransactionNotConsumable = 4000043, "INVALID_TRANSACTION_NOT_CONSUMABLE", "the transaction is not for a consumable";
    InvalidRefundPreference = 4000044, "INVALID_REFUND_PREFERENCE", "the refund preference value is not valid";
    InvalidTransactionTypeNotSupported = 4000047, "INVALID_TRANSACTION_TYPE_NOT_SUPPORTED", "this kind of transaction is not supported here";
    AppTransactionIdNotSupported = 4000048, "APP_TRANSACTION_ID_NOT_SUPPORTED_ERROR", "this endpoint needs a transaction id, not an app transaction id";
    InvalidImage = 4000161, "INVALID_IMAGE", "the image is not valid";
    HeaderTooLong = 4000162, "HEADER_TOO_LONG", "the message header is too long";
    BodyTooLong = 4000163, "BODY_TOO_LONG", "the message body is too long";
    InvalidLocale = 4000164, "INVALID_LOCALE", "the locale is not valid";
    AltTextTooLong = 4000175, "ALT_TEXT_TOO_LONG", "the image alt text is too long";
    InvalidAppAccountTokenUuid = 4000183, "INVALID_APP_ACCOUNT_TOKEN_UUID_ERROR", "the app account token must be a valid UUID";
    FamilyTransactionNotSupported = 4000185, "FAMILY_TRANSACTION_NOT_SUPPORTED_ERROR", "Family Sharing transactions are not supported by this endpoint";
    TransactionIdNotOriginalTransactionId = 4000187, "TRANSACTION_ID_IS_NOT_ORIGINAL_TRANSACTION_ID_ERROR", "the id given is not an original transaction id";
    ConsumptionPercentageAutoRenewable = 4000209, "CONSUMPTION_PERCENTAGE_AUTO_RENEWABLE_SUBSCRIPTION", "an auto-renewable subscription takes no consumption percentage, whatever the refund preference: Apple computes it from the time used";
    InvalidPerformanceTestRequest = 4000211, "INVALID_PERFORMANCE_TEST_REQUEST", "the performance test request is not valid";
    InvalidRequestId = 4000212, "INVALID_REQUEST_ID", "the request id is not valid";
    ExistingPerformanceTestRun = 4000213, "EXISTING_PERFORMANCE_TEST_RUN", "a performance test is already running";
    BadRequestRealtimeUrl = 4000215, "BAD_REQUEST_REALTIME_URL", "the real-time URL is not valid";
    BadRequestImageSize = 4000216, "BAD_REQUEST_IMAGE_SIZE", "the image size is not valid";
    BadRequestTooManyBulletPoints = 4000218, "BAD_REQUEST_TOO_MANY_BULLET_POINTS", "the message has too many bullet points";
    BadRequestBulletPointTextTooLong = 4000219, "BAD_REQUEST_BULLET_POINT_TEXT_TOO_LONG", "a bullet point is too long";
    BadRequestAboveImageRequiresAnImage = 4000224, "BAD_REQUEST_ABOVE_IMAGE_REQUIRES_AN_IMAGE", "the message layout needs an image";
    SubscriptionExtensionIneligible = 4030004, "SUBSCRIPTION_EXTENSION_INELIGIBLE", "the subscription is not eligible for a renewal date extension (Apple extends only an active, paid subscription: not one that expired, or one in a free trial or other free offer period)";
    SubscriptionMaxExtension = 4030005, "SUBSCRIPTION_MAX_EXTENSION", "the subscription has reached the maximum number of extensions";
    FamilySharedSubscriptionExtensionIneligible = 4030007, "FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE", "Family Sharing subscriptions can't be extended";
    MaximumNumberOfImagesReached = 4030014, "MAXIMUM_NUMBER_OF_IMAGES_REACHED", "the maximum number of images was reached";
    MaximumNumberOfMessagesReached = 4030016, "MAXIMUM_NUMBER_OF_MESSAGES_REACHED", "the maximum number of messages was reached";
    MessageNotApproved = 4030017, "MESSAGE_NOT_APPROVED", "the message is not approved";
    ImageNotApproved = 4030018, "IMAGE_NOT_APPROVED", "the image is not approved";
    ImageInUse = 4030019, "IMAGE_IN_USE", "the image is in use";
    ForbiddenNoPassingTest = 4030026, "FORBIDDEN_NO_PASSING_TEST", "no passing performance test exists";
    AccountNotFound = 4040001, "ACCOUNT_NOT_FOUND", "the customer account was not found";
    AccountNotFoundRetryable = 4040002, "ACCOUNT_NOT_FOUND_RETRYABLE", "the customer account was not found yet";
    AppNotFound = 4040003, "APP_NOT_FOUND", "the app was not found";
    AppNotFoundRetryable = 4040004, "APP_NOT_FOUND_RETRYABLE", "the app was not found yet";
    OriginalTransactionIdNotFound = 4040005, "ORIGINAL_TRANSACTION_ID_NOT_FOUND", "no original transaction has this id";
    OriginalTransactionIdNotFoundRetryable = 4040006, "ORIGINAL_TRANSACTION_ID_NOT_FOUND_RETRYABLE", "the original transaction was not found yet";
    ServerNotificationUrlNotFound = 4040007, "SERVER_NOTIFICATION_URL_NOT_FOUND", "no App Store Server Notifications URL is set for this environment in App Store Connect";
    TestNotificationNotFound = 4040008, "TEST_NOTIFICATION_NOT_FOUND", "the test notification is not available yet, or its token expired";
    StatusRequestNotFound = 4040009, "STATUS_REQUEST_NOT_FOUND", "no renewal-extension request has this product and request id";
    TransactionIdNotFound = 4040010, "TRANSACTION_ID_NOT_FOUND", "no transaction has this id";
    ImageNotFound = 4040014, "IMAGE_NOT_FOUND", "the image was not found";
    MessageNotFound = 4040015, "MESSAGE_NOT_FOUND", "the message was not found";
    PerformanceTestRunNotFound = 4040018, "PERFORMANCE_TEST_RUN_NOT_FOUND", "the performance test run was not found";
    AppTransactionDoesNotExist = 4040019, "APP_TRANSACTION_DOES_NOT_EXIST_ERROR", "the customer has no app transaction";
    DefaultMessageNotFound = 4040020, "DEFAULT_MESSAGE_NOT_FOUND", "the default message was not found";
    RealtimeUrlNotFound = 4040021, "REALTIME_URL_NOT_FOUND", "no real-time URL is set";
    ImageAlreadyExists = 4090000, "IMAGE_ALREADY_EXISTS", "the image already exists";
    MessageAlreadyExists = 4090001, "MESSAGE_ALREADY_EXISTS", "the message already exists";
    RateLimitExceeded = 4290000, "RATE_LIMIT_EXCEEDED", "the rate limit was exceeded";
    GeneralInternal = 5000000, "GENERAL_INTERNAL", "Apple's server had an error";
    GeneralInternalRetryable = 5000001, "GENERAL_INTERNAL_RETRYABLE", "Apple's server had a temporary error";
}

impl ApiErrorKind {
    /// Apple documents these as transient: the same request may succeed later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ApiErrorKind::GeneralInternalRetryable
                | ApiErrorKind::GeneralInternal
                | ApiErrorKind::AccountNotFoundRetryable
                | ApiErrorKind::AppNotFoundRetryable
                | ApiErrorKind::OriginalTransactionIdNotFoundRetryable
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppleError {
    /// 401: the token was refused (wrong key, Key ID, Issuer ID or bundle id, revoked key, clock skew).
    #[error("HTTP 401 from Apple ({environment})")]
    Unauthorized { environment: Environment },
    /// A JSON error body with Apple's `errorCode`.
    #[error("Apple error {code} ({}) with HTTP {status} in {environment}", .kind.name())]
    Api {
        status: u16,
        code: i64,
        kind: ApiErrorKind,
        environment: Environment,
        /// How many times the request was retried before this answer.
        retries: u32,
    },
    #[error("rate limited by Apple (retry at {retry_at_ms:?} ms)")]
    RateLimited { retry_at_ms: Option<i64> },
    /// Our own hourly budget for this endpoint is spent; nothing was sent to Apple.
    #[error("storedesk's hourly budget for {endpoint} in {environment} is spent (until {retry_at_ms} ms)")]
    BudgetExhausted {
        environment: Environment,
        endpoint: &'static str,
        retry_at_ms: i64,
    },
    #[error("Apple did not answer in time ({retries} retries)")]
    Timeout { retries: u32 },
    /// A call someone waits for got no answer within its bound (every attempt included) and was dropped.
    #[error("Apple did not answer within {} s", .within.as_secs())]
    NoAnswer { within: std::time::Duration },
    #[error("network error talking to Apple: {detail} ({retries} retries)")]
    Network { detail: String, retries: u32 },
    /// A success status whose body is not the JSON we expected (detail is our parser's message).
    #[error("Apple's answer could not be read: {0}")]
    MalformedResponse(String),
    /// An error status without a usable JSON body.
    #[error("HTTP {status} from Apple without an error code ({retries} retries)")]
    HttpStatus { status: u16, retries: u32 },
    /// The request could not be built (e.g. the token could not be signed); nothing was sent.
    #[error("the request to Apple could not be prepared: {0}")]
    Request(String),
}

/// "Apple did not answer within 15 seconds.": the start of every sentence about a call that ran out of its bound;
/// what follows depends on whether something may have changed at Apple's end.
pub fn silence(within: std::time::Duration) -> String {
    match (within.as_secs(), within.subsec_millis()) {
        (1, 0) => "Apple did not answer within 1 second.".to_owned(),
        (secs, 0) => format!("Apple did not answer within {secs} seconds."),
        _ => format!(
            "Apple did not answer within {:.1} seconds.",
            within.as_secs_f64()
        ),
    }
}

fn retried(retries: u32) -> String {
    match retries {
        0 => String::new(),
        1 => " It was retried once.".to_owned(),
        n => format!(" It was retried {n} times."),
    }
}

impl AppleError {
    /// A sentence for people: what happened and what to do. Never contains Apple's text or secrets.
    pub fn sentence(&self) -> String {
        match self {
            AppleError::Unauthorized { environment } => {
                let mut s = format!(
                    "Apple refused our credentials (HTTP 401) in {environment}. Check that the key is an In-App Purchase key that has not been revoked, and that its Key ID, the Issuer ID and the bundle id are right."
                );
                if *environment == Environment::Production {
                    s.push_str(" Production also answers 401 for an app that was never released.");
                }
                s
            }
            AppleError::Api {
                kind,
                environment,
                retries,
                status,
                ..
            } => {
                let base = match kind {
                    ApiErrorKind::TransactionIdNotFound => {
                        format!("Apple has no transaction with this id in {environment}.")
                    }
                    ApiErrorKind::OriginalTransactionIdNotFound => {
                        format!("Apple has no original transaction with this id in {environment}.")
                    }
                    ApiErrorKind::AppTransactionDoesNotExist => {
                        format!("Apple has no app transaction for this customer in {environment}.")
                    }
                    ApiErrorKind::ServerNotificationUrlNotFound => format!(
                        "No App Store Server Notifications URL is set for {environment} in App Store Connect, so Apple can't send a test notification."
                    ),
                    ApiErrorKind::TestNotificationNotFound => "Apple has no result for this test notification yet (or the token expired); try again in a minute.".to_owned(),
                    ApiErrorKind::GeneralInternal
                    | ApiErrorKind::GeneralInternalRetryable => {
                        format!("Apple's server had an error ({environment}).")
                    }
                    ApiErrorKind::RateLimitExceeded => {
                        "Apple's rate limit for this endpoint was reached; try again later.".to_owned()
                    }
                    ApiErrorKind::Unknown(code) => format!(
                        "Apple refused the request with error code {code} (HTTP {status}), which storedesk does not know."
                    ),
                    kind if *status >= 500 => {
                        format!("Apple's server had an error: {}.", kind.description())
                    }
                    kind => format!("Apple refused the request: {}.", kind.description()),
                };
                format!("{base}{}", retried(*retries))
            }
            AppleError::RateLimited { retry_at_ms } => match retry_at_ms
                .and_then(chrono::DateTime::from_timestamp_millis)
            {
                Some(at) => format!(
                    "Apple's rate limit for this endpoint was reached; try again after {} UTC.",
                    at.format("%H:%M")
                ),
                None => "Apple's rate limit for this endpoint was reached; try again later."
                    .to_owned(),
            },
            AppleError::BudgetExhausted {
                environment,
                endpoint,
                retry_at_ms,
            } => {
                let at = chrono::DateTime::from_timestamp_millis(*retry_at_ms)
                    .map(|at| at.format("%H:%M UTC").to_string())
                    .unwrap_or_else(|| "the next hour".to_owned());
                format!(
                    "storedesk held this call back: this hour's share of Apple's rate limit for {endpoint} in {environment} is used up (all storedesk instances share it), and going over would get the key throttled by Apple. Try again after {at}."
                )
            }
            AppleError::Timeout { retries } => format!(
                "Apple did not answer in time.{} Try again later.",
                retried(*retries)
            ),
            AppleError::NoAnswer { within } => format!(
                "{} Nothing was changed; try again in a minute.",
                silence(*within)
            ),
            AppleError::Network { retries, .. } => format!(
                "storedesk could not reach Apple (network error).{} Check the server's connection and try again.",
                retried(*retries)
            ),
            AppleError::MalformedResponse(_) => {
                "Apple's answer was not in the expected format.".to_owned()
            }
            AppleError::HttpStatus { status, retries } if *status >= 500 => format!(
                "Apple's server had an error (HTTP {status}).{}",
                retried(*retries)
            ),
            AppleError::HttpStatus { status, .. } => {
                format!("Apple refused the request (HTTP {status}).")
            }
            AppleError::Request(_) => {
                "The request to Apple could not be prepared; check the stored key.".to_owned()
            }
        }
    }

    /// Apple's errorCode, when the answer carried one.
    pub fn code(&self) -> Option<i64> {
        match self {
            AppleError::Api { code, .. } => Some(*code),
            AppleError::RateLimited { .. } => Some(4_290_000),
            _ => None,
        }
    }

    /// The HTTP status Apple answered with, if it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            AppleError::Unauthorized { .. } => Some(401),
            AppleError::Api { status, .. } | AppleError::HttpStatus { status, .. } => Some(*status),
            AppleError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again (the client already retried a few times).
    pub fn is_retryable(&self) -> bool {
        match self {
            AppleError::Api { kind, status, .. } => kind.is_retryable() || *status >= 500,
            AppleError::HttpStatus { status, .. } => *status >= 500,
            AppleError::Timeout { .. }
            | AppleError::NoAnswer { .. }
            | AppleError::Network { .. } => true,
            AppleError::Unauthorized { .. }
            | AppleError::RateLimited { .. }
            | AppleError::BudgetExhausted { .. }
            | AppleError::MalformedResponse(_)
            | AppleError::Request(_) => false,
        }
    }

    /// "Not found" in the sense of Apple's environment fallback: try the other environment.
    pub fn is_not_found_in_environment(&self) -> bool {
        matches!(
            self,
            AppleError::Api {
                kind: ApiErrorKind::TransactionIdNotFound
                    | ApiErrorKind::OriginalTransactionIdNotFound,
                ..
            }
        )
    }

    pub(crate) fn with_retries(self, n: u32) -> Self {
        match self {
            AppleError::Api {
                status,
                code,
                kind,
                environment,
                ..
            } => AppleError::Api {
                status,
                code,
                kind,
                environment,
                retries: n,
            },
            AppleError::Timeout { .. } => AppleError::Timeout { retries: n },
            AppleError::Network { detail, .. } => AppleError::Network { detail, retries: n },
            AppleError::HttpStatus { status, .. } => AppleError::HttpStatus { status, retries: n },
            other => other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_stays_raw() {
        for code in [
            4000006, 4040010, 4290000, 5000001, 4000187, 4030007, 4090001,
        ] {
            let kind = ApiErrorKind::from_code(code);
            assert!(!matches!(kind, ApiErrorKind::Unknown(_)), "{code}");
            assert_eq!(kind.code(), code);
        }
        assert_eq!(
            ApiErrorKind::from_code(9990000),
            ApiErrorKind::Unknown(9990000)
        );
        assert_eq!(ApiErrorKind::from_code(9990000).code(), 9990000);
        assert_eq!(
            ApiErrorKind::from_code(4040010).name(),
            "TRANSACTION_ID_NOT_FOUND"
        );
    }

    #[test]
    fn retryable_codes() {
        for code in [5000001, 4040002, 4040004, 4040006, 5000000] {
            assert!(ApiErrorKind::from_code(code).is_retryable(), "{code}");
        }
        for code in [4040010, 4000006, 4290000, 4040005] {
            assert!(!ApiErrorKind::from_code(code).is_retryable(), "{code}");
        }
        assert!(AppleError::Timeout { retries: 0 }.is_retryable());
        assert!(!AppleError::Unauthorized {
            environment: Environment::Sandbox
        }
        .is_retryable());
    }

    fn api(code: i64, env: Environment, retries: u32) -> AppleError {
        AppleError::Api {
            status: (code / 10_000) as u16,
            code,
            kind: ApiErrorKind::from_code(code),
            environment: env,
            retries,
        }
    }

    #[test]
    fn silence_says_the_bound_in_words() {
        use std::time::Duration;
        assert_eq!(
            silence(Duration::from_secs(15)),
            "Apple did not answer within 15 seconds."
        );
        assert_eq!(
            silence(Duration::from_secs(1)),
            "Apple did not answer within 1 second."
        );
        assert_eq!(
            silence(Duration::from_millis(2500)),
            "Apple did not answer within 2.5 seconds."
        );
        let e = AppleError::NoAnswer {
            within: Duration::from_secs(15),
        };
        assert_eq!(
            e.sentence(),
            "Apple did not answer within 15 seconds. Nothing was changed; try again in a minute."
        );
        assert!(e.is_retryable());
        assert_eq!((e.code(), e.http_status()), (None, None));
    }

    #[test]
    fn sentences_are_for_people() {
        assert_eq!(
            api(4040010, Environment::Sandbox, 0).sentence(),
            "Apple has no transaction with this id in Sandbox."
        );
        assert!(AppleError::Unauthorized {
            environment: Environment::Production
        }
        .sentence()
        .starts_with("Apple refused our credentials (HTTP 401)"));
        assert_eq!(
            AppleError::RateLimited {
                retry_at_ms: Some(1_700_000_000_000)
            }
            .sentence(),
            "Apple's rate limit for this endpoint was reached; try again after 22:13 UTC."
        );
        assert_eq!(
            api(5000001, Environment::Production, 2).sentence(),
            "Apple's server had an error (Production). It was retried 2 times."
        );
        assert!(api(9990000, Environment::Sandbox, 0)
            .sentence()
            .contains("9990000"));
        assert_eq!(api(9990000, Environment::Sandbox, 0).code(), Some(9990000));
        assert_eq!(
            AppleError::HttpStatus {
                status: 503,
                retries: 1
            }
            .sentence(),
            "Apple's server had an error (HTTP 503). It was retried once."
        );
    }
}
