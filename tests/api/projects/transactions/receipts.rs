//! Receipts pasted into the search box (issue 21): an app receipt (base64 PKCS#7, BER) or a StoreKit 1
//! transaction receipt is looked up by the transaction id inside it, on the page and in the JSON API, which say
//! where the id came from; a receipt without a purchase is refused with its sentence and nothing looked up.
//!
//! The receipts are built here byte by byte from the layout Apple documents (ContentInfo → SignedData → the
//! receipt's SET of fields; field 17 an in-app purchase, 1703 its transaction id), around a transaction the
//! simulator knows, apart from storedesk's reader. Apple's own receipt vectors are read by the unit tests.
use base64::Engine as _;
use serde_json::Value;

use crate::admin::api_tokens::{api_get, make_token};
use crate::projects::transactions::common::{assert_no_trace, lookups, search};
use crate::support_test;

/// A DER element with a definite length.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A BER element with an indefinite length, as Apple's receipts are written.
fn ber(tag: u8, children: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![tag, 0x80];
    for c in children {
        out.extend(c);
    }
    out.extend([0, 0]);
    out
}

fn int(v: u16) -> Vec<u8> {
    // Two's complement, shortest form: a leading 0 when the top bit of the first byte is set.
    let mut bytes: Vec<u8> = v
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    der(0x02, &bytes)
}

/// A receipt field: SEQUENCE { type, version 1, OCTET STRING value }.
fn field(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut body = int(kind);
    body.extend(int(1));
    body.extend(der(0x04, value));
    der(0x30, &body)
}

/// An app receipt whose in-app purchases carry these transaction ids (none: a receipt from before a purchase).
fn app_receipt(transaction_ids: &[&str]) -> String {
    let mut fields = vec![field(2, &der(0x0c, b"com.example"))];
    for id in transaction_ids {
        let purchase = der(
            0x31,
            &[
                field(1702, &der(0x0c, b"com.storedesk.demo.pro.monthly")),
                field(1703, &der(0x0c, id.as_bytes())),
            ]
            .concat(),
        );
        fields.push(field(17, &purchase));
    }
    let payload = der(0x31, &fields.concat());
    // The payload in two chunks: BER's constructed OCTET STRING.
    let (a, b) = payload.split_at(payload.len() / 2);
    let octets = ber(0x24, &[der(0x04, a), der(0x04, b)]);
    let signed_data_oid = der(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
    );
    let data_oid = der(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
    );
    let encapsulated = ber(0x30, &[data_oid, ber(0xa0, &[octets])]);
    let signed = ber(
        0x30,
        &[int(1), der(0x31, &[]), encapsulated, der(0x31, &[])],
    );
    let info = ber(0x30, &[signed_data_oid, ber(0xa0, &[signed])]);
    base64::engine::general_purpose::STANDARD.encode(info)
}

/// A StoreKit 1 transaction receipt: base64 of a text whose `purchase-info` is base64 of another.
fn transaction_receipt(transaction_id: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let info = b64(&format!(
        "{{\n\t\"product-id\" = \"com.storedesk.demo.pro.monthly\";\n\t\"transaction-id\" = \"{transaction_id}\";\n}}"
    ));
    b64(&format!(
        "{{\n\t\"signature\" = \"AAAA\";\n\t\"purchase-info\" = \"{info}\";\n\t\"environment\" = \"Sandbox\";\n}}"
    ))
}

support_test!(
    a_pasted_app_receipt_is_looked_up_by_its_transaction_id,
    |r| {
        let id = r.sim.seed().active_monthly.transaction_id.clone();
        let receipt = app_receipt(&[&id]);
        // Pasted as a log wraps it, over several lines.
        let wrapped: Vec<String> = receipt
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let response = r.admin.get(&search(&wrapped.join("\n"))).await;
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.unwrap();
        assert_no_trace(&page);
        assert!(
        page.contains(&format!(
            "<p class=\"notice\" id=\"q-note\" role=\"status\">Looked up transaction id {id}, read from the app receipt you pasted.</p>"
        )),
        "{page}"
    );
        assert!(page.contains("Fresh from Apple (Production)"), "{page}");
        assert!(page.contains("<span class=\"badge badge-good\">active</span>"));
        // The audit names the id, never the receipt.
        let audit = lookups(&r.app).await;
        assert!(
            audit
                .iter()
                .any(|(a, t, _)| a == "lookup.transaction" && *t == id),
            "{audit:?}"
        );
        assert!(audit
            .iter()
            .all(|(_, t, d)| !t.contains(&receipt[..40]) && !d.contains(&receipt[..40])));
    }
);

support_test!(a_pasted_transaction_receipt_is_looked_up_too, |r| {
    let id = r.sim.seed().active_monthly.transaction_id.clone();
    let page = r.admin.get_text(&search(&transaction_receipt(&id))).await;
    assert!(
        page.contains(&format!(
            "Looked up transaction id {id}, read from the transaction receipt you pasted."
        )),
        "{page}"
    );
    assert!(page.contains("Fresh from Apple (Production)"), "{page}");
});

support_test!(
    a_receipt_without_a_purchase_is_refused_and_nothing_looked_up,
    |r| {
        let response = r.admin.get(&search(&app_receipt(&[]))).await;
        assert_eq!(response.status().as_u16(), 422);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(
                "This app receipt holds no in-app purchase, so it names no transaction to look up"
            ),
            "{page}"
        );
        assert_eq!(r.sim.request_count(), 0, "Apple was not asked");
        assert!(lookups(&r.app).await.is_empty(), "nothing looked up");
        // Base64 that is no receipt gets the usual sentence.
        let response = r.admin.get(&search(&"QUJD".repeat(40))).await;
        assert_eq!(response.status().as_u16(), 422);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("is not something storedesk can look up"));
    }
);

support_test!(the_api_says_which_receipt_the_id_came_from, |r| {
    let id = r.sim.seed().active_monthly.transaction_id.clone();
    let token = make_token(&r.admin, "demo", "read", "receipts").await;
    let path = format!(
        "/api/v1/projects/demo/transactions?q={}",
        storedesk::urls::urlencode(&app_receipt(&[&id]))
    );
    let response = api_get(&r.app, &path, Some(&token)).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["query"]["kind"], "transaction_id");
    assert_eq!(body["query"]["value"], id.as_str());
    assert_eq!(body["query"]["fromReceipt"], "app_receipt");
    // An id pasted as it is has no fromReceipt.
    let path = format!("/api/v1/projects/demo/transactions?q={id}");
    let body: Value = api_get(&r.app, &path, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["query"].get("fromReceipt").is_none(), "{body}");
});
