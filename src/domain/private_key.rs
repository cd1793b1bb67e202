//! The In-App Purchase key (`.p8`): a PEM PKCS#8 EC private key on P-256, as App Store Connect downloads it.
//!
//! People upload the wrong file surprisingly often (an App Store Connect API key, a certificate, a key
//! re-saved by a tool), so every refusal names what the file actually is and where the right one comes from.
//! Damage done by copy and paste (lost or escaped line breaks) is repaired, because the key inside is still good.
use std::fmt;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use pkcs8::der::Decode;
use pkcs8::ObjectIdentifier;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::key_id::KeyId;
use crate::domain::shapes::is_key_id_shape;

/// Apple's `.p8` files are about 250 bytes; anything this big is some other file.
pub const MAX_P8_BYTES: usize = 8 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// Padding and trailing bits are not checked: the PKCS#8 parser that follows catches real damage, and
/// hand-edited files often lose their `=`.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Fixed DER around the 65-byte uncompressed P-256 point: SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 }.
const SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// PKCS#8 v1 { id-ecPublicKey, prime256v1, ECPrivateKey { 1, <32-byte scalar>, [1] <point> } } up to the scalar.
const PKCS8_PREFIX: [u8; 36] = [
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02,
    0x01, 0x01, 0x04, 0x20,
];
/// Between the scalar and the point: `[1] BIT STRING` headers.
const PKCS8_MIDDLE: [u8; 5] = [0xa1, 0x44, 0x03, 0x42, 0x00];

/// Why an uploaded `.p8` (or its file name) was refused. `Display` is the sentence shown next to the file field;
/// none of them contains key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrivateKeyError {
    #[error(
        "The file is larger than 8 KiB, so it is not an In-App Purchase key (Apple's .p8 files are about \
         250 bytes). Choose the SubscriptionKey_….p8 file downloaded from App Store Connect."
    )]
    TooLarge,
    #[error("The file is empty. Choose the SubscriptionKey_….p8 file downloaded from App Store Connect.")]
    Empty,
    #[error(
        "This is a binary file, not a .p8 key. A .p8 is a small text file that starts with \
         -----BEGIN PRIVATE KEY-----; choose the SubscriptionKey_….p8 file downloaded from App Store Connect."
    )]
    Binary,
    #[error(
        "This is a private key in binary (DER) form. Upload the .p8 text file exactly as downloaded from \
         App Store Connect; it starts with -----BEGIN PRIVATE KEY-----."
    )]
    Der,
    #[error(
        "The -----BEGIN PRIVATE KEY----- and -----END PRIVATE KEY----- lines are missing. Upload the .p8 file \
         exactly as downloaded from App Store Connect."
    )]
    MissingArmor,
    #[error(
        "This is not a .p8 key: a .p8 is a text file that starts with -----BEGIN PRIVATE KEY-----. Choose the \
         SubscriptionKey_….p8 file downloaded from App Store Connect."
    )]
    NotPem,
    #[error(
        "The file holds {count} PEM blocks, but a .p8 holds exactly one private key. Upload the \
         SubscriptionKey_….p8 file as downloaded, without other keys or certificates."
    )]
    MultipleBlocks { count: usize },
    #[error("The file ends before its -----END {label}----- line, so it looks cut short. Upload the whole .p8 file.")]
    Truncated { label: String },
    #[error(
        "This key is protected with a password. Apple's .p8 keys are not encrypted: upload the original \
         SubscriptionKey_….p8 file downloaded from App Store Connect."
    )]
    Encrypted,
    #[error(
        "This is an RSA key. Apple's In-App Purchase keys are elliptic-curve (P-256) keys: upload the .p8 file \
         made under Users and Access → Integrations → In-App Purchase."
    )]
    Rsa,
    #[error(
        "This is an elliptic-curve key on {curve}, but Apple's In-App Purchase keys use P-256. Upload the .p8 \
         file made under Users and Access → Integrations → In-App Purchase."
    )]
    WrongCurve { curve: String },
    #[error(
        "This is a key of type {algorithm}. Apple's In-App Purchase keys are elliptic-curve (P-256) keys: \
         upload the .p8 file made under Users and Access → Integrations → In-App Purchase."
    )]
    OtherAlgorithm { algorithm: String },
    #[error(
        "This file starts with -----BEGIN EC PRIVATE KEY----- (a SEC1 key, probably converted by a tool). \
         Apple's .p8 is a PKCS#8 file that starts with -----BEGIN PRIVATE KEY-----: upload the original file \
         downloaded from App Store Connect."
    )]
    Sec1,
    #[error(
        "This is a certificate, not a private key. Upload the .p8 private key downloaded from \
         Users and Access → Integrations → In-App Purchase."
    )]
    Certificate,
    #[error(
        "This is a public key. storedesk needs the private key: the .p8 file downloaded from \
         Users and Access → Integrations → In-App Purchase."
    )]
    PublicKey,
    #[error(
        "The file holds a “{label}” block, not a private key. A .p8 starts with -----BEGIN PRIVATE KEY-----; \
         choose the SubscriptionKey_….p8 file downloaded from App Store Connect."
    )]
    UnexpectedBlock { label: String },
    #[error(
        "The text between the BEGIN and END lines is not valid base64, so the key cannot be read. Upload the \
         .p8 file exactly as downloaded, without edits."
    )]
    BadBase64,
    #[error(
        "The key inside the file is damaged: it cannot be read as a PKCS#8 private key. Upload the .p8 file \
         exactly as downloaded from App Store Connect."
    )]
    Malformed,
    #[error(
        "This is an App Store Connect API key (AuthKey_….p8). storedesk needs an In-App Purchase key \
         (SubscriptionKey_….p8): make one under Users and Access → Integrations → In-App Purchase, not on the \
         App Store Connect API tab."
    )]
    AppStoreConnectApiKey,
    #[error(
        "This file belongs to key {file_key_id}, not to the Key ID entered ({entered}). Upload \
         SubscriptionKey_{entered}.p8, or correct the Key ID."
    )]
    KeyIdMismatch {
        file_key_id: String,
        entered: String,
    },
}

