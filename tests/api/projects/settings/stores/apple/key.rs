//! Step 3 of the App Store wizard over HTTP: one test per rule of "Validation of Step 3" (each refusal is the
//! parser's own sentence next to its field, the typed IDs are kept, the key never comes back, nothing is stored),
//! the limits of the streamed upload, and what a successful save stores and shows.
//!
//! The multipart bodies are written by hand (`Multipart` below), so a test can send exactly what a browser
//! sends, including an empty file input, and what no browser sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use storedesk::domain::{ApplePrivateKey, IssuerIdError, KeyIdError, PrivateKeyError, Role};
use storedesk::routes::projects::keys::upload::NO_FILE;

use crate::both_backends;
use crate::helpers::{assert_redirect_to, create_project, csrf_from, Session, TestApp};

pub const KEY_ID: &str = "2X9R4HXF34";
pub const OTHER_KEY_ID: &str = "7Q3W8ZK2LM";
pub const ISSUER_ID: &str = "57246542-96fe-1a63-e053-0824d011072a";
pub const WIZARD: &str = "/projects/demo/settings/stores/apple";
pub const SAVE: &str = "/projects/demo/settings/stores/apple/key";
pub const KEYS: &str = "/projects/demo/keys";

// ---------------------------------------------------------------------------------------------------------------
// Test kit, also used by `keys.rs`.
// ---------------------------------------------------------------------------------------------------------------

/// A `multipart/form-data` body, written as a browser writes it.
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    pub fn new() -> Self {
        Self {
            boundary: format!("----storedesk-test-{}", uuid::Uuid::new_v4().simple()),
            body: Vec::new(),
        }
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n",
            self.boundary
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file input; a browser sends `filename=""` and no bytes when no file was chosen.
    pub fn file(mut self, name: &str, file_name: &str, bytes: &[u8]) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n",
            self.boundary
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub async fn post(self, session: &Session, action: &str) -> reqwest::Response {
        self.post_cut(session, action, 0).await
    }

    /// [`Multipart::post`] without the last `cut` bytes: a body that ends early.
    pub async fn post_cut(
        mut self,
        session: &Session,
        action: &str,
        cut: usize,
    ) -> reqwest::Response {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body.truncate(self.body.len().saturating_sub(cut));
        session
            .client
            .post(session.url(action))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={}", self.boundary),
            )
            .body(self.body)
            .send()
            .await
            .expect("POST multipart")
    }
}

/// What a person types and chooses in the key form.
pub struct KeyUpload<'a> {
    pub key_id: &'a str,
    pub issuer_id: &'a str,
    /// (file name, bytes); `None` is a file input left empty.
    pub file: Option<(&'a str, &'a [u8])>,
}

impl<'a> KeyUpload<'a> {
    pub fn new(key_id: &'a str, issuer_id: &'a str, file_name: &'a str, bytes: &'a [u8]) -> Self {
        Self {
            key_id,
            issuer_id,
            file: Some((file_name, bytes)),
        }
    }

    /// The form with the CSRF token of `form_page`, as the browser would send it.
    pub async fn form(&self, session: &Session, form_page: &str) -> Multipart {
        let csrf = csrf_from(&session.get_text(form_page).await);
        let form = Multipart::new()
            .text("csrf_token", &csrf)
            .text("key_id", self.key_id)
            .text("issuer_id", self.issuer_id);
        match self.file {
            Some((name, bytes)) => form.file("private_key", name, bytes),
            None => form.file("private_key", "", b""),
        }
    }

    /// Fetches `form_page` for its CSRF token and posts the form to `action`.
    pub async fn send(
        &self,
        session: &Session,
        form_page: &str,
        action: &str,
    ) -> reqwest::Response {
        self.form(session, form_page)
            .await
            .post(session, action)
            .await
    }

    /// Step 3 of the wizard: the first key.
    pub async fn to_wizard(&self, session: &Session) -> reqwest::Response {
        self.send(session, WIZARD, SAVE).await
    }
}

/// A P-256 key made in the test, with what the test expects storedesk to derive from it.
pub struct TestKey {
    pub secret: p256::SecretKey,
    /// PKCS#8 PEM with LF line ends, as OpenSSL 3 writes it (`MIGHAgEA…`).
    pub pem: String,
}

