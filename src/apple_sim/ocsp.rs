//! The simulator's OCSP responder (RFC 6960), at `/ocsp` on its own address: the leaf and the intermediate name it
//! in their AIA extension, as Apple's name http://ocsp.apple.com/…. It answers for the leaf (signed by the
//! intermediate) and for the intermediate (signed by the root), and a test switches what it says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use anyhow::Context as _;
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::DecodePrivateKey as _;
use rcgen::CustomExtension;
use x509_cert::der::asn1::{BitString, GeneralizedTime, Ia5String, ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId,
    ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::state::{lock, SimState};

/// The responder's path on the simulator.
pub const PATH: &str = "/ocsp";
const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// What the responder says; a test switches it through [`super::SimHandle::set_ocsp_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OcspMode {
    #[default]
    Good,
    RevokedLeaf,
    RevokedIntermediate,
    Unknown,
    /// Answers 503, as a responder that is down.
    Unreachable,
    /// Waits this long before answering good.
    Slow(Duration),
    /// Signed by the wrong key (the leaf's issuer signs the intermediate's answer and the other way round).
    BadlySigned,
    /// The answer is about another serial number.
    WrongCertId,
}

/// The certificates and the issuers' keys, and the responder's switches and counters.
pub(crate) struct Issuers {
    leaf_serial: SerialNumber,
    intermediate_serial: SerialNumber,
    intermediate: (Certificate, p384::ecdsa::SigningKey),
    root: (Certificate, p384::ecdsa::SigningKey),
    pub mode: Mutex<OcspMode>,
    pub leaf_requests: AtomicU64,
    pub intermediate_requests: AtomicU64,
}

impl Issuers {
    pub(crate) fn new(
        leaf_der: &[u8],
        intermediate_der: &[u8],
        intermediate_key_pkcs8: &[u8],
        root_der: &[u8],
        root_key_pkcs8: &[u8],
    ) -> anyhow::Result<Self> {
        let cert =
            |der: &[u8]| Certificate::from_der(der).context("reading a simulator certificate");
        let key = |der: &[u8]| {
            p384::ecdsa::SigningKey::from_pkcs8_der(der).context("reading a simulator CA key")
        };
        let intermediate = cert(intermediate_der)?;
        Ok(Issuers {
            leaf_serial: cert(leaf_der)?.tbs_certificate.serial_number,
            intermediate_serial: intermediate.tbs_certificate.serial_number.clone(),
            intermediate: (intermediate, key(intermediate_key_pkcs8)?),
            root: (cert(root_der)?, key(root_key_pkcs8)?),
            mode: Mutex::new(OcspMode::Good),
            leaf_requests: AtomicU64::new(0),
            intermediate_requests: AtomicU64::new(0),
        })
    }

    /// The DER answer to `request` in `mode`, or None when the request is not one for our certificates.
    fn answer(&self, request: &[u8], mode: OcspMode) -> Option<Vec<u8>> {
        let request = OcspRequest::from_der(request).ok()?;
        let [single] = request.tbs_request.request_list.as_slice() else {
            return None;
        };
        let mut cert_id = single.req_cert.clone();
        let (is_leaf, issuer, other) = if cert_id.serial_number == self.leaf_serial {
            self.leaf_requests.fetch_add(1, Ordering::Relaxed);
            (true, &self.intermediate, &self.root)
        } else if cert_id.serial_number == self.intermediate_serial {
            self.intermediate_requests.fetch_add(1, Ordering::Relaxed);
            (false, &self.root, &self.intermediate)
        } else {
            return None;
        };
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let time = |secs: u64| {
            GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
                .ok()
                .map(OcspGeneralizedTime)
        };
        let cert_status = match mode {
            OcspMode::RevokedLeaf if is_leaf => revoked(time(now - 86_400)?),
            OcspMode::RevokedIntermediate if !is_leaf => revoked(time(now - 86_400)?),
            OcspMode::Unknown => CertStatus::unknown(),
            _ => CertStatus::good(),
        };
        if mode == OcspMode::WrongCertId {
            cert_id.serial_number = SerialNumber::new(&[0x42]).ok()?;
            cert_id.issuer_name_hash = OctetString::new(vec![0; 32]).ok()?;
        }
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByName(issuer.0.tbs_certificate.subject.clone()),
            produced_at: time(now)?,
            responses: vec![SingleResponse {
                cert_id,
                cert_status,
                this_update: time(now - 60)?,
                next_update: time(now + 3_600),
                single_extensions: None,
            }],
            response_extensions: None,
        };
        let signer = if mode == OcspMode::BadlySigned {
            other
        } else {
            issuer
        };
        let signature: p384::ecdsa::Signature = signer.1.sign(&data.to_der().ok()?);
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: OID_ECDSA_SHA384,
                parameters: None,
            },
            signature: BitString::from_bytes(signature.to_der().as_bytes()).ok()?,
            certs: None,
        };
        OcspResponse::successful(basic).ok()?.to_der().ok()
    }
}

fn revoked(at: OcspGeneralizedTime) -> CertStatus {
    CertStatus::revoked(RevokedInfo {
        revocation_time: at,
        revocation_reason: None,
    })
}

/// The content of an AIA extension naming `url` as the OCSP responder.
pub(crate) fn aia_extension(url: &str) -> anyhow::Result<CustomExtension> {
    let content = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: OID_AD_OCSP,
        access_location: GeneralName::UniformResourceIdentifier(
            Ia5String::new(url).context("the OCSP URL is not ASCII")?,
        ),
    }])
    .to_der()
    .context("encoding the AIA extension")?;
    Ok(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        content,
    ))
}

/// `POST /ocsp`: an `application/ocsp-request` body, answered as the current [`OcspMode`] says.
pub(crate) async fn respond(state: web::Data<SimState>, body: web::Bytes) -> HttpResponse {
    let mode = *lock(&state.pki.ocsp.mode);
    match mode {
        OcspMode::Unreachable => return HttpResponse::ServiceUnavailable().finish(),
        OcspMode::Slow(wait) => tokio::time::sleep(wait).await,
        _ => {}
    }
    match state.pki.ocsp.answer(&body, mode) {
        Some(der) => HttpResponse::Ok()
            .content_type("application/ocsp-response")
            .body(der),
        None => HttpResponse::Ok()
            .content_type("application/ocsp-response")
            .body(
                OcspResponse::malformed_request()
                    .to_der()
                    .unwrap_or_default(),
            ),
    }
}
