//! Online revocation checks (OCSP, RFC 6960) of a notification's certificate chain, as Apple's libraries make
//! them with online checks on: one request for the leaf (issuer: the intermediate) and one for the intermediate
//! (issuer: the root), each with a SHA-256 CertID, POSTed to the certificate's own AIA OCSP URL. This file builds
//! the requests and judges the answers; it does no I/O, so every rule here is unit-tested without a network.
//!
//! The ASN.1 types are x509-ocsp's (RustCrypto, on our x509-cert 0.2 / der 0.7); the signature check reuses the
//! chain's ECDSA code (P-256/P-384 with SHA-256/384, what Apple's certificates use).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use x509_cert::der::asn1::{Null, ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, ExtendedKeyUsage};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest, Version,
};

use super::chain::EcKey;

mod online;
pub use online::{ChainStatus, OnlineChecker, CACHE_CAPACITY, DEADLINE, GOOD_FOR};

/// The media types of RFC 6960 Appendix A.
pub const REQUEST_CONTENT_TYPE: &str = "application/ocsp-request";
pub const RESPONSE_CONTENT_TYPE: &str = "application/ocsp-response";
/// How far the responder's clock may be from ours (Apple's libraries allow the same).
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const OID_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const OID_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");

/// What one certificate's check says. `Unreachable` is ours to retry (503); the others are the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspOutcome {
    Good,
    Revoked,
    /// The answer could not be trusted or did not say `good` (unknown, wrong CertID, bad signature, stale…).
    /// The reason is for logs: it never quotes the answer's bytes.
    BadAnswer(String),
    /// No answer: connection refused or closed, a status other than 200, or the deadline passed.
    Unreachable(String),
}

/// One certificate's OCSP request, ready to POST, and what its answer must match.
#[derive(Debug, Clone)]
pub struct OcspQuery {
    /// The certificate's AIA OCSP URL.
    pub url: String,
    /// The DER of the request (the body of the POST).
    pub body: Vec<u8>,
    cert_id: CertId,
    issuer: Certificate,
    /// The certificate's validity, UNIX ms.
    not_before_ms: i64,
    not_after_ms: i64,
}

impl OcspQuery {
    /// The request for `cert_der` issued by `issuer_der`. `Err` (a `BadAnswer` reason) when either cannot be
    /// read or the certificate names no OCSP URL: such a chain cannot be checked online.
    pub fn new(cert_der: &[u8], issuer_der: &[u8]) -> Result<Self, String> {
        let cert = Certificate::from_der(cert_der)
            .map_err(|e| format!("the certificate could not be read ({e})"))?;
        let issuer = Certificate::from_der(issuer_der)
            .map_err(|e| format!("the issuer's certificate could not be read ({e})"))?;
        let url = ocsp_url(&cert)
            .ok_or_else(|| "the certificate names no OCSP responder (AIA)".to_owned())?;
        let cert_id = sha256_cert_id(&issuer, &cert)?;
        let request = OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: cert_id.clone(),
                    single_request_extensions: None,
                }],
                request_extensions: None,
            },
            optional_signature: None,
        };
        let body = request
            .to_der()
            .map_err(|e| format!("the request could not be encoded ({e})"))?;
        let validity = &cert.tbs_certificate.validity;
        Ok(OcspQuery {
            url,
            body,
            cert_id,
            issuer,
            not_before_ms: millis(validity.not_before.to_unix_duration()),
            not_after_ms: millis(validity.not_after.to_unix_duration()),
        })
    }

    /// Whether the certificate is valid at `now`: with online checks on, Apple's libraries validate the chain at
    /// the current time, not at the payload's signed date.
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        within(self.validity(), now)
    }

    /// The certificate's (notBefore, notAfter), UNIX ms.
    pub fn validity(&self) -> (i64, i64) {
        (self.not_before_ms, self.not_after_ms)
    }

    /// Judges the responder's answer (the body of a 200) at `now`: `Good`, `Revoked`, or `BadAnswer`.
    pub fn judge(&self, answer: &[u8], now: DateTime<Utc>) -> OcspOutcome {
        match self.judge_inner(answer, now) {
            Ok(outcome) => outcome,
            Err(reason) => OcspOutcome::BadAnswer(reason),
        }
    }

    fn judge_inner(&self, answer: &[u8], now: DateTime<Utc>) -> Result<OcspOutcome, String> {
        if !crate::domain::der_lengths_fit(answer) {
            return Err("the answer is not DER: a length runs past the end".into());
        }
        let response =
            OcspResponse::from_der(answer).map_err(|e| format!("the answer is not OCSP ({e})"))?;
        match response.response_status {
            OcspResponseStatus::Successful => {}
            // The responder could not answer now: no verdict on the certificate, so Apple's retry may get one.
            OcspResponseStatus::TryLater | OcspResponseStatus::InternalError => {
                return Ok(OcspOutcome::Unreachable(format!(
                    "the responder answered {:?}",
                    response.response_status
                )))
            }
            other => return Err(format!("the responder answered {other:?}")),
        }
        let bytes = response
            .response_bytes
            .ok_or("a successful answer without a response")?;
        if bytes.response_type != OID_OCSP_BASIC {
            return Err("the answer is not a basic OCSP response".into());
        }
        let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
            .map_err(|e| format!("the basic response could not be read ({e})"))?;
        self.check_signature(&basic, now)?;
        let single = basic
            .tbs_response_data
            .responses
            .iter()
            .find(|r| same_cert_id(&r.cert_id, &self.cert_id))
            .ok_or("the answer is about another certificate (its CertID does not match)")?;
        let this_update = millis(single.this_update.0.to_unix_duration());
        let now_ms = now.timestamp_millis();
        let skew = CLOCK_SKEW.as_millis() as i64;
        if this_update > now_ms + skew {
            return Err("the answer's thisUpdate is in the future".into());
        }
        if let Some(next) = &single.next_update {
            if millis(next.0.to_unix_duration()) < now_ms - skew {
                return Err("the answer is out of date (its nextUpdate has passed)".into());
            }
        }
        match single.cert_status {
            CertStatus::Good(_) => Ok(OcspOutcome::Good),
            CertStatus::Revoked(_) => Ok(OcspOutcome::Revoked),
            CertStatus::Unknown(_) => Err("the responder does not know the certificate".into()),
        }
    }

    /// Signed by the issuer itself, or by a responder certificate the issuer issued for OCSP signing
    /// (id-kp-OCSPSigning) that is valid now.
    fn check_signature(&self, basic: &BasicOcspResponse, now: DateTime<Utc>) -> Result<(), String> {
        let tbs = basic
            .tbs_response_data
            .to_der()
            .map_err(|e| format!("the response data could not be encoded ({e})"))?;
        let alg = &basic.signature_algorithm.oid;
        let signature = basic
            .signature
            .as_bytes()
            .ok_or("the answer's signature is not whole bytes")?;
        let issuer_key = key_of(&self.issuer)?;
        if issuer_key.verifies(alg, &tbs, signature) {
            return Ok(());
        }
        for responder in basic.certs.iter().flatten() {
            if self.is_delegated_responder(responder, &issuer_key, now)
                && key_of(responder).is_ok_and(|key| key.verifies(alg, &tbs, signature))
            {
                return Ok(());
            }
        }
        Err("the answer is not signed by the issuer or a responder it authorised".into())
    }

    fn is_delegated_responder(
        &self,
        responder: &Certificate,
        issuer_key: &EcKey,
        now: DateTime<Utc>,
    ) -> bool {
        let tbs = &responder.tbs_certificate;
        if tbs.issuer != self.issuer.tbs_certificate.subject
            || responder.signature_algorithm.oid != tbs.signature.oid
        {
            return false;
        }
        let (Ok(tbs_der), Some(sig)) = (tbs.to_der(), responder.signature.as_bytes()) else {
            return false;
        };
        if !issuer_key.verifies(&responder.signature_algorithm.oid, &tbs_der, sig) {
            return false;
        }
        let now_ms = now.timestamp_millis();
        if millis(tbs.validity.not_before.to_unix_duration()) > now_ms
            || millis(tbs.validity.not_after.to_unix_duration()) < now_ms
        {
            return false;
        }
        extension(responder, &OID_EXT_KEY_USAGE)
            .and_then(|v| ExtendedKeyUsage::from_der(v).ok())
            .is_some_and(|eku| eku.0.contains(&OID_KP_OCSP_SIGNING))
    }
}