impl TestKey {
    pub fn generate() -> Self {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        Self { secret, pem }
    }

    pub fn from_pem(pem: &str) -> Self {
        use p256::pkcs8::DecodePrivateKey;
        Self {
            secret: p256::SecretKey::from_pkcs8_pem(pem).unwrap(),
            pem: pem.to_string(),
        }
    }

    /// SHA-256 of the public key's SubjectPublicKeyInfo DER, as lower-case hex pairs joined by `:`.
    pub fn fingerprint(&self) -> String {
        let spki = self.secret.public_key().to_public_key_der().unwrap();
        Sha256::digest(spki.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from(self.secret.public_key())
    }

    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.secret.to_pkcs8_der().unwrap().as_bytes().to_vec()
    }

    pub fn parsed(&self) -> ApplePrivateKey {
        ApplePrivateKey::parse(self.pem.as_bytes()).unwrap()
    }

    /// Pieces of the key that must never show up in a page, a log row or the database in clear.
    pub fn secrets(&self) -> Vec<Vec<u8>> {
        let mut out = vec![
            self.secret.to_bytes().to_vec(),
            self.pkcs8_der(),
            self.pem.as_bytes().to_vec(),
        ];
        out.extend(
            base64_runs(self.pem.as_bytes())
                .into_iter()
                .map(String::into_bytes),
        );
        out.push(hex::encode(self.secret.to_bytes()).into_bytes());
        out
    }
}

/// Runs of 16 or more base64 characters: the lines of a PEM body, or all of it when it is on one line.
pub fn base64_runs(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
        .filter(|run| run.len() >= 16)
        .map(str::to_string)
        .collect()
}

/// Asserts that no line of the uploaded file's body (nor the key's own material) appears in `text`.
pub fn assert_no_key_material(text: &str, file: &[u8]) {
    for run in base64_runs(file) {
        assert!(
            !text.contains(&run),
            "the page shows part of the uploaded key: {run}"
        );
    }
}

pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reverses askama's HTML escaping (`&#39;`, `&#34;`, `&#38;`, …) so sentences compare exactly.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The sentence in `<p class="field-error" id="{field}-error">…</p>`, unescaped.
pub fn field_error(html: &str, field: &str) -> Option<String> {
    let marker = format!("<p class=\"field-error\" id=\"{field}-error\">");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find("</p>").expect("closing </p>") + start;
    Some(unescape(&html[start..end]))
}

/// The `value` of the `<input id="{id}" …>` in the page, unescaped.
pub fn input_value(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("<input id=\"{id}\""))
        .unwrap_or_else(|| panic!("the page has no input #{id}"));
    let tag = &html[start..start + html[start..].find('>').expect("end of input tag")];
    let marker = "value=\"";
    let v = tag
        .find(marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("input #{id} has no value"));
    let end = tag[v..].find('"').expect("closing quote") + v;
    unescape(&tag[v..end])
}

pub fn audit_limit() -> storedesk::store::audit::AuditFilter {
    storedesk::store::audit::AuditFilter {
        limit: 1000,
        ..Default::default()
    }
}

pub async fn key_audit(app: &TestApp) -> Vec<storedesk::store::audit::AuditEntry> {
    let all = app.store.list_audit(&audit_limit()).await.unwrap();
    all.into_iter()
        .filter(|e| e.action.starts_with("key."))
        .collect()
}

pub async fn project_id(app: &TestApp, slug: &str) -> i64 {
    app.store
        .project_by_slug(slug)
        .await
        .unwrap()
        .expect("project exists")
        .id
}

/// An admin session and the project `demo`.
pub async fn admin_with_project(app: &TestApp) -> (Session, i64) {
    let admin = app.session(Role::Admin).await;
    assert_eq!(create_project(&admin, "demo").await.status().as_u16(), 303);
    let id = project_id(app, "demo").await;
    (admin, id)
}

