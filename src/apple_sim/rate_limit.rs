//! Apple's per-app, per-endpoint quotas: stated per second, enforced over an hour; sandbox gets 10 %.

use std::collections::HashMap;

use super::SimEnvironment;

const HOUR_MS: i64 = 3_600_000;

/// Each endpoint of the API, for rate limits and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    GetTransactionInfo,
    GetTransactionHistory,
    GetTransactionHistoryV1,
    GetAllSubscriptionStatuses,
    GetRefundHistory,
    LookUpOrderId,
    SendConsumptionInformation,
    SendConsumptionInformationV1,
    ExtendSubscriptionRenewalDate,
    MassExtendRenewalDate,
    GetMassExtendStatus,
    RequestTestNotification,
    GetTestNotificationStatus,
    GetNotificationHistory,
    SetAppAccountToken,
    GetAppTransactionInfo,
    FinishTransaction,
}

impl Endpoint {
    /// Production requests per second from Apple's "Identifying rate limits" page.
    fn per_second(self) -> u64 {
        match self {
            Self::GetTransactionInfo
            | Self::GetTransactionHistory
            | Self::GetTransactionHistoryV1
            | Self::GetAllSubscriptionStatuses
            | Self::SendConsumptionInformation
            | Self::SendConsumptionInformationV1
            | Self::GetNotificationHistory
            | Self::GetAppTransactionInfo
            | Self::FinishTransaction => 50,
            Self::ExtendSubscriptionRenewalDate | Self::SetAppAccountToken => 20,
            Self::LookUpOrderId | Self::GetRefundHistory => 10,
            // Apple does not list the mass-extension status endpoint; it gets the mass endpoint's limit.
            Self::MassExtendRenewalDate
            | Self::GetMassExtendStatus
            | Self::RequestTestNotification
            | Self::GetTestNotificationStatus => 1,
        }
    }
}

pub(crate) struct RateLimiter {
    production_budget_override: Option<u64>,
    windows: HashMap<(SimEnvironment, Endpoint), (i64, u64)>,
}

impl RateLimiter {
    pub(crate) fn new(production_budget_override: Option<u64>) -> Self {
        Self {
            production_budget_override,
            windows: HashMap::new(),
        }
    }

    fn budget(&self, env: SimEnvironment, endpoint: Endpoint) -> u64 {
        let production = self
            .production_budget_override
            .unwrap_or(endpoint.per_second() * 3600);
        match env {
            SimEnvironment::Production => production,
            SimEnvironment::Sandbox => (production / 10).max(1),
        }
    }

    /// Counts one call; `Err(retry_at_ms)` when the hourly budget is spent.
    pub(crate) fn check(
        &mut self,
        env: SimEnvironment,
        endpoint: Endpoint,
        now_ms: i64,
    ) -> Result<(), i64> {
        let budget = self.budget(env, endpoint);
        let window = self.windows.entry((env, endpoint)).or_insert((now_ms, 0));
        if now_ms - window.0 >= HOUR_MS {
            *window = (now_ms, 0);
        }
        if window.1 >= budget {
            return Err(window.0 + HOUR_MS);
        }
        window.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_gets_a_tenth_of_production_and_the_window_resets_after_an_hour() {
        let mut rl = RateLimiter::new(Some(20));
        for _ in 0..20 {
            assert!(rl
                .check(
                    SimEnvironment::Production,
                    Endpoint::GetTransactionInfo,
                    1_000
                )
                .is_ok());
        }
        assert_eq!(
            rl.check(
                SimEnvironment::Production,
                Endpoint::GetTransactionInfo,
                2_000
            ),
            Err(1_000 + HOUR_MS)
        );
        assert!(rl
            .check(SimEnvironment::Sandbox, Endpoint::GetTransactionInfo, 2_000)
            .is_ok());
        assert!(rl
            .check(SimEnvironment::Sandbox, Endpoint::GetTransactionInfo, 2_000)
            .is_ok());
        assert!(rl
            .check(SimEnvironment::Sandbox, Endpoint::GetTransactionInfo, 2_000)
            .is_err());
        assert!(rl
            .check(
                SimEnvironment::Production,
                Endpoint::GetTransactionInfo,
                1_000 + HOUR_MS
            )
            .is_ok());
    }

    #[test]
    fn default_budgets_follow_apple() {
        let rl = RateLimiter::new(None);
        assert_eq!(
            rl.budget(SimEnvironment::Production, Endpoint::GetTransactionInfo),
            180_000
        );
        assert_eq!(
            rl.budget(SimEnvironment::Sandbox, Endpoint::RequestTestNotification),
            360
        );
    }
}
