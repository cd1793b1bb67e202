//! Apple's error answers: `{"errorCode","errorMessage"}` JSON, the plain-text 401 and the 429 with Retry-After.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use rand::Rng as _;

// Codes used by the simulator, named as in Apple's library enum.
pub(crate) const GENERAL_BAD_REQUEST: i64 = 4_000_000;
pub(crate) const INVALID_REQUEST_REVISION: i64 = 4_000_005;
pub(crate) const INVALID_TRANSACTION_ID: i64 = 4_000_006;
pub(crate) const INVALID_ORIGINAL_TRANSACTION_ID: i64 = 4_000_008;
pub(crate) const INVALID_EXTEND_BY_DAYS: i64 = 4_000_009;
pub(crate) const INVALID_EXTEND_REASON_CODE: i64 = 4_000_010;
pub(crate) const INVALID_REQUEST_IDENTIFIER: i64 = 4_000_011;
pub(crate) const START_DATE_TOO_FAR_IN_PAST: i64 = 4_000_012;
pub(crate) const START_DATE_AFTER_END_DATE: i64 = 4_000_013;
pub(crate) const INVALID_PAGINATION_TOKEN: i64 = 4_000_014;
pub(crate) const INVALID_START_DATE: i64 = 4_000_015;
pub(crate) const INVALID_END_DATE: i64 = 4_000_016;
pub(crate) const PAGINATION_TOKEN_EXPIRED: i64 = 4_000_017;
pub(crate) const INVALID_NOTIFICATION_TYPE: i64 = 4_000_018;
pub(crate) const MULTIPLE_FILTERS_SUPPLIED: i64 = 4_000_019;
pub(crate) const INVALID_TEST_NOTIFICATION_TOKEN: i64 = 4_000_020;
pub(crate) const INVALID_SORT: i64 = 4_000_021;
pub(crate) const INVALID_PRODUCT_TYPE: i64 = 4_000_022;
pub(crate) const INVALID_PRODUCT_ID: i64 = 4_000_023;
pub(crate) const INVALID_SUBSCRIPTION_GROUP_IDENTIFIER: i64 = 4_000_024;
pub(crate) const INVALID_EXCLUDE_REVOKED: i64 = 4_000_025;
pub(crate) const INVALID_IN_APP_OWNERSHIP_TYPE: i64 = 4_000_026;
pub(crate) const INVALID_EMPTY_STOREFRONT_COUNTRY_CODE_LIST: i64 = 4_000_027;
pub(crate) const INVALID_STOREFRONT_COUNTRY_CODE: i64 = 4_000_028;
pub(crate) const INVALID_REVOKED: i64 = 4_000_030;
pub(crate) const INVALID_STATUS: i64 = 4_000_031;
pub(crate) const INVALID_ACCOUNT_TENURE: i64 = 4_000_032;
pub(crate) const INVALID_APP_ACCOUNT_TOKEN: i64 = 4_000_033;
pub(crate) const INVALID_CONSUMPTION_STATUS: i64 = 4_000_034;
pub(crate) const INVALID_CUSTOMER_CONSENTED: i64 = 4_000_035;
pub(crate) const INVALID_DELIVERY_STATUS: i64 = 4_000_036;
pub(crate) const INVALID_LIFETIME_DOLLARS_PURCHASED: i64 = 4_000_037;
pub(crate) const INVALID_LIFETIME_DOLLARS_REFUNDED: i64 = 4_000_038;
pub(crate) const INVALID_PLATFORM: i64 = 4_000_039;
pub(crate) const INVALID_PLAY_TIME: i64 = 4_000_040;
pub(crate) const INVALID_SAMPLE_CONTENT_PROVIDED: i64 = 4_000_041;
pub(crate) const INVALID_USER_STATUS: i64 = 4_000_042;
pub(crate) const INVALID_REFUND_PREFERENCE: i64 = 4_000_044;
pub(crate) const APP_TRANSACTION_ID_NOT_SUPPORTED: i64 = 4_000_048;
pub(crate) const INVALID_APP_ACCOUNT_TOKEN_UUID: i64 = 4_000_183;
pub(crate) const FAMILY_TRANSACTION_NOT_SUPPORTED: i64 = 4_000_185;
pub(crate) const TRANSACTION_ID_IS_NOT_ORIGINAL: i64 = 4_000_187;
pub(crate) const CONSUMPTION_PERCENTAGE_AUTO_RENEWABLE: i64 = 4_000_209;
pub(crate) const SUBSCRIPTION_EXTENSION_INELIGIBLE: i64 = 4_030_004;
pub(crate) const SUBSCRIPTION_MAX_EXTENSION: i64 = 4_030_005;
pub(crate) const FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE: i64 = 4_030_007;
pub(crate) const ORIGINAL_TRANSACTION_ID_NOT_FOUND: i64 = 4_040_005;
pub(crate) const SERVER_NOTIFICATION_URL_NOT_FOUND: i64 = 4_040_007;
pub(crate) const TEST_NOTIFICATION_NOT_FOUND: i64 = 4_040_008;
pub(crate) const STATUS_REQUEST_NOT_FOUND: i64 = 4_040_009;
pub(crate) const TRANSACTION_ID_NOT_FOUND: i64 = 4_040_010;
pub(crate) const APP_TRANSACTION_DOES_NOT_EXIST: i64 = 4_040_019;
pub(crate) const RATE_LIMIT_EXCEEDED: i64 = 4_290_000;
pub(crate) const GENERAL_INTERNAL: i64 = 5_000_000;