pub async fn assert_nothing_stored(app: &TestApp, project_id: i64) {
    assert!(
        app.store
            .keys_of_project(project_id)
            .await
            .unwrap()
            .is_empty(),
        "a key row was stored"
    );
    assert!(
        app.store.all_sealed_keys().await.unwrap().is_empty(),
        "a sealed key was stored"
    );
    assert!(
        key_audit(app).await.is_empty(),
        "a key.* audit row was written"
    );
    let opened = storedesk::keys::open_key_in_use(&app.store, &app.settings.keyring(), project_id)
        .await
        .unwrap();
    assert!(opened.is_none());
}

/// The upload was refused with `expected` next to `field` only, the typed IDs are back in the form, the key is
/// not in the page, and nothing was stored.
pub async fn assert_refused(
    app: &TestApp,
    project_id: i64,
    upload: &KeyUpload<'_>,
    response: reqwest::Response,
    field: &str,
    expected: &str,
) {
    assert_eq!(response.status().as_u16(), 422, "a refused key form is 422");
    let html = response.text().await.unwrap();
    for f in ["key_id", "issuer_id", "private_key"] {
        let error = field_error(&html, f);
        if f == field {
            assert_eq!(error.as_deref(), Some(expected), "the sentence next to {f}");
            assert!(
                html.contains(&format!("aria-describedby=\"{f}-help {f}-error\"")),
                "{f} points at its error"
            );
        } else {
            assert_eq!(error, None, "no error expected next to {f}");
        }
    }
    assert_eq!(
        input_value(&html, "key_id"),
        upload.key_id.trim(),
        "the typed Key ID is kept"
    );
    assert_eq!(
        input_value(&html, "issuer_id"),
        upload.issuer_id.trim(),
        "the typed Issuer ID is kept"
    );
    if let Some((_, bytes)) = upload.file {
        assert_no_key_material(&html, bytes);
    }
    assert_nothing_stored(app, project_id).await;
}

/// Posts `upload` to Step 3 and checks the refusal.
pub async fn refuse(
    app: &TestApp,
    admin: &Session,
    project_id: i64,
    upload: &KeyUpload<'_>,
    field: &str,
    expected: &str,
) {
    let response = upload.to_wizard(admin).await;
    assert_refused(app, project_id, upload, response, field, expected).await;
}

/// Posts `upload` to Step 3 and checks that `expected` is now the key in use, under the typed (normalised) IDs.
pub async fn accept(
    app: &TestApp,
    admin: &Session,
    project_id: i64,
    upload: &KeyUpload<'_>,
    expected: &TestKey,
) {
    let response = upload.to_wizard(admin).await;
    assert_redirect_to(&response, WIZARD);
    let rows = app.store.keys_of_project(project_id).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.key_id, upload.key_id.trim());
    assert_eq!(row.issuer_id, upload.issuer_id.trim().to_ascii_lowercase());
    assert_eq!(row.status.as_str(), "active");
    assert_eq!(row.fingerprint, expected.fingerprint());
    let opened = storedesk::keys::open_key_in_use(&app.store, &app.settings.keyring(), project_id)
        .await
        .unwrap()
        .expect("a key in use");
    assert_eq!(
        opened.signing_key.verifying_key(),
        &expected.verifying_key(),
        "the stored key is the uploaded key"
    );
}

pub fn subscription_name(key_id: &str) -> String {
    format!("SubscriptionKey_{key_id}.p8")
}

// ---------------------------------------------------------------------------------------------------------------
// Key ID
// ---------------------------------------------------------------------------------------------------------------

both_backends!(a_key_name_such_as_qonversion_is_refused_as_key_id, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let upload = KeyUpload::new(
        "Qonversion",
        ISSUER_ID,
        "SubscriptionKey_2X9R4HXF34.p8",
        key.pem.as_bytes(),
    );
    let expected = KeyIdError::NotAKeyId.to_string();
    assert_eq!(
        storedesk::domain::KeyId::parse("Qonversion")
            .unwrap_err()
            .to_string(),
        expected
    );
    refuse(&app, &admin, pid, &upload, "key_id", &expected).await;
});

