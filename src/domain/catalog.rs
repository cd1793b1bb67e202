//! The product catalog as App Store Connect describes it (Step 1's key): what one sync brings in, what the store
//! keeps, and the sentences that say what changed between two syncs. Pure data; the App Store Connect client
//! fills it, the store persists it, pages read it.
mod diff;

pub use diff::{changes, Change};

/// What kind of product Apple sells; App Store Connect's `inAppPurchaseType`, plus auto-renewable subscriptions
/// (a resource of their own there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductKind {
    AutoRenewable,
    NonRenewing,
    Consumable,
    NonConsumable,
}

impl ProductKind {
    /// The stored word (App Store Connect's own, so a value read back is the value Apple sent).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoRenewable => "AUTO_RENEWABLE",
            Self::NonRenewing => "NON_RENEWING_SUBSCRIPTION",
            Self::Consumable => "CONSUMABLE",
            Self::NonConsumable => "NON_CONSUMABLE",
        }
    }

    /// App Store Connect's `inAppPurchaseType` (and the stored word); `None` for a word Apple may add later.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "AUTO_RENEWABLE" => Some(Self::AutoRenewable),
            "NON_RENEWING_SUBSCRIPTION" => Some(Self::NonRenewing),
            "CONSUMABLE" => Some(Self::Consumable),
            "NON_CONSUMABLE" => Some(Self::NonConsumable),
            _ => None,
        }
    }

    /// In plain words, as App Store Connect's menus say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::AutoRenewable => "Auto-renewable subscription",
            Self::NonRenewing => "Non-renewing subscription",
            Self::Consumable => "Consumable",
            Self::NonConsumable => "Non-consumable",
        }
    }
}

/// One price of a product in one storefront, as Apple writes it (a decimal string in the storefront's currency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    /// ISO 3166-1 alpha-3, App Store Connect's territory id (`USA`).
    pub territory: String,
    /// ISO 4217 (`USD`); empty when Apple did not say.
    pub currency: String,
    pub customer_price: String,
    pub proceeds: String,
}

/// A subscription's promotional offer: the `offerCode` is the identifier an offer signature names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromoOffer {
    pub code: String,
    pub name: String,
    /// `FREE_TRIAL`, `PAY_AS_YOU_GO`, `PAY_UP_FRONT`.
    pub mode: String,
    /// `ONE_MONTH`, `THREE_MONTHS`, …
    pub duration: String,
    pub periods: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub product_id: String,
    /// App Store Connect's own id of the resource (the product's Apple ID).
    pub connect_id: String,
    /// The reference name set in App Store Connect.
    pub name: String,
    pub kind: ProductKind,
    /// `APPROVED`, `READY_TO_SUBMIT`, `REMOVED_FROM_SALE`, …; kept as Apple says it.
    pub state: String,
    /// Auto-renewable subscriptions only: the group id transactions carry as `subscriptionGroupIdentifier`.
    pub group_id: Option<String>,
    /// 1 is the group's highest level of service.
    pub group_level: Option<i64>,
    /// `ONE_MONTH`, `ONE_YEAR`, …
    pub period: Option<String>,
    /// Sorted by territory.
    pub prices: Vec<Price>,
    /// Sorted by code.
    pub offers: Vec<PromoOffer>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub group_id: String,
    pub reference_name: String,
}

/// The app's Billing Grace Period setting; App Store Connect sets it once per app, so it applies to every group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracePeriod {
    pub opt_in: bool,
    pub sandbox_opt_in: bool,
    /// `THREE_DAYS`, `SIXTEEN_DAYS`, `TWENTY_EIGHT_DAYS`.
    pub duration: String,
    /// `ALL_RENEWALS`, `PAID_TO_PAID_ONLY`.
    pub renewal_type: String,
}

impl GracePeriod {
    /// "On for 16 days, all renewals (Sandbox: on)".
    pub fn describe(&self) -> String {
        if !self.opt_in {
            return format!(
                "Off in Production (Sandbox: {})",
                if self.sandbox_opt_in { "on" } else { "off" }
            );
        }
        let days = match self.duration.as_str() {
            "THREE_DAYS" => "3 days".to_owned(),
            "SIXTEEN_DAYS" => "16 days".to_owned(),
            "TWENTY_EIGHT_DAYS" => "28 days".to_owned(),
            other => other.to_lowercase().replace('_', " "),
        };
        let renewals = match self.renewal_type.as_str() {
            "ALL_RENEWALS" => "all renewals",
            "PAID_TO_PAID_ONLY" => "paid-to-paid renewals only",
            _ => "renewals",
        };
        format!(
            "On for {days}, {renewals} (Sandbox: {})",
            if self.sandbox_opt_in { "on" } else { "off" }
        )
    }
}

/// Everything one sync read for one app. Products are sorted by product id and groups by id, so two snapshots
/// of the same catalog compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    pub groups: Vec<Group>,
    pub products: Vec<Product>,
    pub grace_period: Option<GracePeriod>,
}

impl Catalog {
    /// Puts every list in its canonical order.
    pub fn normalize(&mut self) {
        self.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        self.products
            .sort_by(|a, b| a.product_id.cmp(&b.product_id));
        for p in &mut self.products {
            p.prices.sort_by(|a, b| a.territory.cmp(&b.territory));
            p.offers.sort_by(|a, b| a.code.cmp(&b.code));
        }
    }

    pub fn product(&self, product_id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.product_id == product_id)
    }

    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.group_id == group_id)
    }
}

/// A subscription period in words: `ONE_MONTH` → "1 month".
pub fn period_label(period: &str) -> String {
    let words = match period {
        "ONE_WEEK" => "1 week",
        "ONE_MONTH" => "1 month",
        "TWO_MONTHS" => "2 months",
        "THREE_MONTHS" => "3 months",
        "SIX_MONTHS" => "6 months",
        "ONE_YEAR" => "1 year",
        "THREE_DAYS" => "3 days",
        "TWO_WEEKS" => "2 weeks",
        "ONE_DAY" => "1 day",
        other => return other.to_lowercase().replace('_', " "),
    };
    words.to_owned()
}

/// A product state in words (App Store Connect's labels).
pub fn state_label(state: &str) -> String {
    let words = match state {
        "APPROVED" => "Approved",
        "READY_TO_SUBMIT" => "Ready to submit",
        "MISSING_METADATA" => "Missing metadata",
        "WAITING_FOR_REVIEW" => "Waiting for review",
        "IN_REVIEW" => "In review",
        "DEVELOPER_ACTION_NEEDED" => "Developer action needed",
        "PENDING_BINARY_APPROVAL" => "Pending binary approval",
        "DEVELOPER_REMOVED_FROM_SALE" => "Developer removed from sale",
        "REMOVED_FROM_SALE" => "Removed from sale",
        "REJECTED" => "Rejected",
        other => return other.to_lowercase().replace('_', " "),
    };
    words.to_owned()
}

/// An offer mode in words.
pub fn offer_mode_label(mode: &str) -> String {
    let words = match mode {
        "FREE_TRIAL" => "Free",
        "PAY_AS_YOU_GO" => "Pay as you go",
        "PAY_UP_FRONT" => "Pay up front",
        other => return other.to_lowercase().replace('_', " "),
    };
    words.to_owned()
}
