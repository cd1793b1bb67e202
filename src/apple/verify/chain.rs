//! Certificate path rules: Apple's leaf ← intermediate ← one configured root, the marker OIDs Apple puts in
//! its signing certificates, and the roots a verifier is given (DER or PEM).

use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use sha2::{Digest, Sha256, Sha384};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Header, Reader, SliceReader, Tag};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::name::Name;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use super::cache::CacheEntry;
use super::jws::B64STD;
use super::{SignedDataVerifier, VerifyError};

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// Apple marks its receipt-signing leaves and its WWDR intermediates with these; a chain lacking them
/// could be any certificate Apple's root ever issued.
pub const LEAF_MARKER_OID: &str = "1.2.840.113635.100.6.11.1";
pub const INTERMEDIATE_MARKER_OID: &str = "1.2.840.113635.100.6.2.1";
const OID_LEAF_MARKER: ObjectIdentifier = ObjectIdentifier::new_unwrap(LEAF_MARKER_OID);
const OID_INTERMEDIATE_MARKER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap(INTERMEDIATE_MARKER_OID);

#[derive(Clone)]
pub(super) enum EcKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    pub(super) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, String> {
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err("its key is not an elliptic-curve key".into());
        }
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or("its key names no curve")?
            .decode_as()
            .map_err(|_| "its key's curve is not a named curve")?;
        let point = spki.subject_public_key.raw_bytes();
        if curve == OID_P256 {
            p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(EcKey::P256)
                .map_err(|_| "its P-256 public key is invalid".into())
        } else if curve == OID_P384 {
            p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(EcKey::P384)
                .map_err(|_| "its P-384 public key is invalid".into())
        } else {
            Err(format!("its key uses an unsupported curve ({curve})"))
        }
    }

    /// `tbs` signed with ECDSA and SHA-256 or SHA-384 (DER signature, as in certificates).
    pub(super) fn verifies(
        &self,
        alg: &ObjectIdentifier,
        tbs: &[u8],
        der_signature: &[u8],
    ) -> bool {
        let digest: Vec<u8> = if *alg == OID_ECDSA_SHA256 {
            Sha256::digest(tbs).to_vec()
        } else if *alg == OID_ECDSA_SHA384 {
            Sha384::digest(tbs).to_vec()
        } else {
            return false;
        };
        match self {
            EcKey::P256(key) => p256::ecdsa::Signature::from_der(der_signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
            EcKey::P384(key) => p384::ecdsa::Signature::from_der(der_signature)
                .map(|sig| key.verify_prehash(&digest, &sig).is_ok())
                .unwrap_or(false),
        }
    }
}

struct ParsedCert<'a> {
    cert: Certificate,
    tbs: &'a [u8],
}

impl<'a> ParsedCert<'a> {
    fn parse(der: &'a [u8], which: &'static str) -> Result<ParsedCert<'a>, VerifyError> {
        let bad = |reason: String| VerifyError::BadCertificate { which, reason };
        // Before the decoder, which allocates what a length says before it reads (see `der_lengths`).
        if !crate::domain::der_lengths_fit(der) {
            return Err(bad("not DER X.509: a length runs past the end".into()));
        }
        let cert = Certificate::from_der(der).map_err(|e| bad(format!("not DER X.509: {e}")))?;
        let tbs = tbs_bytes(der).map_err(|e| bad(format!("not DER X.509: {e}")))?;
        Ok(ParsedCert { cert, tbs })
    }

    fn subject(&self) -> &Name {
        &self.cert.tbs_certificate.subject
    }

    fn issuer(&self) -> &Name {
        &self.cert.tbs_certificate.issuer
    }

    fn key(&self) -> Result<EcKey, String> {
        EcKey::from_spki(&self.cert.tbs_certificate.subject_public_key_info)
    }

    fn signed_by(&self, issuer: &EcKey) -> bool {
        let alg = &self.cert.signature_algorithm.oid;
        // The algorithm is stated twice; a mismatch is a classic substitution trick.
        if *alg != self.cert.tbs_certificate.signature.oid {
            return false;
        }
        match self.cert.signature.as_bytes() {
            Some(sig) => issuer.verifies(alg, self.tbs, sig),
            None => false,
        }
    }

    fn has_extension(&self, oid: &ObjectIdentifier) -> bool {
        self.extension(oid).is_some()
    }

    fn extension(&self, oid: &ObjectIdentifier) -> Option<&[u8]> {
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == *oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn validity_ms(&self) -> (i64, i64) {
        let v = &self.cert.tbs_certificate.validity;
        (
            duration_ms(v.not_before.to_unix_duration()),
            duration_ms(v.not_after.to_unix_duration()),
        )
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The exact signed bytes of the TBSCertificate, taken from the input rather than re-encoded.
fn tbs_bytes(der: &[u8]) -> x509_cert::der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    let outer = Header::decode(&mut reader)?;
    outer.tag.assert_eq(Tag::Sequence)?;
    reader.tlv_bytes()
}

pub(super) struct TrustAnchor {
    subject: Name,
    key: EcKey,
    not_before_ms: i64,
    not_after_ms: i64,
}

impl TrustAnchor {
    pub(super) fn from_der(der: &[u8]) -> Result<Self, VerifyError> {
        let parsed =
            ParsedCert::parse(der, "root").map_err(|e| VerifyError::InvalidRoot(e.to_string()))?;
        let key = parsed.key().map_err(VerifyError::InvalidRoot)?;
        let (not_before_ms, not_after_ms) = parsed.validity_ms();
        Ok(TrustAnchor {
            subject: parsed.subject().clone(),
            key,
            not_before_ms,
            not_after_ms,
        })
    }
}

/// A root given as DER, or as PEM holding one or more certificates (text before or between the blocks,
/// such as `openssl x509 -text` output, is ignored).
pub(super) fn root_ders(input: &[u8]) -> Result<Vec<Vec<u8>>, VerifyError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = match std::str::from_utf8(input) {
        Ok(t) if t.contains("-----BEGIN") => t,
        _ => return Ok(vec![input.to_vec()]),
    };
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or_else(|| VerifyError::InvalidRoot("PEM block without END line".into()))?;
        let b64: String = after[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        out.push(
            B64STD
                .decode(b64)
                .map_err(|_| VerifyError::InvalidRoot("PEM body is not base64".into()))?,
        );
        rest = &after[end + END.len()..];
    }
    if out.is_empty() {
        return Err(VerifyError::InvalidRoot(
            "PEM without a CERTIFICATE block".into(),
        ));
    }
    Ok(out)
}