use PrivateKeyError as E;

/// A parsed In-App Purchase key. The secret is zeroized on drop and never printed.
#[derive(Clone)]
pub struct ApplePrivateKey {
    secret: p256::SecretKey,
}

impl ApplePrivateKey {
    /// Parses the bytes of an uploaded `.p8`.
    pub fn parse(bytes: &[u8]) -> Result<Self, PrivateKeyError> {
        // Before anything else, so that no work is spent on a file that cannot be a key.
        if bytes.len() > MAX_P8_BYTES {
            return Err(E::TooLarge);
        }
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(E::Empty);
        }
        if looks_like_pkcs8_der(bytes) {
            return Err(E::Der);
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => text,
            _ => return Err(E::Binary),
        };
        let blocks = pem_blocks(text)?;
        let block = match blocks.as_slice() {
            [] => return Err(without_armor(text)),
            [block] => block,
            more => return Err(E::MultipleBlocks { count: more.len() }),
        };
        match block.label {
            "PRIVATE KEY" => {
                let body = block.body.ok_or_else(|| E::Truncated {
                    label: block.label.to_owned(),
                })?;
                let der = decode_body(body)?;
                Self::from_pkcs8_der(&der)
            }
            "ENCRYPTED PRIVATE KEY" => Err(E::Encrypted),
            "RSA PRIVATE KEY" => Err(E::Rsa),
            "EC PRIVATE KEY" if block.body.is_some_and(is_legacy_encrypted) => Err(E::Encrypted),
            "EC PRIVATE KEY" => Err(E::Sec1),
            "CERTIFICATE" | "TRUSTED CERTIFICATE" | "X509 CERTIFICATE" => Err(E::Certificate),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY" => Err(E::PublicKey),
            other => Err(E::UnexpectedBlock {
                label: other.to_owned(),
            }),
        }
    }

    /// Reads a PKCS#8 DER document, e.g. one decrypted from the database.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, PrivateKeyError> {
        let info = match pkcs8::PrivateKeyInfo::from_der(der) {
            Ok(info) => info,
            Err(_) => return Err(identify_other_der(der)),
        };
        let algorithm = info.algorithm.oid;
        if algorithm == RSA_ENCRYPTION || algorithm == RSASSA_PSS {
            return Err(E::Rsa);
        }
        if algorithm != ID_EC_PUBLIC_KEY {
            return Err(E::OtherAlgorithm {
                algorithm: algorithm_name(algorithm),
            });
        }
        let curve = info.algorithm.parameters_oid().map_err(|_| E::Malformed)?;
        if curve != SECP256R1 {
            return Err(E::WrongCurve {
                curve: curve_name(curve),
            });
        }
        let secret = p256::SecretKey::try_from(info).map_err(|_| E::Malformed)?;
        Ok(Self { secret })
    }

    /// The key for signing API tokens and offer signatures.
    pub fn signing_key(&self) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from(&self.secret)
    }

    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from(self.secret.public_key())
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        let point = self.secret.public_key().to_encoded_point(false);
        let mut der = Vec::with_capacity(SPKI_PREFIX.len() + point.len());
        der.extend_from_slice(&SPKI_PREFIX);
        der.extend_from_slice(point.as_bytes());
        der
    }

    /// SHA-256 of the SubjectPublicKeyInfo DER as `ab:cd:…`: what the UI shows instead of the key.
    pub fn public_key_fingerprint(&self) -> String {
        let digest = Sha256::digest(self.public_key_der());
        let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02x}")).collect();
        pairs.join(":")
    }

    /// PKCS#8 DER (without inner curve parameters, as OpenSSL 3 and the `p256` crate write it), for sealing
    /// under the master key.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let scalar = Zeroizing::new(self.secret.to_bytes());
        let point = self.secret.public_key().to_encoded_point(false);
        let mut der = Zeroizing::new(Vec::with_capacity(
            PKCS8_PREFIX.len() + scalar.len() + PKCS8_MIDDLE.len() + point.len(),
        ));
        der.extend_from_slice(&PKCS8_PREFIX);
        der.extend_from_slice(&scalar);
        der.extend_from_slice(&PKCS8_MIDDLE);
        der.extend_from_slice(point.as_bytes());
        der
    }

    /// The key as a `-----BEGIN PRIVATE KEY-----` PEM with LF line ends.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        let der = self.to_pkcs8_der();
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*der));
        let mut pem = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for (i, c) in b64.chars().enumerate() {
            if i > 0 && i % 64 == 0 {
                pem.push('\n');
            }
            pem.push(c);
        }
        pem.push_str("\n-----END PRIVATE KEY-----\n");
        pem
    }
}

