//! `POST /api/v1/projects/{project}/offers/signature` (scope `sign`): a promotional offer signature in both of
//! Apple's forms, made with the project's key in use. Field names follow Apple's (`productIdentifier`, ...). The
//! answer names the product from the synced catalog (`productName`). Unlike the console's form, the catalog does not
//! limit what a backend may sign: an offer created in App Store Connect minutes ago is not in the catalog until the
//! next sync, and a publisher's backend must not stop working for up to six hours because of it.
use std::collections::BTreeMap;

use actix_web::web;
use serde::{Deserialize, Serialize};

use super::{ok, ApiError, ApiProject, ApiResult};
use crate::offers::{self, OfferInput, SignError, SignedOffer};
use crate::state::AppState;

/// The signature, and the catalog's name of its product (null without one).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignatureAnswer {
    #[serde(flatten)]
    signed: SignedOffer,
    product_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureBody {
    #[serde(default)]
    product_identifier: Option<String>,
    #[serde(default)]
    offer_identifier: Option<String>,
    #[serde(default)]
    app_account_token: Option<String>,
    #[serde(default)]
    application_username: Option<String>,
    #[serde(default)]
    transaction_id: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    /// A number (milliseconds) or a string of digits.
    #[serde(default)]
    timestamp: Option<serde_json::Value>,
}

fn timestamp_text(v: &Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        // Anything else fails the digits check with the timestamp's own sentence.
        Some(other) => other.to_string(),
    }
}

pub async fn sign(
    state: web::Data<AppState>,
    api: ApiProject,
    body: web::Json<SignatureBody>,
) -> ApiResult {
    let ApiProject { client, project } = api;
    let body = body.into_inner();
    let input = OfferInput {
        product_id: body.product_identifier.unwrap_or_default(),
        offer_id: body.offer_identifier.unwrap_or_default(),
        app_account_token: body.app_account_token.unwrap_or_default(),
        application_username: body.application_username.unwrap_or_default(),
        transaction_id: body.transaction_id.unwrap_or_default(),
        nonce: body.nonce.unwrap_or_default(),
        timestamp: timestamp_text(&body.timestamp),
    };
    let request =
        offers::parse(&input, uuid::Uuid::new_v4(), crate::clock::now_ms()).map_err(|errors| {
            ApiError::Invalid(
                errors
                    .into_iter()
                    .map(|(field, message)| (field.json_name().to_string(), message))
                    .collect::<BTreeMap<_, _>>(),
            )
        })?;
    let signed = offers::sign_for_project(
        &state.store,
        &state.settings.keyring(),
        &project,
        &request,
        &client.actor(),
    )
    .await
    .map_err(|e| match e {
        e @ SignError::NoKey(_) => ApiError::Conflict {
            code: "no_key",
            message: e.to_string(),
        },
        SignError::Unexpected(e) => ApiError::Unexpected(e),
    })?;
    let product_name = state
        .store
        .catalog_names(project.id)
        .await?
        .product(&signed.product_identifier)
        .map(str::to_owned);
    ok(&SignatureAnswer {
        signed,
        product_name,
    })
}
