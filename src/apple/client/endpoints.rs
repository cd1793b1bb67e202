//! One method per endpoint of the App Store Server API, plus the "any environment" forms that ask Production
//! first and Sandbox on "not found".

use app_store_server_library::models::app_transaction_info_response::AppTransactionInfoResponse;
use app_store_server_library::models::check_test_notification_response::CheckTestNotificationResponse;
use app_store_server_library::models::consumption_request::ConsumptionRequest;
use app_store_server_library::models::extend_renewal_date_request::ExtendRenewalDateRequest;
use app_store_server_library::models::extend_renewal_date_response::ExtendRenewalDateResponse;
use app_store_server_library::models::history_response::HistoryResponse;
use app_store_server_library::models::in_app_ownership_type::InAppOwnershipType;
use app_store_server_library::models::mass_extend_renewal_date_request::MassExtendRenewalDateRequest;
use app_store_server_library::models::mass_extend_renewal_date_response::MassExtendRenewalDateResponse;
use app_store_server_library::models::mass_extend_renewal_date_status_response::MassExtendRenewalDateStatusResponse;
use app_store_server_library::models::notification_history_request::NotificationHistoryRequest;
use app_store_server_library::models::notification_history_response::NotificationHistoryResponse;
use app_store_server_library::models::order_lookup_response::OrderLookupResponse;
use app_store_server_library::models::refund_history_response::RefundHistoryResponse;
use app_store_server_library::models::send_test_notification_response::SendTestNotificationResponse;
use app_store_server_library::models::status_response::StatusResponse;
use app_store_server_library::models::transaction_history_request::{Order, ProductType};
use app_store_server_library::models::transaction_info_response::TransactionInfoResponse;
use reqwest::Method;

use super::http::json_body;
use super::{with_fallback, Answered, ApiCredentials, AppleClient};
use crate::apple::budget::Endpoint;
use crate::apple::error::AppleError;
use crate::apple::Environment;
use crate::domain::TransactionId;

/// Filters of Get Transaction History (v2). Dates are UNIX milliseconds.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// The token from the previous page; send the same filters again with it.
    pub revision: Option<String>,
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub product_ids: Vec<String>,
    pub product_types: Vec<ProductType>,
    pub subscription_group_ids: Vec<String>,
    pub ownership: Option<InAppOwnershipType>,
    pub revoked: Option<bool>,
    pub sort: Option<Order>,
}

impl HistoryQuery {
    pub(super) fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(r) = &self.revision {
            q.push(("revision", r.clone()));
        }
        if let Some(d) = self.start_date {
            q.push(("startDate", d.to_string()));
        }
        if let Some(d) = self.end_date {
            q.push(("endDate", d.to_string()));
        }
        for p in &self.product_ids {
            q.push(("productId", p.clone()));
        }
        for t in &self.product_types {
            q.push(("productType", t.raw_value().to_owned()));
        }
        if let Some(s) = &self.sort {
            q.push(("sort", s.raw_value().to_owned()));
        }
        for g in &self.subscription_group_ids {
            q.push(("subscriptionGroupIdentifier", g.clone()));
        }
        if let Some(o) = &self.ownership {
            q.push(("inAppOwnershipType", o.raw_value().to_owned()));
        }
        if let Some(r) = self.revoked {
            q.push(("revoked", r.to_string()));
        }
        q
    }
}

