//! The rules for an OCSP answer, each broken on its own: answers are built here with x509-ocsp's types and signed
//! with the test PKI's keys, so every refusal is for exactly the reason under test.

use chrono::{DateTime, Utc};
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::DecodePrivateKey as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use x509_cert::der::asn1::{BitString, GeneralizedTime, Ia5String};
use x509_cert::ext::pkix::AccessDescription;
use x509_ocsp::{OcspGeneralizedTime, ResponderId, ResponseData, RevokedInfo, SingleResponse};

use super::*;

const URL: &str = "http://127.0.0.1:9/ocsp/leaf";
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

struct Party {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Party {
    fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }
    fn parsed(&self) -> Certificate {
        Certificate::from_der(self.cert.der()).unwrap()
    }
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let key = p384::ecdsa::SigningKey::from_pkcs8_der(&self.key.serialize_der()).unwrap();
        let signature: p384::ecdsa::Signature = key.sign(data);
        signature.to_der().as_bytes().to_vec()
    }
}

fn params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params
}

fn aia(url: &str) -> CustomExtension {
    let content = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: OID_AD_OCSP,
        access_location: GeneralName::UniformResourceIdentifier(Ia5String::new(url).unwrap()),
    }])
    .to_der()
    .unwrap();
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}

/// An issuing CA, a certificate it issued (with an AIA OCSP URL unless `url` is None), and a stranger CA.
fn pki(url: Option<&str>) -> (Party, Party, Party) {
    let ca = |name: &str| {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut p = params(name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).unwrap();
        Party { cert, key }
    };
    let issuer = ca("Test intermediate");
    let stranger = ca("Test stranger");
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = params("Test leaf");
    p.serial_number = Some(rcgen::SerialNumber::from(7_u64));
    p.custom_extensions = url.map(aia).into_iter().collect();
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    (issuer, Party { cert, key }, stranger)
}

/// A responder certificate issued by `issuer`, with or without id-kp-OCSPSigning.
fn responder(issuer: &Party, eku: bool) -> Party {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut p = params("Test OCSP responder");
    if eku {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    } else {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    }
    let cert = p.signed_by(&key, &issuer.cert, &issuer.key).unwrap();
    Party { cert, key }
}

fn time(at: DateTime<Utc>) -> OcspGeneralizedTime {
    OcspGeneralizedTime(
        GeneralizedTime::from_unix_duration(Duration::from_secs(at.timestamp() as u64)).unwrap(),
    )
}

struct Answer {
    cert_id: CertId,
    status: CertStatus,
    this_update: DateTime<Utc>,
    next_update: Option<DateTime<Utc>>,
}

impl Answer {
    fn good(query: &OcspQuery, now: DateTime<Utc>) -> Self {
        Answer {
            cert_id: query.cert_id.clone(),
            status: CertStatus::good(),
            this_update: now - chrono::Duration::minutes(10),
            next_update: Some(now + chrono::Duration::hours(1)),
        }
    }

    /// The DER answer, signed by `signer`, carrying `certs`.
    fn signed(self, signer: &Party, certs: Option<Vec<Certificate>>) -> Vec<u8> {
        let now = self.this_update;
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByName(signer.parsed().tbs_certificate.subject),
            produced_at: time(now),
            responses: vec![SingleResponse {
                cert_id: self.cert_id,
                cert_status: self.status,
                this_update: time(self.this_update),
                next_update: self.next_update.map(time),
                single_extensions: None,
            }],
            response_extensions: None,
        };
        let signature = signer.sign(&data.to_der().unwrap());
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: OID_ECDSA_SHA384,
                parameters: None,
            },
            signature: BitString::from_bytes(&signature).unwrap(),
            certs,
        };
        OcspResponse::successful(basic).unwrap().to_der().unwrap()
    }
}

fn setup() -> (Party, Party, Party, OcspQuery, DateTime<Utc>) {
    let (issuer, leaf, stranger) = pki(Some(URL));
    let query = OcspQuery::new(&leaf.der(), &issuer.der()).unwrap();
    let now = Utc::now();
    (issuer, leaf, stranger, query, now)
}

fn is_bad(outcome: OcspOutcome, says: &str) {
    match outcome {
        OcspOutcome::BadAnswer(reason) => assert!(reason.contains(says), "{reason}"),
        other => panic!("expected a bad answer saying {says:?}, got {other:?}"),
    }
}

#[test]
fn the_request_names_the_certificate_with_a_sha256_cert_id_and_goes_to_its_aia_url() {
    let (issuer, leaf, _, query, _) = setup();
    assert_eq!(query.url, URL);
    let request = OcspRequest::from_der(&query.body).unwrap();
    assert!(request.optional_signature.is_none());
    let [single] = request.tbs_request.request_list.as_slice() else {
        panic!("one certificate per request");
    };
    let id = &single.req_cert;
    assert_eq!(id.hash_algorithm.oid, OID_SHA256);
    assert_eq!(
        id.serial_number,
        leaf.parsed().tbs_certificate.serial_number
    );
    let issuer = issuer.parsed();
    let name_hash = Sha256::digest(issuer.tbs_certificate.subject.to_der().unwrap());
    assert_eq!(id.issuer_name_hash.as_bytes(), name_hash.as_slice());
    let key_hash = Sha256::digest(
        issuer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes(),
    );
    assert_eq!(id.issuer_key_hash.as_bytes(), key_hash.as_slice());
}

#[test]
fn a_certificate_without_an_ocsp_url_cannot_be_checked() {
    let (issuer, leaf, _) = pki(None);
    let err = OcspQuery::new(&leaf.der(), &issuer.der()).unwrap_err();
    assert!(err.contains("names no OCSP responder"), "{err}");
}