/// Message texts: exact where the official test vectors pin them, otherwise the wording third-party SDKs
/// recorded. Clients must branch on the code only.
pub(crate) fn message(code: i64) -> &'static str {
    match code {
        GENERAL_BAD_REQUEST => "Bad request.",
        4_000_002 => "Invalid request app identifier.",
        INVALID_REQUEST_REVISION => "Invalid request revision.",
        INVALID_TRANSACTION_ID => "Invalid transaction id.",
        INVALID_ORIGINAL_TRANSACTION_ID => "Invalid original transaction id.",
        INVALID_EXTEND_BY_DAYS => "Invalid extend by days value.",
        INVALID_EXTEND_REASON_CODE => "Invalid extend reason code.",
        INVALID_REQUEST_IDENTIFIER => "Invalid request identifier.",
        START_DATE_TOO_FAR_IN_PAST => {
            "Invalid request. The start date is earlier than the allowed start date."
        }
        START_DATE_AFTER_END_DATE => {
            "Invalid request. The end date precedes the start date or the dates are the same."
        }
        INVALID_PAGINATION_TOKEN => "Invalid request. The pagination token is invalid.",
        INVALID_START_DATE => {
            "Invalid request. The start date is not a timestamp value represented in milliseconds."
        }
        INVALID_END_DATE => {
            "Invalid request. The end date is not a timestamp value represented in milliseconds."
        }
        PAGINATION_TOKEN_EXPIRED => "Invalid request. The pagination token is expired.",
        INVALID_NOTIFICATION_TYPE => "Invalid request. The notification type or subtype is invalid.",
        MULTIPLE_FILTERS_SUPPLIED => {
            "Invalid request. Supply either a transaction id or a notification type, but not both."
        }
        INVALID_TEST_NOTIFICATION_TOKEN => "Invalid request. The test notification token is invalid.",
        INVALID_SORT => "Invalid request. The sort parameter is invalid.",
        INVALID_PRODUCT_TYPE => "Invalid request. The product type parameter is invalid.",
        INVALID_PRODUCT_ID => "Invalid request. The product id parameter is invalid.",
        INVALID_SUBSCRIPTION_GROUP_IDENTIFIER => {
            "Invalid request. The subscription group identifier parameter is invalid."
        }
        INVALID_EXCLUDE_REVOKED => "Invalid request. The exclude revoked parameter is invalid.",
        INVALID_IN_APP_OWNERSHIP_TYPE => {
            "Invalid request. The in-app ownership type parameter is invalid."
        }
        INVALID_EMPTY_STOREFRONT_COUNTRY_CODE_LIST => {
            "Invalid request. If provided, the list of storefront country codes must not be empty."
        }
        INVALID_STOREFRONT_COUNTRY_CODE => {
            "Invalid request. A storefront country code was invalid."
        }
        INVALID_REVOKED => "Invalid request. The revoked parameter is invalid.",
        INVALID_STATUS => "Invalid request. The status parameter is invalid.",
        INVALID_ACCOUNT_TENURE => "Invalid request. The account tenure field is invalid.",
        INVALID_APP_ACCOUNT_TOKEN => {
            "Invalid request. The app account token field must contain a valid UUID or an empty string."
        }
        INVALID_CONSUMPTION_STATUS => "Invalid request. The consumption status field is invalid.",
        INVALID_CUSTOMER_CONSENTED => {
            "Invalid request. The customer consented field is required and must indicate the customer consented."
        }
        INVALID_DELIVERY_STATUS => "Invalid request. The delivery status field is invalid.",
        INVALID_LIFETIME_DOLLARS_PURCHASED => {
            "Invalid request. The lifetime dollars purchased field is invalid."
        }
        INVALID_LIFETIME_DOLLARS_REFUNDED => {
            "Invalid request. The lifetime dollars refunded field is invalid."
        }
        INVALID_PLATFORM => "Invalid request. The platform field is invalid.",
        INVALID_PLAY_TIME => "Invalid request. The playtime field is invalid.",
        INVALID_SAMPLE_CONTENT_PROVIDED => {
            "Invalid request. The sample content provided field is invalid."
        }
        INVALID_USER_STATUS => "Invalid request. The user status field is invalid.",
        INVALID_REFUND_PREFERENCE => "Invalid request. The refund preference field is invalid.",
        APP_TRANSACTION_ID_NOT_SUPPORTED => {
            "Invalid request. App transactions aren't supported by this endpoint."
        }
        INVALID_APP_ACCOUNT_TOKEN_UUID => {
            "Invalid request. The app account token field must be a valid UUID."
        }
        FAMILY_TRANSACTION_NOT_SUPPORTED => {
            "Invalid request. Family Sharing transactions aren't supported by this endpoint."
        }
        TRANSACTION_ID_IS_NOT_ORIGINAL => {
            "Invalid request. The transaction ID provided is not an original transaction ID."
        }
        CONSUMPTION_PERCENTAGE_AUTO_RENEWABLE => {
            "Invalid request. The consumption percentage field is not supported for auto-renewable subscription transactions."
        }
        SUBSCRIPTION_EXTENSION_INELIGIBLE => "Forbidden - subscription state ineligible for extension.",
        SUBSCRIPTION_MAX_EXTENSION => "Forbidden - subscription has reached maximum extension count.",
        FAMILY_SHARED_SUBSCRIPTION_EXTENSION_INELIGIBLE => {
            "Forbidden - Family Sharing subscriptions can't be extended."
        }
        4_040_001 => "Account not found.",
        4_040_002 => "Account not found. Please try again.",
        4_040_003 => "App not found.",
        4_040_004 => "App not found. Please try again.",
        ORIGINAL_TRANSACTION_ID_NOT_FOUND => "Original transaction id not found.",
        4_040_006 => "Original transaction id not found. Please try again.",
        SERVER_NOTIFICATION_URL_NOT_FOUND => "No App Store Server Notification URL found for provided app.",
        TEST_NOTIFICATION_NOT_FOUND => {
            "Either the test notification token is expired or the notification and status are not yet available."
        }
        STATUS_REQUEST_NOT_FOUND => "The server didn't find a subscription-renewal-date extension request for this requestIdentifier and productId combination.",
        TRANSACTION_ID_NOT_FOUND => "Transaction id not found.",
        APP_TRANSACTION_DOES_NOT_EXIST => "No AppTransaction exists for the customer.",
        RATE_LIMIT_EXCEEDED => "Rate limit exceeded.",
        GENERAL_INTERNAL => "An unknown error occurred.",
        5_000_001 => "An unknown error occurred. Please try again.",
        _ => "An error occurred.",
    }
}