impl AppleClient {
    /// GET /inApps/v1/transactions/{transactionId}
    pub async fn get_transaction_info(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &TransactionId,
    ) -> Result<TransactionInfoResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v1", "transactions", transaction_id.as_str()],
            &[],
            None,
        )
        .await
    }

    /// GET /inApps/v2/history/{transactionId}: all product types, finished consumables included.
    pub async fn get_transaction_history(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &TransactionId,
        query: &HistoryQuery,
    ) -> Result<HistoryResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v2", "history", transaction_id.as_str()],
            &query.to_pairs(),
            None,
        )
        .await
    }

    /// GET /inApps/v1/subscriptions/{transactionId}; `statuses` (1..5) filters, empty means all.
    pub async fn get_all_subscription_statuses(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &TransactionId,
        statuses: &[i32],
    ) -> Result<StatusResponse, AppleError> {
        let query: Vec<(&str, String)> =
            statuses.iter().map(|s| ("status", s.to_string())).collect();
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v1", "subscriptions", transaction_id.as_str()],
            &query,
            None,
        )
        .await
    }

    /// GET /inApps/v2/refund/lookup/{transactionId}
    pub async fn get_refund_history(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &TransactionId,
        revision: Option<&str>,
    ) -> Result<RefundHistoryResponse, AppleError> {
        let query: Vec<(&str, String)> = revision
            .map(|r| vec![("revision", r.to_owned())])
            .unwrap_or_default();
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v2", "refund", "lookup", transaction_id.as_str()],
            &query,
            None,
        )
        .await
    }

    /// GET /inApps/v1/lookup/{orderId}. An unknown order is a 200 with status 1, not an error.
    pub async fn look_up_order_id(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        order_id: &str,
    ) -> Result<OrderLookupResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &["inApps", "v1", "lookup", order_id],
            &[],
            None,
        )
        .await
    }

    /// GET /inApps/v1/transactions/appTransactions/{transactionId}
    pub async fn get_app_transaction_info(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &TransactionId,
    ) -> Result<AppTransactionInfoResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &[
                "inApps",
                "v1",
                "transactions",
                "appTransactions",
                transaction_id.as_str(),
            ],
            &[],
            None,
        )
        .await
    }

    /// POST /inApps/v1/notifications/history[?paginationToken=…]
    pub async fn get_notification_history(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        request: &NotificationHistoryRequest,
        pagination_token: Option<&str>,
    ) -> Result<NotificationHistoryResponse, AppleError> {
        let query: Vec<(&str, String)> = pagination_token
            .map(|t| vec![("paginationToken", t.to_owned())])
            .unwrap_or_default();
        self.get_json(
            creds,
            env,
            Method::POST,
            &["inApps", "v1", "notifications", "history"],
            &query,
            Some(json_body(request)?),
        )
        .await
    }

    /// POST /inApps/v1/notifications/test (no body). Apple sends the TEST notification to the URL set for
    /// the environment called.
    pub async fn request_test_notification(
        &self,
        creds: &ApiCredentials,
        env: Environment,
    ) -> Result<SendTestNotificationResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::POST,
            &["inApps", "v1", "notifications", "test"],
            &[],
            None,
        )
        .await
    }

    /// GET /inApps/v1/notifications/test/{testNotificationToken}
    pub async fn get_test_notification_status(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        test_notification_token: &str,
    ) -> Result<CheckTestNotificationResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &[
                "inApps",
                "v1",
                "notifications",
                "test",
                test_notification_token,
            ],
            &[],
            None,
        )
        .await
    }

    /// PUT /inApps/v2/transactions/consumption/{transactionId}; Apple answers 202 with no body.
    pub async fn send_consumption_information(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        transaction_id: &TransactionId,
        request: &ConsumptionRequest,
    ) -> Result<(), AppleError> {
        let url = self.url(
            env,
            &[
                "inApps",
                "v2",
                "transactions",
                "consumption",
                transaction_id.as_str(),
            ],
            &[],
        )?;
        self.send(
            creds,
            env,
            Method::PUT,
            url,
            Some(json_body(request)?),
            Endpoint::ConsumptionInformation,
        )
        .await
        .map(|_| ())
    }

    /// PUT /inApps/v1/subscriptions/extend/{originalTransactionId}. Sent once, never retried: Apple may have applied
    /// an extension whose answer was lost, and allows only two a year. A person tries again with the same
    /// `requestIdentifier`, which Apple applies only once.
    pub async fn extend_subscription_renewal_date(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        original_transaction_id: &TransactionId,
        request: &ExtendRenewalDateRequest,
    ) -> Result<ExtendRenewalDateResponse, AppleError> {
        let segments = [
            "inApps",
            "v1",
            "subscriptions",
            "extend",
            original_transaction_id.as_str(),
        ];
        let url = self.url(env, &segments, &[])?;
        let endpoint = Endpoint::of(&Method::PUT, &segments);
        let bytes = self
            .send_with(
                creds,
                env,
                Method::PUT,
                url,
                Some(json_body(request)?),
                endpoint,
                super::http::Retries::Never,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| AppleError::MalformedResponse(e.to_string()))
    }

    /// POST /inApps/v1/subscriptions/extend/mass: every active subscriber of a product. Sent once, never retried,
    /// for the same reason as the single extension; the same `requestIdentifier` sent again is answered 200 without
    /// starting the work twice.
    pub async fn mass_extend_renewal_date(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        request: &MassExtendRenewalDateRequest,
    ) -> Result<MassExtendRenewalDateResponse, AppleError> {
        let segments = ["inApps", "v1", "subscriptions", "extend", "mass"];
        let url = self.url(env, &segments, &[])?;
        let bytes = self
            .send_with(
                creds,
                env,
                Method::POST,
                url,
                Some(json_body(request)?),
                Endpoint::of(&Method::POST, &segments),
                super::http::Retries::Never,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| AppleError::MalformedResponse(e.to_string()))
    }

    /// GET /inApps/v1/subscriptions/extend/mass/{productId}/{requestIdentifier}: how far Apple got.
    pub async fn mass_extension_status(
        &self,
        creds: &ApiCredentials,
        env: Environment,
        product_id: &str,
        request_identifier: &str,
    ) -> Result<MassExtendRenewalDateStatusResponse, AppleError> {
        self.get_json(
            creds,
            env,
            Method::GET,
            &[
                "inApps",
                "v1",
                "subscriptions",
                "extend",
                "mass",
                product_id,
                request_identifier,
            ],
            &[],
            None,
        )
        .await
    }

    pub async fn get_transaction_info_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &TransactionId,
    ) -> Result<Answered<TransactionInfoResponse>, AppleError> {
        with_fallback(|env| self.get_transaction_info(creds, env, transaction_id)).await
    }

    pub async fn get_transaction_history_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &TransactionId,
        query: &HistoryQuery,
    ) -> Result<Answered<HistoryResponse>, AppleError> {
        with_fallback(|env| self.get_transaction_history(creds, env, transaction_id, query)).await
    }

    pub async fn get_all_subscription_statuses_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &TransactionId,
        statuses: &[i32],
    ) -> Result<Answered<StatusResponse>, AppleError> {
        with_fallback(|env| {
            self.get_all_subscription_statuses(creds, env, transaction_id, statuses)
        })
        .await
    }

    pub async fn get_refund_history_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &TransactionId,
        revision: Option<&str>,
    ) -> Result<Answered<RefundHistoryResponse>, AppleError> {
        with_fallback(|env| self.get_refund_history(creds, env, transaction_id, revision)).await
    }

    pub async fn get_app_transaction_info_any_env(
        &self,
        creds: &ApiCredentials,
        transaction_id: &TransactionId,
    ) -> Result<Answered<AppTransactionInfoResponse>, AppleError> {
        with_fallback(|env| self.get_app_transaction_info(creds, env, transaction_id)).await
    }
}
