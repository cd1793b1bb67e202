//! The promotional-offer form with a catalog (issue 22): the subscription and the offer are picked from the
//! catalog, and what it does not hold is refused next to its field, nothing signed and nothing audited. Without a
//! catalog the fields stay free text. The JSON API holds signatures to the catalog the same way.
use serde_json::json;
use storedesk::apple_sim::SimConfig;

use crate::helpers::{client, ready, store_key, Backend, Ready};
use crate::projects::names::{demo_catalog, put_catalog, PRO_MONTHLY, PRO_YEARLY};
use crate::projects::settings::stores::apple::key::field_error;

const OFFERS: &str = "/projects/demo/offers";
const SIGN: &str = "/api/v1/projects/demo/offers/signature";

async fn ready_with_key(backend: Backend) -> Option<Ready> {
    let r = ready(backend, SimConfig::default()).await?;
    store_key(&r.app, &r.project, &r.sim.issue_key()).await;
    Some(r)
}

macro_rules! with_key {
    ($name:ident, |$r:ident| $body:block) => {
        $crate::on_both_backends!($name, |backend| ready_with_key(backend), $r => $body);
    };
}

async fn offer_audits(r: &Ready) -> usize {
    r.app
        .store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "offer.sign")
        .count()
}

/// The sentence for an offer the catalog does not list under the product.
fn not_an_offer_of(offer: &str, name: &str, product: &str) -> String {
    format!(
        "“{offer}” is not a promotional offer of {name} ({product}) in this app's catalog from App Store Connect. \
         If it was just created in App Store Connect, sync the catalog on the Catalog page, then sign again."
    )
}

