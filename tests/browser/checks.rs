//! Accessibility checks shared by the tests, run in the page through WebDriver (the app's CSP forbids inline
//! scripts in its pages, but WebDriver's execute is not a page script).
use std::collections::BTreeMap;

use serde_json::Value;

use crate::driver::Browser;

/// Every visible form control (`input` other than hidden, `select`, `textarea`) has a non-empty label (a
/// `<label for>` or one wrapping it) or an `aria-label`/`aria-labelledby`; every `<label for>` names a control.
pub async fn assert_controls_labelled(b: &Browser) {
    let script = r#"
        const unlabelled = [];
        for (const e of document.querySelectorAll('input, select, textarea')) {
            if (e.type === 'hidden') continue;
            const labelled = Array.from(e.labels || []).some(l => l.textContent.trim() !== '');
            const aria = (e.getAttribute('aria-label') || '').trim() !== '';
            const by = (e.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
                .some(id => { const t = document.getElementById(id); return t && t.textContent.trim() !== ''; });
            if (!labelled && !aria && !by) unlabelled.push(e.outerHTML);
        }
        const dangling = Array.from(document.querySelectorAll('label[for]'))
            .filter(l => !document.getElementById(l.htmlFor))
            .map(l => l.outerHTML);
        const count = document.querySelectorAll('input:not([type=hidden]), select, textarea').length;
        return { unlabelled, dangling, count };
    "#;
    let result = b.client.execute(script, vec![]).await.unwrap();
    let path = b.path().await;
    assert_eq!(
        result["unlabelled"],
        Value::Array(vec![]),
        "controls without a label on {path}"
    );
    assert_eq!(
        result["dangling"],
        Value::Array(vec![]),
        "labels pointing at no control on {path}"
    );
}

/// After a refused form: exactly the `fields` (by id) are `aria-invalid="true"`, each is described by an error
/// message element with text, every error message on the page belongs to a field, and no `aria-describedby`
/// points nowhere. Returns each field's error text.
pub async fn assert_errors_tied(b: &Browser, fields: &[&str]) -> BTreeMap<String, String> {
    let script = r#"
        const isError = el => el.matches('.field-error, .form-error, [role=alert]');
        const invalid = {};
        for (const e of document.querySelectorAll('[aria-invalid="true"]')) {
            const ids = (e.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
            const errors = ids.map(id => document.getElementById(id))
                .filter(t => t && isError(t) && t.textContent.trim() !== '')
                .map(t => t.textContent.trim());
            invalid[e.id || e.outerHTML] = errors.join(' ');
        }
        const referenced = new Set();
        const dangling = [];
        for (const e of document.querySelectorAll('[aria-describedby]')) {
            for (const id of e.getAttribute('aria-describedby').split(/\s+/).filter(Boolean)) {
                if (document.getElementById(id)) referenced.add(id); else dangling.push((e.id || e.tagName) + ' -> ' + id);
            }
        }
        const orphans = Array.from(document.querySelectorAll('.field-error, .form-error'))
            .filter(m => !m.id || !referenced.has(m.id))
            .map(m => m.outerHTML);
        return { invalid, dangling, orphans };
    "#;
    let result = b.client.execute(script, vec![]).await.unwrap();
    let path = b.path().await;
    let invalid: BTreeMap<String, String> = result["invalid"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let got: Vec<&str> = invalid.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = fields.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "fields marked aria-invalid on {path}");
    for (field, text) in &invalid {
        assert!(!text.is_empty(), "{field} on {path} is aria-invalid but aria-describedby names no error message with text");
    }
    assert_eq!(
        result["dangling"],
        Value::Array(vec![]),
        "aria-describedby pointing nowhere on {path}"
    );
    assert_eq!(
        result["orphans"],
        Value::Array(vec![]),
        "error messages tied to no field on {path}"
    );
    invalid
}