impl fmt::Debug for ApplePrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplePrivateKey")
            .field("fingerprint", &self.public_key_fingerprint())
            .finish_non_exhaustive()
    }
}

/// Refuses a file name that shows the upload is the wrong key. Apple names In-App Purchase key downloads
/// `SubscriptionKey_<KEYID>.p8` and App Store Connect API keys `AuthKey_<KEYID>.p8`; any other name is accepted,
/// because people rename files.
pub fn check_file_name(file_name: &str, key_id: &KeyId) -> Result<(), PrivateKeyError> {
    // Some browsers send the whole client-side path.
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    if strip_prefix_ignore_case(name, "AuthKey_").is_some() {
        return Err(E::AppStoreConnectApiKey);
    }
    let Some(rest) = strip_prefix_ignore_case(name, "SubscriptionKey_") else {
        return Ok(());
    };
    let stem = [".p8.txt", ".p8", ".txt", ".pem"]
        .iter()
        .find_map(|ext| strip_suffix_ignore_case(rest, ext))
        .unwrap_or(rest);
    let Some((file_key_id, tail)) = stem.split_at_checked(crate::domain::key_id::KEY_ID_LEN) else {
        return Ok(());
    };
    if is_key_id_shape(file_key_id) && is_download_suffix(tail) && file_key_id != key_id.as_str() {
        return Err(E::KeyIdMismatch {
            file_key_id: file_key_id.to_owned(),
            entered: key_id.as_str().to_owned(),
        });
    }
    Ok(())
}

/// What the Step 3 form does with an upload: the content first, then the name.
pub fn parse_upload(
    file_name: &str,
    bytes: &[u8],
    key_id: &KeyId,
) -> Result<ApplePrivateKey, PrivateKeyError> {
    let key = ApplePrivateKey::parse(bytes)?;
    check_file_name(file_name, key_id)?;
    Ok(key)
}