both_backends!(
    a_key_name_with_spaces_such_as_my_iap_key_is_refused_as_key_id,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let upload = KeyUpload::new("My IAP key", ISSUER_ID, "key.p8", key.pem.as_bytes());
        let expected = storedesk::domain::KeyId::parse("My IAP key")
            .unwrap_err()
            .to_string();
        assert_eq!(expected, KeyIdError::NotAKeyId.to_string());
        refuse(&app, &admin, pid, &upload, "key_id", &expected).await;
    }
);

both_backends!(
    a_lower_case_key_id_is_refused_with_a_hint_to_type_capitals,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let upload = KeyUpload::new("2x9r4hxf34", ISSUER_ID, "key.p8", key.pem.as_bytes());
        refuse(
            &app,
            &admin,
            pid,
            &upload,
            "key_id",
            &KeyIdError::LowerCase.to_string(),
        )
        .await;
    }
);

both_backends!(an_empty_key_id_is_refused_asking_for_it, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let upload = KeyUpload::new("   ", ISSUER_ID, "key.p8", key.pem.as_bytes());
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "key_id",
        &KeyIdError::Empty.to_string(),
    )
    .await;
});

both_backends!(
    a_key_id_with_surrounding_spaces_is_trimmed_and_accepted,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let upload = KeyUpload::new("  2X9R4HXF34 \t", ISSUER_ID, "key.p8", key.pem.as_bytes());
        accept(&app, &admin, pid, &upload, &key).await;
    }
);

// ---------------------------------------------------------------------------------------------------------------
// Issuer ID
// ---------------------------------------------------------------------------------------------------------------

both_backends!(an_issuer_id_of_the_wrong_shape_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let upload = KeyUpload::new(
        KEY_ID,
        "57246542-96fe-1a63-e053",
        "key.p8",
        key.pem.as_bytes(),
    );
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "issuer_id",
        &IssuerIdError::NotAnIssuerId.to_string(),
    )
    .await;
});

both_backends!(
    a_key_id_typed_into_the_issuer_id_field_is_recognised,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let upload = KeyUpload::new(KEY_ID, KEY_ID, "key.p8", key.pem.as_bytes());
        refuse(
            &app,
            &admin,
            pid,
            &upload,
            "issuer_id",
            &IssuerIdError::LooksLikeKeyId.to_string(),
        )
        .await;
    }
);

both_backends!(
    an_upper_case_issuer_id_is_accepted_and_stored_lower_case,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let upload = KeyUpload::new(
            KEY_ID,
            " 57246542-96FE-1A63-E053-0824D011072A ",
            "key.p8",
            key.pem.as_bytes(),
        );
        accept(&app, &admin, pid, &upload, &key).await;
        assert_eq!(
            app.store.keys_of_project(pid).await.unwrap()[0].issuer_id,
            ISSUER_ID
        );
    }
);

// ---------------------------------------------------------------------------------------------------------------
// The .p8 file
// ---------------------------------------------------------------------------------------------------------------

both_backends!(a_p256_pkcs8_key_is_accepted, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    assert!(
        key.pem.contains("MIGHAgEA"),
        "OpenSSL 3 shape, no inner curve parameters"
    );
    let name = subscription_name(KEY_ID);
    accept(
        &app,
        &admin,
        pid,
        &KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes()),
        &key,
    )
    .await;
});

both_backends!(
    a_p256_key_in_apples_download_shape_with_inner_curve_parameters_is_accepted,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/SubscriptionKey_ABCDE12345.p8"
        ))
        .unwrap();
        assert!(pem.contains("MIGTAgEA"));
        let key = TestKey::from_pem(&pem);
        let upload = KeyUpload::new(
            "ABCDE12345",
            ISSUER_ID,
            "SubscriptionKey_ABCDE12345.p8",
            pem.as_bytes(),
        );
        accept(&app, &admin, pid, &upload, &key).await;
    }
);

both_backends!(a_p384_key_is_refused_naming_its_curve, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
        .unwrap()
        .serialize_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let expected = PrivateKeyError::WrongCurve {
        curve: "P-384".into(),
    }
    .to_string();
    refuse(
        &app,
        &admin,
        pid,
        &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", pem.as_bytes()),
        "private_key",
        &expected,
    )
    .await;
});