impl SignedDataVerifier {
    /// Everything about the chain that doesn't depend on the date, so the result can be cached.
    pub(super) fn validate_structure(
        &self,
        leaf_der: &[u8],
        intermediate_der: &[u8],
    ) -> Result<CacheEntry, VerifyError> {
        let leaf = ParsedCert::parse(leaf_der, "leaf")?;
        let intermediate = ParsedCert::parse(intermediate_der, "intermediate")?;

        let intermediate_key =
            intermediate
                .key()
                .map_err(|reason| VerifyError::BadCertificate {
                    which: "intermediate",
                    reason,
                })?;
        if leaf.issuer() != intermediate.subject() || !leaf.signed_by(&intermediate_key) {
            return Err(VerifyError::UntrustedChain(
                "the leaf certificate was not issued by the intermediate",
            ));
        }
        let intermediate_is_ca = intermediate
            .extension(&OID_BASIC_CONSTRAINTS)
            .and_then(|v| BasicConstraints::from_der(v).ok())
            .is_some_and(|bc| bc.ca);
        if !intermediate_is_ca {
            return Err(VerifyError::UntrustedChain(
                "the intermediate certificate is not a certificate authority",
            ));
        }
        // Several roots may share a name (re-issued roots); the one whose key verifies wins.
        let anchor = self
            .roots
            .iter()
            .find(|root| {
                root.subject == *intermediate.issuer() && intermediate.signed_by(&root.key)
            })
            .ok_or(VerifyError::UntrustedChain(
                "the intermediate certificate was not issued by a trusted root",
            ))?;

        if !leaf.has_extension(&OID_LEAF_MARKER) {
            return Err(VerifyError::MissingMarkerOid {
                which: "leaf",
                oid: LEAF_MARKER_OID,
            });
        }
        if !intermediate.has_extension(&OID_INTERMEDIATE_MARKER) {
            return Err(VerifyError::MissingMarkerOid {
                which: "intermediate",
                oid: INTERMEDIATE_MARKER_OID,
            });
        }
        if let Some(ku) = leaf.extension(&OID_KEY_USAGE) {
            let ok = KeyUsage::from_der(ku).is_ok_and(|ku| ku.digital_signature());
            if !ok {
                return Err(VerifyError::BadCertificate {
                    which: "leaf",
                    reason: "its key usage does not allow digital signatures".into(),
                });
            }
        }
        let leaf_key = match leaf.key() {
            Ok(EcKey::P256(key)) => key,
            Ok(EcKey::P384(_)) => {
                return Err(VerifyError::BadCertificate {
                    which: "leaf",
                    reason: "its key is P-384, but ES256 needs a P-256 key".into(),
                })
            }
            Err(reason) => {
                return Err(VerifyError::BadCertificate {
                    which: "leaf",
                    reason,
                })
            }
        };

        let (leaf_nb, leaf_na) = leaf.validity_ms();
        let (int_nb, int_na) = intermediate.validity_ms();
        Ok(CacheEntry {
            leaf_point: leaf_key.to_encoded_point(false).as_bytes().into(),
            leaf_key,
            not_before_ms: leaf_nb.max(int_nb).max(anchor.not_before_ms),
            not_after_ms: leaf_na.min(int_na).min(anchor.not_after_ms),
            inserted: Instant::now(),
        })
    }
}

pub(super) fn parse_roots(roots: Vec<Vec<u8>>) -> Result<Vec<TrustAnchor>, VerifyError> {
    let mut anchors = Vec::new();
    for input in roots {
        for der in root_ders(&input)? {
            anchors.push(TrustAnchor::from_der(&der)?);
        }
    }
    Ok(anchors)
}

pub(super) fn check_window(entry: &CacheEntry, at: DateTime<Utc>) -> Result<(), VerifyError> {
    let at_ms = at.timestamp_millis();
    if at_ms < entry.not_before_ms || at_ms > entry.not_after_ms {
        return Err(VerifyError::NotValidAtDate(at));
    }
    Ok(())
}

pub(super) fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
