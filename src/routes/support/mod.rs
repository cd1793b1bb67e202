//! The support desk's pages: the search with the story of a purchase, the CSV export of a history, and a
//! customer's subscriptions with the renewal-date extension. Thin handlers over `crate::support`.
use actix_web::web;

pub mod export;
pub mod subscriptions;
pub mod transactions;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/projects/{project}/transactions",
        web::get().to(transactions::page),
    )
    .route(
        "/projects/{project}/transactions/{transaction_id}/history.csv",
        web::get().to(export::csv),
    )
    .route(
        "/projects/{project}/subscriptions/{original_transaction_id}",
        web::get().to(subscriptions::page),
    )
    .route(
        "/projects/{project}/subscriptions/{original_transaction_id}/extend",
        web::post().to(subscriptions::extend),
    );
}

/// Field errors by field name, for templates (`errors.get("from")`).
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(pub Vec<crate::support::FieldError>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
