//! Apple's rate limits, kept on our side: every call takes one unit of an hourly budget per app, endpoint and
//! environment before it is sent. The counter lives wherever the `CallBudget` implementation keeps it (the
//! database, so every instance sharing it draws from one budget); a call the budget refuses is never sent, so
//! Apple never sees us over the limit and never throttles the key.
use std::future::Future;
use std::pin::Pin;

use reqwest::Method;

use super::Environment;

/// The endpoints with their own limit, as Apple lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    TransactionInfo,
    AppTransactionInfo,
    TransactionHistory,
    SubscriptionStatuses,
    ExtendRenewalDate,
    RefundHistory,
    LookUpOrderId,
    NotificationHistory,
    RequestTestNotification,
    TestNotificationStatus,
    ConsumptionInformation,
    Other,
}

impl Endpoint {
    /// Recognises the endpoint from the method and the path segments after the base URL.
    pub fn of(method: &Method, segments: &[&str]) -> Endpoint {
        let rest = segments.get(2..).unwrap_or_default();
        match (method.as_str(), rest) {
            ("GET", ["transactions", "appTransactions", _]) => Endpoint::AppTransactionInfo,
            ("GET", ["transactions", _]) => Endpoint::TransactionInfo,
            ("GET", ["history", _]) => Endpoint::TransactionHistory,
            ("PUT", ["subscriptions", "extend", _]) => Endpoint::ExtendRenewalDate,
            ("GET", ["subscriptions", _]) => Endpoint::SubscriptionStatuses,
            ("GET", ["refund", "lookup", _]) => Endpoint::RefundHistory,
            ("GET", ["lookup", _]) => Endpoint::LookUpOrderId,
            ("POST", ["notifications", "history"]) => Endpoint::NotificationHistory,
            ("POST", ["notifications", "test"]) => Endpoint::RequestTestNotification,
            ("GET", ["notifications", "test", _]) => Endpoint::TestNotificationStatus,
            ("PUT", ["transactions", "consumption", _]) => Endpoint::ConsumptionInformation,
            _ => Endpoint::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::TransactionInfo => "Get Transaction Info",
            Endpoint::AppTransactionInfo => "Get App Transaction Info",
            Endpoint::TransactionHistory => "Get Transaction History",
            Endpoint::SubscriptionStatuses => "Get All Subscription Statuses",
            Endpoint::ExtendRenewalDate => "Extend a Subscription Renewal Date",
            Endpoint::RefundHistory => "Get Refund History",
            Endpoint::LookUpOrderId => "Look Up Order ID",
            Endpoint::NotificationHistory => "Get Notification History",
            Endpoint::RequestTestNotification => "Request a Test Notification",
            Endpoint::TestNotificationStatus => "Get Test Notification Status",
            Endpoint::ConsumptionInformation => "Send Consumption Information",
            Endpoint::Other => "other",
        }
    }

    /// Apple's published Production limit in requests per second (enforced per hour).
    pub fn production_per_second(self) -> u64 {
        match self {
            Endpoint::TransactionInfo
            | Endpoint::AppTransactionInfo
            | Endpoint::TransactionHistory
            | Endpoint::SubscriptionStatuses
            | Endpoint::NotificationHistory
            | Endpoint::ConsumptionInformation => 50,
            Endpoint::ExtendRenewalDate => 20,
            Endpoint::RefundHistory | Endpoint::LookUpOrderId => 10,
            Endpoint::RequestTestNotification
            | Endpoint::TestNotificationStatus
            | Endpoint::Other => 1,
        }
    }

    /// Calls allowed per hour: Apple's quota (a tenth in Sandbox) less a margin of 10 %, so that a clock
    /// difference between Apple's hour and ours can't push us over. `override_per_hour` replaces Apple's figure.
    pub fn hourly_budget(self, env: Environment, override_per_hour: Option<u64>) -> u64 {
        let apple = override_per_hour.unwrap_or(self.production_per_second() * 3600);
        let apple = match env {
            Environment::Production => apple,
            Environment::Sandbox => apple / 10,
        };
        (apple * 9 / 10).max(1)
    }
}

pub const HOUR_MS: i64 = 3_600_000;

/// Where the budget is kept. `take` answers `Ok(())` when a unit was taken, `Err(retry_at_ms)` when this hour's
/// budget is spent. It must not fail the call for its own faults (it logs and lets the call through).
pub trait CallBudget: Send + Sync {
    fn take<'a>(
        &'a self,
        app: &'a str,
        env: Environment,
        endpoint: Endpoint,
    ) -> Pin<Box<dyn Future<Output = Result<(), i64>> + Send + 'a>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_recognised_from_their_paths() {
        let cases: &[(Method, &[&str], Endpoint)] = &[
            (
                Method::GET,
                &["inApps", "v1", "transactions", "1"],
                Endpoint::TransactionInfo,
            ),
            (
                Method::GET,
                &["inApps", "v1", "transactions", "appTransactions", "1"],
                Endpoint::AppTransactionInfo,
            ),
            (
                Method::GET,
                &["inApps", "v2", "history", "1"],
                Endpoint::TransactionHistory,
            ),
            (
                Method::GET,
                &["inApps", "v1", "subscriptions", "1"],
                Endpoint::SubscriptionStatuses,
            ),
            (
                Method::PUT,
                &["inApps", "v1", "subscriptions", "extend", "1"],
                Endpoint::ExtendRenewalDate,
            ),
            (
                Method::GET,
                &["inApps", "v2", "refund", "lookup", "1"],
                Endpoint::RefundHistory,
            ),
            (
                Method::GET,
                &["inApps", "v1", "lookup", "MX1"],
                Endpoint::LookUpOrderId,
            ),
            (
                Method::POST,
                &["inApps", "v1", "notifications", "history"],
                Endpoint::NotificationHistory,
            ),
            (
                Method::POST,
                &["inApps", "v1", "notifications", "test"],
                Endpoint::RequestTestNotification,
            ),
            (
                Method::GET,
                &["inApps", "v1", "notifications", "test", "tok"],
                Endpoint::TestNotificationStatus,
            ),
            (
                Method::PUT,
                &["inApps", "v2", "transactions", "consumption", "1"],
                Endpoint::ConsumptionInformation,
            ),
        ];
        for (method, segments, expected) in cases {
            assert_eq!(Endpoint::of(method, segments), *expected, "{segments:?}");
        }
    }

    #[test]
    fn sandbox_gets_a_tenth_and_we_keep_a_margin() {
        let e = Endpoint::LookUpOrderId;
        assert_eq!(e.hourly_budget(Environment::Production, None), 32_400);
        assert_eq!(e.hourly_budget(Environment::Sandbox, None), 3_240);
        assert_eq!(
            Endpoint::RequestTestNotification.hourly_budget(Environment::Sandbox, None),
            324
        );
        assert_eq!(e.hourly_budget(Environment::Production, Some(10)), 9);
        assert_eq!(e.hourly_budget(Environment::Sandbox, Some(10)), 1);
    }
}