both_backends!(an_rsa_key_is_refused_in_pkcs8_and_pkcs1_form, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");
    for file in ["rsa2048-pkcs8.pem", "rsa2048-pkcs1.pem"] {
        let pem = std::fs::read(format!("{dir}{file}")).unwrap();
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, file, &pem);
        refuse(
            &app,
            &admin,
            pid,
            &upload,
            "private_key",
            &PrivateKeyError::Rsa.to_string(),
        )
        .await;
    }
});

both_backends!(an_encrypted_pkcs8_key_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let der = key.pkcs8_der();
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
    let (salt, iv) = (rand::random::<[u8; 16]>(), rand::random::<[u8; 16]>());
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &salt, &iv).unwrap();
    let encrypted = info.encrypt_with_params(params, "hunter2").unwrap();
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .unwrap();
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", pem.as_bytes());
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::Encrypted.to_string(),
    )
    .await;
});

both_backends!(a_certificate_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let pem = rcgen::generate_simple_self_signed(vec!["storedesk.test".to_string()])
        .unwrap()
        .cert
        .pem();
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "cert.pem", pem.as_bytes());
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::Certificate.to_string(),
    )
    .await;
});

both_backends!(a_public_key_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let pem = key
        .secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", pem.as_bytes());
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::PublicKey.to_string(),
    )
    .await;
});

both_backends!(two_keys_in_one_file_are_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let file = format!("{}{}", TestKey::generate().pem, TestKey::generate().pem);
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "keys.p8", file.as_bytes());
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::MultipleBlocks { count: 2 }.to_string(),
    )
    .await;
});

both_backends!(crlf_line_ends_are_accepted, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let file = key.pem.replace('\n', "\r\n");
    accept(
        &app,
        &admin,
        pid,
        &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", file.as_bytes()),
        &key,
    )
    .await;
});

both_backends!(a_utf8_byte_order_mark_is_accepted, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let file = [b"\xEF\xBB\xBF".as_slice(), key.pem.as_bytes()].concat();
    accept(
        &app,
        &admin,
        pid,
        &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", &file),
        &key,
    )
    .await;
});

both_backends!(trailing_whitespace_is_accepted, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let file = format!("{}  \n\n\t \r\n", key.pem.replace('\n', " \n"));
    accept(
        &app,
        &admin,
        pid,
        &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", file.as_bytes()),
        &key,
    )
    .await;
});

both_backends!(
    a_pem_flattened_to_one_line_is_repaired_and_accepted,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        // What a secret store or a chat tool makes of it: the line breaks became spaces.
        let file = key.pem.trim_end().replace('\n', " ");
        assert!(!file.contains('\n'));
        accept(
            &app,
            &admin,
            pid,
            &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", file.as_bytes()),
            &key,
        )
        .await;
    }
);

both_backends!(
    a_pem_with_literal_backslash_n_instead_of_line_breaks_is_repaired_and_accepted,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        // What a copy through JSON or a shell makes of it: the two characters `\` `n`.
        let file = key.pem.trim_end().replace('\n', "\\n");
        assert!(!file.contains('\n') && file.contains("\\n"));
        accept(
            &app,
            &admin,
            pid,
            &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", file.as_bytes()),
            &key,
        )
        .await;
    }
);

both_backends!(a_9_kib_file_is_refused_as_over_8_kib, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    // A valid key, padded with a comment to 9 KiB: the size alone refuses it.
    let key = TestKey::generate();
    let mut file = key.pem.clone().into_bytes();
    file.resize(9 * 1024, b'#');
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", &file);
    let expected = PrivateKeyError::TooLarge.to_string();
    assert!(expected.contains("larger than 8 KiB"));
    refuse(&app, &admin, pid, &upload, "private_key", &expected).await;
});

both_backends!(an_empty_file_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "SubscriptionKey_2X9R4HXF34.p8", b"");
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::Empty.to_string(),
    )
    .await;
    let blank = KeyUpload::new(KEY_ID, ISSUER_ID, "blank.p8", b" \r\n\n");
    refuse(
        &app,
        &admin,
        pid,
        &blank,
        "private_key",
        &PrivateKeyError::Empty.to_string(),
    )
    .await;
});