/// Why an API call does not get its normal answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SimError {
    #[error("API error {0}")]
    Api(i64),
    #[error("unauthenticated")]
    Unauthenticated,
    /// `retry_at_ms` is a UNIX time in milliseconds, which is what Apple's Retry-After carries.
    #[error("rate limited until {retry_at_ms}")]
    RateLimited { retry_at_ms: i64 },
    #[error("garbage response (injected fault)")]
    Garbage,
    #[error("a history page that never moves on (injected fault)")]
    Stuck,
    #[error("an answer of 9 MiB (injected fault)")]
    Oversized,
    #[error("HTTP {0} without an error code (injected fault)")]
    HttpStatus(u16),
}

impl SimError {
    /// HTTP status = the first three digits of the seven-digit code.
    fn api_status(code: i64) -> StatusCode {
        u16::try_from(code / 10_000)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl ResponseError for SimError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Api(code) => Self::api_status(*code),
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Garbage | Self::Stuck | Self::Oversized => StatusCode::OK,
            Self::HttpStatus(status) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Api(code) => api_error_response(*code),
            Self::Unauthenticated => unauthenticated_response(),
            Self::RateLimited { retry_at_ms } => {
                let mut resp = api_error_response(RATE_LIMIT_EXCEEDED);
                if let Ok(v) = HeaderValue::from_str(&retry_at_ms.to_string()) {
                    resp.headers_mut().insert(RETRY_AFTER, v);
                }
                resp
            }
            Self::Garbage => HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, "application/json"))
                .body("<html><body>502 Bad Gateway</body></html>\n\u{0}{\"signedTransac"),
            Self::HttpStatus(_) => HttpResponse::build(self.status_code())
                .insert_header((CONTENT_TYPE, "text/plain"))
                .body("Forbidden\n"),
            Self::Oversized => HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, "application/json"))
                .body(format!("{{{}}}", " ".repeat(9 * 1024 * 1024))),
            // Both history shapes: notifications (paginationToken) and transactions (revision).
            Self::Stuck => HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, "application/json"))
                .body(
                    serde_json::json!({
                        "notificationHistory": [], "paginationToken": "stuck",
                        "signedTransactions": [], "revision": "stuck", "hasMore": true,
                    })
                    .to_string(),
                ),
        }
    }
}

pub(crate) fn api_error_response(code: i64) -> HttpResponse {
    let body = serde_json::json!({ "errorCode": code, "errorMessage": message(code) });
    // Exactly `application/json`: Apple's Python client ignores the body when a charset follows.
    HttpResponse::build(SimError::api_status(code))
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body.to_string())
}

/// Apple's 401 is plain text with a request id, never a JSON error code.
pub(crate) fn unauthenticated_response() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((CONTENT_TYPE, "text/plain"))
        .insert_header(("server", "daiquiri/3.0.0"))
        .body(format!(
            "Unauthenticated\n\nRequest ID: {}.0.0\n",
            request_id()
        ))
}

fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    (0..26)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

pub(crate) type ApiResult<T> = Result<T, SimError>;

pub(crate) fn api(code: i64) -> SimError {
    SimError::Api(code)
}
