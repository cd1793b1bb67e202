//! A software passkey for the tests, written from the WebAuthn Level 2 spec with p256 and a few lines of CBOR,
//! independent of webauthn-rs (which the server uses): it answers `navigator.credentials.create` and `.get`
//! options with "none" attestation and ES256 signatures, as a browser would hand them to storedesk, and lets a test
//! bend any part of the answer (challenge, origin, counter, type).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// CBOR (RFC 8949) heads and items, only the kinds WebAuthn's attestation object and COSE key use.
fn head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn int(v: i64, out: &mut Vec<u8>) {
    if v >= 0 {
        head(0, v as usize, out)
    } else {
        head(1, (-1 - v) as usize, out)
    }
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    head(2, b.len(), out);
    out.extend_from_slice(b);
}

fn text(t: &str, out: &mut Vec<u8>) {
    head(3, t.len(), out);
    out.extend_from_slice(t.as_bytes());
}

pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub counter: u32,
    pub rp_id: String,
    pub origin: String,
}

/// What a test may bend in one answer.
#[derive(Clone, Debug, Default)]
pub struct Bend {
    pub challenge: Option<String>,
    pub origin: Option<String>,
    pub rp_id: Option<String>,
    pub ceremony_type: Option<String>,
    /// Authenticator data flags (UP 0x01, UV 0x04, AT 0x40).
    pub flags: Option<u8>,
}

impl SoftPasskey {
    /// A new passkey for the console at `origin` (`http://localhost:PORT`), whose RP id is its host.
    pub fn new(origin: &str) -> SoftPasskey {
        let host = origin
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split([':', '/']).next())
            .expect("origin has a host")
            .to_string();
        SoftPasskey {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id: rand::random::<[u8; 32]>().to_vec(),
            counter: 0,
            rp_id: host,
            origin: origin.to_string(),
        }
    }

    fn client_data(&self, kind: &str, challenge: &str, bend: &Bend) -> Vec<u8> {
        json!({
            "type": bend.ceremony_type.as_deref().unwrap_or(kind),
            "challenge": bend.challenge.as_deref().unwrap_or(challenge),
            "origin": bend.origin.as_deref().unwrap_or(&self.origin),
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn auth_data_head(&self, flags: u8, bend: &Bend) -> Vec<u8> {
        let rp_id = bend.rp_id.as_deref().unwrap_or(&self.rp_id);
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(bend.flags.unwrap_or(flags));
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// The COSE_Key (RFC 9053) of the public key: EC2, ES256, P-256, x and y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = Vec::new();
        head(5, 5, &mut out);
        int(1, &mut out);
        int(2, &mut out);
        int(3, &mut out);
        int(-7, &mut out);
        int(-1, &mut out);
        int(1, &mut out);
        int(-2, &mut out);
        bytes(point.x().expect("x").as_slice(), &mut out);
        int(-3, &mut out);
        bytes(point.y().expect("y").as_slice(), &mut out);
        out
    }

    /// The answer to `navigator.credentials.create` for `options` (`{"publicKey": …}` as the server sent it).
    pub fn register(&mut self, options: &Value) -> Value {
        self.register_bent(options, &Bend::default())
    }

    pub fn register_bent(&mut self, options: &Value, bend: &Bend) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("options carry a challenge");
        let client_data = self.client_data("webauthn.create", challenge, bend);
        let mut auth_data = self.auth_data_head(0x45, bend);
        auth_data.extend([0u8; 16]); // AAGUID: none
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        head(5, 3, &mut attestation);
        text("fmt", &mut attestation);
        text("none", &mut attestation);
        text("attStmt", &mut attestation);
        head(5, 0, &mut attestation);
        text("authData", &mut attestation);
        bytes(&auth_data, &mut attestation);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// The answer to `navigator.credentials.get` for `options`; the counter moves on by one first.
    pub fn assert(&mut self, options: &Value) -> Value {
        self.counter += 1;
        self.assert_bent(options, &Bend::default())
    }

    /// An answer with the counter as it is now (not moved on), bent as asked.
    pub fn assert_bent(&self, options: &Value, bend: &Bend) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("options carry a challenge");
        let client_data = self.client_data("webauthn.get", challenge, bend);
        let auth_data = self.auth_data_head(0x05, bend);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": null,
            },
            "extensions": {},
        })
    }
}