both_backends!(binary_junk_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let mut junk: Vec<u8> = (0..=255u8).rev().cycle().take(600).collect();
    junk[10] = 0;
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", &junk);
    refuse(
        &app,
        &admin,
        pid,
        &upload,
        "private_key",
        &PrivateKeyError::Binary.to_string(),
    )
    .await;
});

// Found by fuzzing (docs/fuzzing.md): a key whose DER has a field that claims 33 MB inside 184 bytes. The
// certificate decoder, asked what the file is, used to allocate the claimed size before reading.
both_backends!(
    a_key_whose_inner_lengths_run_past_its_end_is_refused_as_damaged,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let der = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keys/der-length-overrun.der"
        ))
        .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", pem.as_bytes());
        refuse(
            &app,
            &admin,
            pid,
            &upload,
            "private_key",
            &PrivateKeyError::Malformed.to_string(),
        )
        .await;
    }
);

both_backends!(submitting_without_choosing_a_file_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    // A browser sends the empty file input as a part with `filename=""` and no bytes.
    let empty_input = KeyUpload {
        key_id: KEY_ID,
        issuer_id: ISSUER_ID,
        file: None,
    };
    refuse(&app, &admin, pid, &empty_input, "private_key", NO_FILE).await;
    // A client that leaves the part out altogether gets the same sentence.
    let csrf = csrf_from(&admin.get_text(WIZARD).await);
    let response = Multipart::new()
        .text("csrf_token", &csrf)
        .text("key_id", KEY_ID)
        .text("issuer_id", ISSUER_ID)
        .post(&admin, SAVE)
        .await;
    assert_refused(&app, pid, &empty_input, response, "private_key", NO_FILE).await;
});

// ---------------------------------------------------------------------------------------------------------------
// The file name
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    an_app_store_connect_api_key_named_authkey_is_refused_saying_which_tab,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = format!("AuthKey_{KEY_ID}.p8");
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes());
        let expected = PrivateKeyError::AppStoreConnectApiKey.to_string();
        assert!(expected.contains("In-App Purchase"));
        refuse(&app, &admin, pid, &upload, "private_key", &expected).await;
    }
);

both_backends!(
    a_subscription_key_file_named_after_another_key_id_is_refused,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let name = subscription_name(OTHER_KEY_ID);
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes());
        let expected = PrivateKeyError::KeyIdMismatch {
            file_key_id: OTHER_KEY_ID.into(),
            entered: KEY_ID.into(),
        }
        .to_string();
        refuse(&app, &admin, pid, &upload, "private_key", &expected).await;
    }
);

both_backends!(
    a_subscription_key_file_named_after_the_entered_key_id_is_accepted,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        // Browsers add " (1)" when the same name was downloaded before; it is still this key's file.
        let name = format!("SubscriptionKey_{KEY_ID} (1).p8");
        accept(
            &app,
            &admin,
            pid,
            &KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes()),
            &key,
        )
        .await;
    }
);

// ---------------------------------------------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    a_huge_upload_is_refused_early_and_nothing_is_stored,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let huge = vec![b'A'; 2 * 1024 * 1024];
        let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", &huge);
        let response = upload.to_wizard(&admin).await;
        assert_eq!(response.status().as_u16(), 400);
        let body = unescape(&response.text().await.unwrap());
        assert!(
            body.contains("The upload is far larger than a .p8 key (8 KiB at most)."),
            "{body}"
        );
        assert_nothing_stored(&app, pid).await;
    }
);

both_backends!(an_unexpected_form_field_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", key.pem.as_bytes());
    let response = upload
        .form(&admin, WIZARD)
        .await
        .text("project_id", "2")
        .post(&admin, SAVE)
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let body = unescape(&response.text().await.unwrap());
    assert!(
        body.contains("The form has an unexpected field “project_id”."),
        "{body}"
    );
    assert_no_key_material(&body, key.pem.as_bytes());
    assert_nothing_stored(&app, pid).await;
});