/// The first OCSP URL of the certificate's Authority Information Access extension.
fn ocsp_url(cert: &Certificate) -> Option<String> {
    let aia = AuthorityInfoAccessSyntax::from_der(extension(cert, &OID_AIA)?).ok()?;
    aia.0.iter().find_map(|d| match &d.access_location {
        GeneralName::UniformResourceIdentifier(uri) if d.access_method == OID_AD_OCSP => {
            Some(uri.as_str().to_owned())
        }
        _ => None,
    })
}

fn extension<'a>(cert: &'a Certificate, oid: &ObjectIdentifier) -> Option<&'a [u8]> {
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == *oid)
        .map(|e| e.extn_value.as_bytes())
}

fn key_of(cert: &Certificate) -> Result<EcKey, String> {
    EcKey::from_spki(&cert.tbs_certificate.subject_public_key_info)
}

/// RFC 6960 §4.1.1: hashes of the issuer's DER name and of its public key's bits, and the serial number.
fn sha256_cert_id(issuer: &Certificate, cert: &Certificate) -> Result<CertId, String> {
    let name = issuer
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|e| format!("the issuer's name could not be encoded ({e})"))?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let octets = |bytes: &[u8]| OctetString::new(Sha256::digest(bytes).to_vec());
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: OID_SHA256,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: octets(&name).map_err(|e| e.to_string())?,
        issuer_key_hash: octets(key).map_err(|e| e.to_string())?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

/// The algorithm's parameters may be NULL or absent (both are seen in the wild); the rest must be equal.
fn same_cert_id(a: &CertId, b: &CertId) -> bool {
    a.hash_algorithm.oid == b.hash_algorithm.oid
        && a.issuer_name_hash == b.issuer_name_hash
        && a.issuer_key_hash == b.issuer_key_hash
        && a.serial_number == b.serial_number
}

/// Whether `now` falls in a certificate's (notBefore, notAfter), UNIX ms.
fn within((not_before_ms, not_after_ms): (i64, i64), now: DateTime<Utc>) -> bool {
    let now_ms = now.timestamp_millis();
    not_before_ms <= now_ms && now_ms <= not_after_ms
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