with_key!(without_a_catalog_the_form_has_free_text_fields, |r| {
    let page = r.admin.get_text(OFFERS).await;
    assert!(
        page.contains("<input id=\"product_id\" name=\"product_id\""),
        "{page}"
    );
    assert!(
        page.contains("<input id=\"offer_id\" name=\"offer_id\""),
        "{page}"
    );
    assert!(!page.contains("<select id=\"product_id\""));
    // Anything well formed is signed, as before.
    let response = r
        .admin
        .post_form(
            OFFERS,
            OFFERS,
            &[("product_id", "com.example.any"), ("offer_id", "ANY_OFFER")],
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(offer_audits(&r).await, 1);
});

with_key!(with_a_catalog_the_form_picks_from_it, |r| {
    put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
    let page = r.admin.get_text(OFFERS).await;
    assert!(
        page.contains("<select id=\"product_id\" name=\"product_id\""),
        "{page}"
    );
    assert!(
        page.contains("<select id=\"offer_id\" name=\"offer_id\" data-offers-of=\"product_id\"")
    );
    assert!(!page.contains("<input id=\"product_id\""));
    // Subscriptions by group name, "Name — product id"; the consumables and non-consumables are not offered.
    assert!(page.contains(&format!(
        "<optgroup label=\"Storedesk Pro\"><option value=\"{PRO_YEARLY}\">Pro Yearly — {PRO_YEARLY}</option><option value=\"{PRO_MONTHLY}\">Pro Monthly — {PRO_MONTHLY}</option></optgroup>"
    )), "{page}");
    assert!(page.contains("<optgroup label=\"Cloud Storage\">"));
    assert!(!page.contains("100 Coins"));
    // Offers under their subscription's name.
    assert!(page.contains(&format!(
        "<optgroup label=\"Pro Monthly\" data-product=\"{PRO_MONTHLY}\"><option value=\"LOYAL_FREE\">Loyal month (LOYAL_FREE) · Free, 1 month × 1</option><option value=\"WINBACK_50\">Win back (WINBACK_50) · Pay as you go, 1 month × 3</option></optgroup>"
    )), "{page}");
    assert!(page.contains(&format!(
        "<optgroup label=\"Pro Yearly\" data-product=\"{PRO_YEARLY}\"><option value=\"YEARLY_20\">Yearly saver (YEARLY_20) · Pay up front, 1 year × 1</option></optgroup>"
    )));

    // A valid pick signs, and the result names the product.
    let signed = r
        .admin
        .post_form(
            OFFERS,
            OFFERS,
            &[("product_id", PRO_MONTHLY), ("offer_id", "WINBACK_50")],
        )
        .await;
    assert_eq!(signed.status().as_u16(), 200);
    let html = signed.text().await.unwrap();
    assert!(html.contains("id=\"offer-signature\""), "{html}");
    assert!(html.contains(&format!(
        "Signature for <strong>Pro Monthly</strong> <code class=\"id\">{PRO_MONTHLY}</code>"
    )));
    assert_eq!(offer_audits(&r).await, 1);
});

with_key!(
    an_offer_or_product_the_catalog_does_not_hold_is_refused,
    |r| {
        put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
        // Another subscription's offer.
        let response = r
            .admin
            .post_form(
                OFFERS,
                OFFERS,
                &[("product_id", PRO_MONTHLY), ("offer_id", "YEARLY_20")],
            )
            .await;
        assert_eq!(response.status().as_u16(), 422);
        let html = response.text().await.unwrap();
        assert_eq!(
            field_error(&html, "offer_id").as_deref(),
            Some(not_an_offer_of("YEARLY_20", "Pro Monthly", PRO_MONTHLY).as_str())
        );
        assert!(html
            .contains("aria-describedby=\"offer_id-help offer_id-error\" aria-invalid=\"true\""));
        assert!(field_error(&html, "product_id").is_none());
        // The subscription stays chosen.
        assert!(html.contains(&format!("<option value=\"{PRO_MONTHLY}\" selected>")));
        assert!(!html.contains("id=\"offer-signature\""));

        // A product the catalog does not hold, and one that is no subscription.
        let response = r
            .admin
            .post_form(
                OFFERS,
                OFFERS,
                &[
                    ("product_id", "com.storedesk.demo.pro.weekly"),
                    ("offer_id", "WINBACK_50"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 422);
        let html = response.text().await.unwrap();
        assert_eq!(
        field_error(&html, "product_id").as_deref(),
        Some(
            "“com.storedesk.demo.pro.weekly” is not an auto-renewable subscription in this app's catalog from App \
             Store Connect. If it was just created in App Store Connect, sync the catalog on the Catalog page, then \
             sign again."
        )
    );
        let response = r
            .admin
            .post_form(
                OFFERS,
                OFFERS,
                &[
                    ("product_id", "com.storedesk.demo.coins.100"),
                    ("offer_id", "WINBACK_50"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 422);
        assert_eq!(
        field_error(&response.text().await.unwrap(), "product_id").as_deref(),
        Some(
            "100 Coins (com.storedesk.demo.coins.100) is a consumable, not an auto-renewable subscription: only \
             auto-renewable subscriptions have promotional offers."
        )
    );
        assert_eq!(offer_audits(&r).await, 0, "nothing signed, nothing audited");
    }
);

with_key!(
    the_api_names_the_product_and_still_signs_an_offer_the_catalog_does_not_hold_yet,
    |r| {
        let token = storedesk::commands::add_api_token(&r.app.store, "demo", "sign", None)
            .await
            .unwrap()
            .token;
        let token = secrecy::ExposeSecret::expose_secret(&token).to_string();
        let sign = |body: serde_json::Value| {
            let (url, token) = (r.app.url(SIGN), token.clone());
            async move {
                client()
                    .post(url)
                    .header("Authorization", format!("Bearer {token}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        // Without a catalog: no name.
        let answer: serde_json::Value =
            sign(json!({"productIdentifier": PRO_MONTHLY, "offerIdentifier": "ANY"}))
                .await
                .json()
                .await
                .unwrap();
        assert_eq!(answer["productName"], serde_json::Value::Null);

        put_catalog(&r.app.store, r.project.id, &demo_catalog()).await;
        // An offer made in App Store Connect after the last sync: the backend's signature still works.
        let fresh = sign(
            json!({"productIdentifier": PRO_MONTHLY, "offerIdentifier": "CREATED_AFTER_SYNC"}),
        )
        .await;
        assert_eq!(fresh.status().as_u16(), 200);
        let fresh: serde_json::Value = fresh.json().await.unwrap();
        assert_eq!(fresh["productName"], "Pro Monthly");
        assert_eq!(offer_audits(&r).await, 2);

        let answer =
            sign(json!({"productIdentifier": PRO_YEARLY, "offerIdentifier": "YEARLY_20"})).await;
        assert_eq!(answer.status().as_u16(), 200);
        let answer: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(answer["productIdentifier"], PRO_YEARLY);
        assert_eq!(answer["productName"], "Pro Yearly");
        assert_eq!(answer["offerIdentifier"], "YEARLY_20");
        assert_eq!(offer_audits(&r).await, 3);
    }
);