both_backends!(a_form_with_more_parts_than_expected_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let upload = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", key.pem.as_bytes());
    let mut form = upload.form(&admin, WIZARD).await;
    for _ in 0..10 {
        form = form.text("key_id", KEY_ID);
    }
    let response = form.post(&admin, SAVE).await;
    assert_eq!(response.status().as_u16(), 400);
    let body = unescape(&response.text().await.unwrap());
    assert!(
        body.contains("The form has more parts than expected."),
        "{body}"
    );
    assert_nothing_stored(&app, pid).await;
});

// Found by fuzzing (docs/fuzzing.md): a body that ends inside its closing boundary. actix-multipart waited for
// more of a body that had ended, and the request was never answered.
both_backends!(
    a_form_cut_short_in_its_last_boundary_is_refused_at_once,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let form = KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", key.pem.as_bytes())
            .form(&admin, WIZARD)
            .await;
        let response = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            form.post_cut(&admin, SAVE, 10),
        )
        .await
        .expect("an answer, not a wait for more of a body that has ended");
        assert_eq!(response.status().as_u16(), 400);
        let body = unescape(&response.text().await.unwrap());
        assert!(
            body.contains(
                "The upload could not be read. Choose the file again and resend the form."
            ),
            "{body}"
        );
        assert_no_key_material(&body, key.pem.as_bytes());
        assert_nothing_stored(&app, pid).await;
    }
);

// Found by fuzzing (docs/fuzzing.md): a boundary shorter than 4 characters and a short line before the first
// boundary made actix-multipart panic, and the request was dropped without an answer.
both_backends!(
    a_form_with_a_boundary_of_three_characters_is_refused,
    |app| {
        let (admin, pid) = admin_with_project(&app).await;
        let response = admin
        .client
        .post(admin.url(SAVE))
        .header("content-type", "multipart/form-data; boundary=abc")
        .body("--\n--abc\r\nContent-Disposition: form-data; name=\"key_id\"\r\n\r\nX\r\n--abc--\r\n")
        .send()
        .await
        .expect("an answer, not a dropped connection");
        assert_eq!(response.status().as_u16(), 400);
        let body = unescape(&response.text().await.unwrap());
        assert!(
            body.contains(
                "The upload could not be read. Choose the file again and resend the form."
            ),
            "{body}"
        );
        assert_nothing_stored(&app, pid).await;
    }
);

both_backends!(a_key_form_without_the_csrf_token_is_refused, |app| {
    let (admin, pid) = admin_with_project(&app).await;
    let key = TestKey::generate();
    let response = Multipart::new()
        .text("key_id", KEY_ID)
        .text("issuer_id", ISSUER_ID)
        .file("private_key", "key.p8", key.pem.as_bytes())
        .post(&admin, SAVE)
        .await;
    assert_eq!(response.status().as_u16(), 403);
    assert_nothing_stored(&app, pid).await;
});

// ---------------------------------------------------------------------------------------------------------------
// A successful save
// ---------------------------------------------------------------------------------------------------------------

