//! The published test PKI of Apple's App Store Server Library (tests/fixtures/apple/java-test-pki: a root, an
//! intermediate and a leaf with Apple's marker extensions) so that the harness can sign what the fuzzer makes and
//! reach the checks behind the signature; and the verifier the targets share, which trusts Apple Root CA - G3
//! (compiled in) and the two test roots of tests/fixtures, as `STOREDESK_APPLE_EXTRA_ROOTS` would make it.
use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use p256::pkcs8::EncodePrivateKey as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use storedesk::apple::SignedDataVerifier;

const LEAF_KEY: &str = include_str!("../../../fixtures/apple/java-test-pki/testLeaf.key");
const LEAF: &str = include_str!("../../../fixtures/apple/java-test-pki/testLeaf.pem");
const INTERMEDIATE: &str =
    include_str!("../../../fixtures/apple/java-test-pki/testIntermediate.pem");
const ROOT: &str = include_str!("../../../fixtures/apple/java-test-pki/testCA.pem");
const PYTHON_ROOT: &[u8] = include_bytes!("../../../fixtures/apple/python-tests/certs/testCA.der");

/// The DER inside a one-certificate PEM, which may follow OpenSSL's text dump of it as the fixtures do (they are
/// well-formed; this is not a parser under test).
pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).unwrap_or_default()
}

pub struct TestPki {
    /// ring signs several times faster than the p256 crate, which matters at millions of inputs.
    pub leaf_key: EcdsaKeyPair,
    rng: SystemRandom,
    /// Leaf, intermediate, root, as DER.
    pub chain: [Vec<u8>; 3],
    /// `{"alg":"ES256","x5c":[…]}`: the header Apple sends, with the test chain.
    pub header_json: String,
}

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let secret = p256::SecretKey::from_sec1_pem(LEAF_KEY).unwrap_or_else(|_| {
            // A broken fixture is a broken checkout; nothing the fuzzer controls.
            panic!("tests/fixtures/apple/java-test-pki/testLeaf.key is not a SEC1 PEM key")
        });
        let rng = SystemRandom::new();
        let leaf_key = secret
            .to_pkcs8_der()
            .ok()
            .and_then(|der| {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_bytes(), &rng)
                    .ok()
            })
            .unwrap_or_else(|| panic!("the test leaf key cannot sign"));
        let chain = [pem_der(LEAF), pem_der(INTERMEDIATE), pem_der(ROOT)];
        let x5c: Vec<String> = chain.iter().map(|der| STANDARD.encode(der)).collect();
        let header_json = serde_json::json!({"alg": "ES256", "x5c": x5c}).to_string();
        TestPki {
            leaf_key,
            rng,
            chain,
            header_json,
        }
    })
}

/// One verifier for the whole run, as the app has one: its chain cache stays warm between inputs.
pub fn verifier() -> &'static SignedDataVerifier {
    static VERIFIER: OnceLock<SignedDataVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let verifier = SignedDataVerifier::new()
            .with_extra_roots(vec![pki().chain[2].clone(), PYTHON_ROOT.to_vec()])
            .unwrap_or_else(|e| panic!("the test roots in tests/fixtures are not accepted: {e}"));
        // Without a chain that validates, everything the harness signs would stop at the certificates and the
        // checks behind them would go unfuzzed, silently.
        let [leaf, intermediate, _] = &pki().chain;
        let inside = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        if let Err(e) = verifier.validate_chain(leaf, intermediate, inside) {
            panic!("the test chain in tests/fixtures does not validate: {e}");
        }
        verifier
    })
}

/// A compact JWS of `header_json` and `payload_json` (any bytes), signed ES256 with the test leaf (ECDSA's nonce
/// is random, so the signature differs between calls; nothing under test depends on its bytes).
pub fn sign(header_json: &[u8], payload_json: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload_json)
    );
    let pki = pki();
    match pki.leaf_key.sign(&pki.rng, signing_input.as_bytes()) {
        Ok(signature) => format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ),
        Err(_) => panic!("ring could not sign"),
    }
}

/// [`sign`] with Apple's header and the test chain.
pub fn sign_payload(payload_json: &[u8]) -> String {
    sign(pki().header_json.as_bytes(), payload_json)
}
