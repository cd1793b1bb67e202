//! A throwaway certificate chain shaped like Apple's: P-384 root and intermediate, P-256 leaf, Apple's marker
//! extensions, and SKI/AKI so that strict X.509 path validation (OpenSSL's X509_STRICT) accepts it too.

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};

use super::jws::Signer;

/// 1.2.840.113635.100.6.2.1: Apple's WWDR intermediate marker.
pub(crate) const INTERMEDIATE_MARKER_OID: &[u64] = &[1, 2, 840, 113_635, 100, 6, 2, 1];
/// 1.2.840.113635.100.6.11.1: Apple's receipt-signing leaf marker.
pub(crate) const LEAF_MARKER_OID: &[u64] = &[1, 2, 840, 113_635, 100, 6, 11, 1];
/// The marker extensions carry an ASN.1 NULL, as Apple's do; verifiers only check presence.
const ASN1_NULL: [u8; 2] = [0x05, 0x00];

pub(crate) struct Pki {
    pub root_der: Vec<u8>,
    pub root_pem: String,
    pub signer: Signer,
    /// What the simulator's OCSP responder needs: the certificates and the issuers' keys.
    pub ocsp: super::ocsp::Issuers,
}

impl Pki {
    #[cfg(test)]
    pub(crate) fn generate() -> anyhow::Result<Self> {
        Self::generate_with_ocsp(None)
    }

    /// With `ocsp_url`, the leaf and the intermediate name it as their OCSP responder (AIA), as Apple's
    /// certificates name http://ocsp.apple.com/….
    pub(crate) fn generate_with_ocsp(ocsp_url: Option<&str>) -> anyhow::Result<Self> {
        let aia = ocsp_url.map(super::ocsp::aia_extension).transpose()?;
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .context("generating the root key")?;
        let mut root_params = base_params(
            "Storedesk Simulator Root CA - G3",
            "Storedesk Simulator Certification Authority",
            1,
        );
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root = root_params
            .self_signed(&root_key)
            .context("self-signing the root")?;

        let intermediate_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .context("generating the intermediate key")?;
        let mut intermediate_params = base_params(
            "Storedesk Simulator Worldwide Developer Relations Certification Authority",
            "G6",
            2,
        );
        intermediate_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        intermediate_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        intermediate_params.use_authority_key_identifier_extension = true;
        intermediate_params.custom_extensions = vec![CustomExtension::from_oid_content(
            INTERMEDIATE_MARKER_OID,
            ASN1_NULL.to_vec(),
        )];
        intermediate_params.custom_extensions.extend(aia.clone());
        let intermediate = intermediate_params
            .signed_by(&intermediate_key, &root, &root_key)
            .context("signing the intermediate")?;

        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .context("generating the leaf key")?;
        let mut leaf_params = base_params(
            "Storedesk Simulator Prod ECC Mac App Store and iTunes Store Receipt Signing",
            "Storedesk Simulator Worldwide Developer Relations",
            3,
        );
        // DER forbids an explicit cA=FALSE (Python's cryptography refuses it); Apple's leaf has an empty critical
        // basicConstraints. NoCa also drops the SKI, so both are added by hand.
        leaf_params.is_ca = IsCa::NoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.use_authority_key_identifier_extension = true;
        let mut basic_constraints =
            CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
        basic_constraints.set_criticality(true);
        let key_id = <sha2::Sha256 as sha2::Digest>::digest(leaf_key.public_key_raw());
        let mut ski = vec![0x04, 20];
        ski.extend_from_slice(&key_id[..20]);
        leaf_params.custom_extensions = vec![
            CustomExtension::from_oid_content(&[2, 5, 29, 14], ski),
            basic_constraints,
            CustomExtension::from_oid_content(LEAF_MARKER_OID, ASN1_NULL.to_vec()),
        ];
        leaf_params.custom_extensions.extend(aia);
        // Signed by the P-384 intermediate, so ecdsa-with-SHA384 like Apple's leaf.
        let leaf = leaf_params
            .signed_by(&leaf_key, &intermediate, &intermediate_key)
            .context("signing the leaf")?;

        let root_der = root.der().to_vec();
        let intermediate_der = intermediate.der().to_vec();
        let leaf_der = leaf.der().to_vec();
        let signer = Signer::new(
            &leaf_key.serialize_der(),
            [&leaf_der, &intermediate_der, &root_der],
        )
        .context("loading the leaf key for signing")?;
        let ocsp = super::ocsp::Issuers::new(
            &leaf_der,
            &intermediate_der,
            &intermediate_key.serialize_der(),
            &root_der,
            &root_key.serialize_der(),
        )?;
        Ok(Self {
            root_pem: root.pem(),
            root_der,
            signer,
            ocsp,
        })
    }
}

fn base_params(common_name: &str, unit: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationalUnitName, unit);
    dn.push(
        DnType::OrganizationName,
        "storedesk Apple simulator (not Apple)",
    );
    dn.push(DnType::CountryName, "US");
    params.distinguished_name = dn;
    // A fixed past start keeps the seeded notifications (signed with their past dates) inside the window.
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params.serial_number = Some(SerialNumber::from(0x5d00_0000_0000_0000_u64 | serial));
    params
}