both_backends!(
    a_saved_key_is_sealed_at_rest_shown_by_fingerprint_and_audited_but_never_shown,
    |app| {
        // Arrange
        let (admin, pid) = admin_with_project(&app).await;
        let key = TestKey::generate();
        let fingerprint = key.fingerprint();
        assert_eq!(
            key.parsed().public_key_fingerprint(),
            fingerprint,
            "the app and the test agree on the fingerprint"
        );
        let name = subscription_name(KEY_ID);

        // Act
        let response = KeyUpload::new(KEY_ID, ISSUER_ID, &name, key.pem.as_bytes())
            .to_wizard(&admin)
            .await;

        // Assert: the wizard shows what identifies the key, never the key.
        assert_redirect_to(&response, WIZARD);
        let page = admin.get(WIZARD).await;
        assert_eq!(page.status().as_u16(), 200);
        let html = unescape(&page.text().await.unwrap());
        assert!(
            html.contains(&format!("Key {KEY_ID} is saved and encrypted.")),
            "the flash confirms the save"
        );
        assert!(html.contains(&format!(
            "<code class=\"id\" id=\"current-key-id\">{KEY_ID}</code>"
        )));
        assert!(html.contains(&format!("<code class=\"id\">{ISSUER_ID}</code>")));
        assert!(html.contains(&format!(
            "<code class=\"id fingerprint\">{fingerprint}</code>"
        )));
        assert!(html.contains("by admin@example.com"), "who saved it");
        assert!(
            // (Step 1's App Store Connect API key form stays: it is another key.)
            !html.contains(&format!(
                "action=\"{SAVE}\" enctype=\"multipart/form-data\""
            )),
            "the form gives way to the key's facts"
        );
        assert_no_key_material(&html, key.pem.as_bytes());
        let history = admin.get_text(KEYS).await;
        assert!(history.contains(&fingerprint));
        assert_no_key_material(&history, key.pem.as_bytes());

        // The stored row opens to the same key.
        let opened = storedesk::keys::open_key_in_use(&app.store, &app.settings.keyring(), pid)
            .await
            .unwrap()
            .expect("key in use");
        assert_eq!(opened.signing_key.verifying_key(), &key.verifying_key());
        assert_eq!(
            (
                opened.key_id.as_str(),
                opened.issuer_id.as_str(),
                opened.fingerprint.as_str()
            ),
            (KEY_ID, ISSUER_ID, fingerprint.as_str())
        );

        // The ciphertext holds no form of the key, and no other master key opens it.
        let sealed = app.store.all_sealed_keys().await.unwrap();
        assert_eq!(sealed.len(), 1);
        let row = &sealed[0];
        assert_eq!(row.id, opened.row_id);
        assert_eq!(row.master_key_id, app.settings.master_key.key_id());
        for secret in key.secrets() {
            assert!(
                !contains_bytes(&row.sealed_key, &secret),
                "the sealed bytes contain key material"
            );
        }
        let stranger =
            storedesk::crypto::Keyring::new(storedesk::crypto::MasterKey::generate(), vec![]);
        assert!(
            storedesk::keys::open_key_in_use(&app.store, &stranger, pid)
                .await
                .is_err(),
            "another master key cannot open it"
        );
        let other = storedesk::crypto::MasterKey::generate();
        assert!(other.open(&row.sealed_key, b"").is_err());
        let aad = format!(
            "storedesk/apple-key/v1/project:{pid}/row:{}/kid:{KEY_ID}",
            row.id
        );
        let plain = app
            .settings
            .master_key
            .open(&row.sealed_key, aad.as_bytes())
            .unwrap();
        assert_eq!(
            ApplePrivateKey::from_pkcs8_der(&plain)
                .unwrap()
                .public_key_fingerprint(),
            fingerprint
        );
        assert!(
            other.open(&row.sealed_key, aad.as_bytes()).is_err(),
            "a different master key cannot open it"
        );
        let moved = format!(
            "storedesk/apple-key/v1/project:{}/row:{}/kid:{KEY_ID}",
            pid + 1,
            row.id
        );
        assert!(
            app.settings
                .master_key
                .open(&row.sealed_key, moved.as_bytes())
                .is_err(),
            "bound to its project"
        );

        // Audited with the fingerprint, never the key.
        let audit = key_audit(&app).await;
        assert_eq!(audit.len(), 1);
        let save = &audit[0];
        assert_eq!(
            (
                save.action.as_str(),
                save.target.as_str(),
                save.user_email.as_str()
            ),
            ("key.save", KEY_ID, "admin@example.com")
        );
        assert_eq!(save.project_id, Some(pid));
        assert!(
            save.detail.contains(&fingerprint) && save.detail.contains(ISSUER_ID),
            "{}",
            save.detail
        );
        assert_no_key_material(&save.detail, key.pem.as_bytes());
        assert!(!save.detail.contains(&hex::encode(key.secret.to_bytes())));
    }
);

both_backends!(a_lead_may_save_the_key_too, |app| {
    let lead = app.session(Role::Lead).await;
    assert_eq!(create_project(&lead, "demo").await.status().as_u16(), 303);
    let pid = project_id(&app, "demo").await;
    let key = TestKey::generate();
    accept(
        &app,
        &lead,
        pid,
        &KeyUpload::new(KEY_ID, ISSUER_ID, "key.p8", key.pem.as_bytes()),
        &key,
    )
    .await;
    assert_eq!(
        app.store.keys_of_project(pid).await.unwrap()[0].uploaded_by,
        "lead@example.com"
    );
});