/// Browsers add ` (1)`, `(1)`, `-1` or ` 1` when a file of the same name was downloaded before.
fn is_download_suffix(tail: &str) -> bool {
    if tail.is_empty() {
        return true;
    }
    let t = tail.strip_prefix([' ', '-', '_']).unwrap_or(tail);
    let digits = t
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

struct PemBlock<'a> {
    label: &'a str,
    /// `None` when the matching END line is missing.
    body: Option<&'a str>,
}

/// Finds the BEGIN/END pairs by their dashes alone, so that armor on one line with the body, or with
/// literal `\n` between, is still found. Text outside the blocks is ignored, as RFC 7468 allows.
fn pem_blocks(text: &str) -> Result<Vec<PemBlock<'_>>, PrivateKeyError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let label_end = after_begin.find(DASHES).ok_or(E::NotPem)?;
        let label = &after_begin[..label_end];
        if !is_plausible_label(label) {
            return Err(E::NotPem);
        }
        let after_label = &after_begin[label_end + DASHES.len()..];
        let end_marker = format!("-----END {label}-----");
        match after_label.find(&end_marker) {
            Some(end) => {
                blocks.push(PemBlock {
                    label,
                    body: Some(&after_label[..end]),
                });
                rest = &after_label[end + end_marker.len()..];
            }
            None => {
                blocks.push(PemBlock { label, body: None });
                rest = after_label;
            }
        }
    }
    Ok(blocks)
}

/// Labels are short upper-case words; this keeps arbitrary text out of the error message.
fn is_plausible_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 40
        && label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
}

/// OpenSSL's traditional encrypted PEM puts these headers inside the block.
fn is_legacy_encrypted(body: &str) -> bool {
    body.contains("Proc-Type:") && body.contains("ENCRYPTED")
}

/// Keeps only the base64 characters: line breaks of any kind, spaces, and line breaks that a copy through
/// JSON or a shell turned into the two characters `\n` are dropped; JSON's `\/` becomes `/`.
fn clean_base64(body: &str) -> Result<Zeroizing<String>, PrivateKeyError> {
    let mut out = Zeroizing::new(String::with_capacity(body.len()));
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '\\' => {
                while chars.next_if_eq(&'\\').is_some() {}
                match chars.next() {
                    Some('n' | 'r' | 't') => {}
                    Some('/') => out.push('/'),
                    _ => return Err(E::BadBase64),
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

fn decode_body(body: &str) -> Result<Zeroizing<Vec<u8>>, PrivateKeyError> {
    let cleaned = clean_base64(body)?;
    if cleaned.is_empty() {
        return Err(E::Malformed);
    }
    LENIENT_BASE64
        .decode(cleaned.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| E::BadBase64)
}

fn looks_like_pkcs8_der(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30)
        && (pkcs8::PrivateKeyInfo::from_der(bytes).is_ok()
            || pkcs8::EncryptedPrivateKeyInfo::from_der(bytes).is_ok())
}

/// Text with no armor at all: if it is the base64 of a key, the user copied only the middle of the file.
fn without_armor(text: &str) -> PrivateKeyError {
    let is_bare_key =
        decode_body(text).is_ok_and(|der| pkcs8::PrivateKeyInfo::from_der(&der).is_ok());
    if is_bare_key {
        E::MissingArmor
    } else {
        E::NotPem
    }
}

/// Labels lie sometimes (a tool writing `PRIVATE KEY` around anything); name what the DER really holds.
fn identify_other_der(der: &[u8]) -> PrivateKeyError {
    // The certificate decoder allocates what a length says before it reads (see `der_lengths`).
    if !crate::domain::der_lengths_fit(der) {
        E::Malformed
    } else if pkcs8::EncryptedPrivateKeyInfo::from_der(der).is_ok() {
        E::Encrypted
    } else if x509_cert::Certificate::from_der(der).is_ok() {
        E::Certificate
    } else if pkcs8::SubjectPublicKeyInfoRef::from_der(der).is_ok() {
        E::PublicKey
    } else {
        E::Malformed
    }
}

fn curve_name(oid: ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.33" => "P-224",
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.10" => "secp256k1",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        other => return format!("the curve with OID {other}"),
    };
    name.to_owned()
}

fn algorithm_name(oid: ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10046.2.1" => "Diffie-Hellman",
        other => return format!("OID {other}"),
    };
    name.to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