#[test]
fn good_signed_by_the_issuer_is_good() {
    let (issuer, _, _, query, now) = setup();
    let answer = Answer::good(&query, now).signed(&issuer, None);
    assert_eq!(query.judge(&answer, now), OcspOutcome::Good);
}

#[test]
fn revoked_is_revoked_and_unknown_is_a_bad_answer() {
    let (issuer, _, _, query, now) = setup();
    let mut answer = Answer::good(&query, now);
    answer.status = CertStatus::revoked(RevokedInfo {
        revocation_time: time(now - chrono::Duration::days(1)),
        revocation_reason: None,
    });
    assert_eq!(
        query.judge(&answer.signed(&issuer, None), now),
        OcspOutcome::Revoked
    );
    let mut answer = Answer::good(&query, now);
    answer.status = CertStatus::unknown();
    is_bad(
        query.judge(&answer.signed(&issuer, None), now),
        "does not know",
    );
}

#[test]
fn this_update_may_be_up_to_a_minute_ahead_of_our_clock_not_more() {
    let (issuer, _, _, query, now) = setup();
    let mut answer = Answer::good(&query, now);
    answer.this_update = now + chrono::Duration::seconds(50);
    assert_eq!(
        query.judge(&answer.signed(&issuer, None), now),
        OcspOutcome::Good
    );
    let mut answer = Answer::good(&query, now);
    answer.this_update = now + chrono::Duration::seconds(75);
    is_bad(
        query.judge(&answer.signed(&issuer, None), now),
        "in the future",
    );
}

#[test]
fn a_next_update_in_the_past_is_out_of_date_beyond_a_minute() {
    let (issuer, _, _, query, now) = setup();
    let mut answer = Answer::good(&query, now);
    answer.next_update = Some(now - chrono::Duration::seconds(50));
    assert_eq!(
        query.judge(&answer.signed(&issuer, None), now),
        OcspOutcome::Good
    );
    let mut answer = Answer::good(&query, now);
    answer.next_update = Some(now - chrono::Duration::minutes(5));
    is_bad(
        query.judge(&answer.signed(&issuer, None), now),
        "out of date",
    );
    let mut answer = Answer::good(&query, now);
    answer.next_update = None;
    assert_eq!(
        query.judge(&answer.signed(&issuer, None), now),
        OcspOutcome::Good
    );
}

#[test]
fn a_delegated_responder_needs_the_ocsp_signing_usage() {
    let (issuer, _, _, query, now) = setup();
    let delegated = responder(&issuer, true);
    let answer = Answer::good(&query, now).signed(&delegated, Some(vec![delegated.parsed()]));
    assert_eq!(query.judge(&answer, now), OcspOutcome::Good);

    let plain = responder(&issuer, false);
    let answer = Answer::good(&query, now).signed(&plain, Some(vec![plain.parsed()]));
    is_bad(query.judge(&answer, now), "not signed by the issuer");
}

#[test]
fn a_responder_the_issuer_did_not_issue_is_refused_even_with_the_usage() {
    let (_, _, stranger, query, now) = setup();
    let theirs = responder(&stranger, true);
    let answer = Answer::good(&query, now).signed(&theirs, Some(vec![theirs.parsed()]));
    is_bad(query.judge(&answer, now), "not signed by the issuer");
    let answer = Answer::good(&query, now).signed(&stranger, None);
    is_bad(query.judge(&answer, now), "not signed by the issuer");
}

#[test]
fn an_answer_about_another_certificate_is_refused() {
    let (issuer, _, _, query, now) = setup();
    let mut answer = Answer::good(&query, now);
    answer.cert_id.serial_number = x509_cert::serial_number::SerialNumber::new(&[8]).unwrap();
    is_bad(
        query.judge(&answer.signed(&issuer, None), now),
        "CertID does not match",
    );
    let mut answer = Answer::good(&query, now);
    answer.cert_id.issuer_key_hash = OctetString::new(vec![0; 32]).unwrap();
    is_bad(
        query.judge(&answer.signed(&issuer, None), now),
        "CertID does not match",
    );
}

#[test]
fn an_altered_answer_or_one_that_is_not_ocsp_is_refused() {
    let (issuer, _, _, query, now) = setup();
    let mut answer = Answer::good(&query, now).signed(&issuer, None);
    // The last byte is inside the signature's s value.
    let last = answer.len() - 1;
    answer[last] ^= 1;
    is_bad(query.judge(&answer, now), "not signed by the issuer");
    is_bad(query.judge(b"<html>busy</html>", now), "not");
    let unauthorized = OcspResponse::unauthorized().to_der().unwrap();
    is_bad(query.judge(&unauthorized, now), "the responder answered");
}

#[test]
fn a_responder_that_says_try_later_or_internal_error_gave_no_verdict() {
    let (_, _, _, query, now) = setup();
    for answer in [OcspResponse::try_later(), OcspResponse::internal_error()] {
        match query.judge(&answer.to_der().unwrap(), now) {
            OcspOutcome::Unreachable(reason) => assert!(reason.contains("the responder answered")),
            other => panic!("expected no verdict (503, Apple retries), got {other:?}"),
        }
    }
}

#[test]
fn a_certificate_is_judged_valid_only_within_its_dates_at_the_time_of_the_check() {
    // The test certificates are valid from 2024-01-01 to 2040-01-01.
    let (_, _, _, query, _) = setup();
    let at = |y, m, d| {
        chrono::TimeZone::with_ymd_and_hms(&Utc, y, m, d, 0, 0, 0)
            .single()
            .unwrap()
    };
    assert!(query.valid_at(at(2026, 12, 6)));
    assert!(!query.valid_at(at(2023, 12, 31)), "before notBefore");
    assert!(!query.valid_at(at(2040, 1, 2)), "after notAfter");
}
