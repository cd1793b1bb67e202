use super::*;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rand::rngs::OsRng;

const APPLE_TEST_KEY: &[u8] =
    include_bytes!("../../../tests/fixtures/keys/apple-testSigningKey.p8");
const APPLE_DOWNLOAD_SHAPE: &[u8] =
    include_bytes!("../../../tests/fixtures/keys/SubscriptionKey_ABCDE12345.p8");
const OPENSSL_NO_INNER_PARAMS: &[u8] =
    include_bytes!("../../../tests/fixtures/keys/p256-pkcs8-no-inner-params.p8");
const RSA_PKCS8: &[u8] = include_bytes!("../../../tests/fixtures/keys/rsa2048-pkcs8.pem");
const RSA_PKCS1: &[u8] = include_bytes!("../../../tests/fixtures/keys/rsa2048-pkcs1.pem");
/// Found by fuzzing: a field inside declares 33,575,096 bytes in a 184-byte document.
const DER_LENGTH_OVERRUN: &[u8] =
    include_bytes!("../../../tests/fixtures/keys/der-length-overrun.der");

/// `openssl pkey -in apple-testSigningKey.p8 -pubout -outform DER | sha256sum`
const APPLE_TEST_KEY_FINGERPRINT: &str =
    "ea:21:cb:33:a0:78:8e:e5:17:95:f2:a2:6a:67:d4:bf:28:d8:d0:d2:91:e6:3d:0d:d0:f8:f9:c0:5e:30:8b:89";

fn new_p256() -> p256::SecretKey {
    p256::SecretKey::random(&mut OsRng)
}

fn pem_of(secret: &p256::SecretKey) -> String {
    secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
}

fn fingerprint_of(secret: &p256::SecretKey) -> String {
    let der = secret.public_key().to_public_key_der().unwrap();
    let digest = Sha256::digest(der.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The base64 body of a PEM, joined into one string.
fn body_of(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn key_id(s: &str) -> KeyId {
    KeyId::parse(s).unwrap()
}

/// Refuses `input` and checks that the sentence carries none of the key material in it.
fn refused(input: &[u8]) -> PrivateKeyError {
    let err = ApplePrivateKey::parse(input).unwrap_err();
    let message = err.to_string();
    if let Ok(text) = std::str::from_utf8(input) {
        let body = body_of(text);
        for chunk in body.as_bytes().chunks(16).filter(|c| c.len() == 16) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(
                !message.contains(chunk),
                "message leaks key material: {message}"
            );
        }
    }
    assert!(message.ends_with('.'), "not a sentence: {message}");
    err
}

fn accepted(input: &[u8]) -> ApplePrivateKey {
    ApplePrivateKey::parse(input).unwrap()
}

// Shapes that are accepted.

#[test]
fn apples_public_test_key_is_accepted_and_fingerprinted() {
    assert!(APPLE_TEST_KEY.starts_with(b"-----BEGIN PRIVATE KEY-----\nMIGHAgEA"));
    let key = accepted(APPLE_TEST_KEY);
    assert_eq!(key.public_key_fingerprint(), APPLE_TEST_KEY_FINGERPRINT);
}

#[test]
fn apples_download_shape_with_inner_curve_parameters_is_accepted() {
    let text = std::str::from_utf8(APPLE_DOWNLOAD_SHAPE).unwrap();
    assert!(body_of(text).starts_with("MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg"));
    accepted(APPLE_DOWNLOAD_SHAPE);
}

#[test]
fn openssl_genpkey_output_without_inner_parameters_is_accepted() {
    let text = std::str::from_utf8(OPENSSL_NO_INNER_PARAMS).unwrap();
    assert!(body_of(text).starts_with("MIGHAgEA"));
    accepted(OPENSSL_NO_INNER_PARAMS);
}

#[test]
fn a_generated_p256_key_is_accepted_with_the_same_public_key() {
    let secret = new_p256();
    let key = accepted(pem_of(&secret).as_bytes());
    assert_eq!(key.public_key_fingerprint(), fingerprint_of(&secret));
    assert_eq!(
        key.verifying_key(),
        p256::ecdsa::VerifyingKey::from(secret.public_key())
    );
}

#[test]
fn crlf_line_ends_are_accepted() {
    let secret = new_p256();
    let pem = secret.to_pkcs8_pem(LineEnding::CRLF).unwrap();
    assert!(pem.contains("\r\n"));
    assert_eq!(
        accepted(pem.as_bytes()).public_key_fingerprint(),
        fingerprint_of(&secret)
    );
}

#[test]
fn a_utf8_bom_and_surrounding_whitespace_are_accepted() {
    let secret = new_p256();
    let mut bytes = UTF8_BOM.to_vec();
    bytes.extend_from_slice(format!("\n\n  \t{}\n\n   \n", pem_of(&secret)).as_bytes());
    assert_eq!(
        accepted(&bytes).public_key_fingerprint(),
        fingerprint_of(&secret)
    );
}

#[test]
fn the_whole_pem_on_one_line_is_repaired() {
    let secret = new_p256();
    let one_line = pem_of(&secret).replace('\n', "");
    assert_eq!(
        accepted(one_line.as_bytes()).public_key_fingerprint(),
        fingerprint_of(&secret)
    );
}

#[test]
fn spaces_instead_of_line_breaks_are_repaired() {
    let secret = new_p256();
    let spaced = pem_of(&secret).replace('\n', " ");
    assert_eq!(
        accepted(spaced.as_bytes()).public_key_fingerprint(),
        fingerprint_of(&secret)
    );
}

#[test]
fn literal_backslash_n_instead_of_line_breaks_is_repaired() {
    let secret = new_p256();
    let pem = pem_of(&secret);
    for escaped in [
        pem.replace('\n', "\\n"),
        pem.replace('\n', "\\r\\n"),
        pem.replace('\n', "\\\\n"),
    ] {
        assert_eq!(
            accepted(escaped.as_bytes()).public_key_fingerprint(),
            fingerprint_of(&secret)
        );
    }
    let json_string = format!("\"{}\"", pem.replace('\n', "\\n").replace('/', "\\/"));
    assert_eq!(
        accepted(json_string.as_bytes()).public_key_fingerprint(),
        fingerprint_of(&secret)
    );
}

#[test]
fn base64_lines_of_odd_length_are_accepted() {
    let secret = new_p256();
    let body = body_of(&pem_of(&secret));
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(37)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    assert_eq!(
        accepted(pem.as_bytes()).public_key_fingerprint(),
        fingerprint_of(&secret)
    );
}

#[test]
fn missing_base64_padding_is_tolerated() {
    // P-256 PKCS#8 documents (138 or 147 bytes) never need padding, so the decoder is checked on its own.
    assert_eq!(decode_body("aGVsbG8").unwrap().as_slice(), b"hello");
    assert_eq!(decode_body("aGVsbG8=").unwrap().as_slice(), b"hello");
}

#[test]
fn explanatory_text_around_the_block_is_ignored() {
    let pem = format!(
        "Bag Attributes\n    friendlyName: key\n{}",
        std::str::from_utf8(APPLE_TEST_KEY).unwrap()
    );
    assert_eq!(
        accepted(pem.as_bytes()).public_key_fingerprint(),
        APPLE_TEST_KEY_FINGERPRINT
    );
}

#[test]
fn a_file_of_exactly_8_kib_is_still_read() {
    let mut bytes = APPLE_TEST_KEY.to_vec();
    bytes.resize(MAX_P8_BYTES, b'\n');
    accepted(&bytes);
}

// Refusals.

#[test]
fn a_file_over_8_kib_is_refused_before_anything_else() {
    let mut padded = APPLE_TEST_KEY.to_vec();
    padded.resize(9 * 1024, b'\n');
    assert_eq!(refused(&padded), E::TooLarge);
    let junk = vec![0xffu8; MAX_P8_BYTES + 1];
    assert_eq!(refused(&junk), E::TooLarge);
    assert!(E::TooLarge.to_string().contains("larger than 8 KiB"));
}

#[test]
fn an_empty_file_is_refused() {
    assert_eq!(refused(b""), E::Empty);
    assert_eq!(refused(b" \r\n\t"), E::Empty);
    assert_eq!(refused(UTF8_BOM), E::Empty);
    assert!(E::Empty.to_string().starts_with("The file is empty."));
}

#[test]
fn binary_junk_is_refused() {
    assert_eq!(refused(&[0x00, 0x9f, 0x92, 0x96, 0xff, 0x01]), E::Binary);
    assert_eq!(refused(b"PK\x03\x04\x00\x00text"), E::Binary);
}

#[test]
fn raw_der_of_a_key_is_refused_with_a_request_for_the_text_file() {
    let der = new_p256().to_pkcs8_der().unwrap();
    assert_eq!(refused(der.as_bytes()), E::Der);
    assert!(E::Der.to_string().contains(".p8 text file"));
}

#[test]
fn text_without_armor_is_refused() {
    assert_eq!(refused(b"hello, this is not a key\n"), E::NotPem);
    assert_eq!(refused(b"{\"keyId\": \"2X9R4HXF34\"}"), E::NotPem);
}

#[test]
fn a_bare_base64_body_is_refused_as_missing_its_armor() {
    let body = body_of(std::str::from_utf8(APPLE_TEST_KEY).unwrap());
    assert_eq!(refused(body.as_bytes()), E::MissingArmor);
}

#[test]
fn an_encrypted_pkcs8_key_is_refused() {
    let der = new_p256().to_pkcs8_der().unwrap();
    let info = pkcs8::PrivateKeyInfo::from_der(der.as_bytes()).unwrap();
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(1000, &[7u8; 16], &[9u8; 16])
            .unwrap();
    let encrypted = info.encrypt_with_params(params, "correct horse").unwrap();
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .unwrap();
    assert_eq!(refused(pem.as_bytes()), E::Encrypted);

    let mislabelled = pem.replace("ENCRYPTED PRIVATE KEY", "PRIVATE KEY");
    assert_eq!(refused(mislabelled.as_bytes()), E::Encrypted);
    assert!(E::Encrypted.to_string().contains("password"));
}

#[test]
fn a_legacy_encrypted_ec_key_is_refused_as_encrypted() {
    let pem = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
    assert_eq!(refused(pem.as_bytes()), E::Encrypted);
}

#[test]
fn rsa_keys_are_refused_in_both_encodings() {
    assert_eq!(refused(RSA_PKCS8), E::Rsa);
    assert_eq!(refused(RSA_PKCS1), E::Rsa);
    assert!(E::Rsa.to_string().contains("RSA"));
}

#[test]
fn a_p384_key_is_refused_naming_the_curve() {
    let secret = p384::SecretKey::random(&mut OsRng);
    let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
    let err = refused(pem.as_bytes());
    assert_eq!(
        err,
        E::WrongCurve {
            curve: "P-384".into()
        }
    );
    assert!(err.to_string().contains("on P-384"));
    assert!(err.to_string().contains("P-256"));
}

#[test]
fn an_ed25519_key_is_refused_naming_the_algorithm() {
    let mut der = hex::decode("302e020100300506032b657004220420").unwrap();
    der.extend_from_slice(&[0x42; 32]);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    assert_eq!(
        refused(pem.as_bytes()),
        E::OtherAlgorithm {
            algorithm: "Ed25519".into()
        }
    );
}

#[test]
fn a_sec1_ec_private_key_is_refused_with_the_pkcs8_explanation() {
    let pem = new_p256().to_sec1_pem(LineEnding::LF).unwrap();
    assert_eq!(refused(pem.as_bytes()), E::Sec1);
    let message = E::Sec1.to_string();
    assert!(message.contains("PKCS#8") && message.contains("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn a_certificate_is_refused() {
    let certified = rcgen::generate_simple_self_signed(vec!["example.com".to_string()]).unwrap();
    assert_eq!(refused(certified.cert.pem().as_bytes()), E::Certificate);

    let mislabelled = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(certified.cert.der())
    );
    assert_eq!(refused(mislabelled.as_bytes()), E::Certificate);
}

#[test]
fn a_public_key_is_refused() {
    let pem = new_p256()
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    assert_eq!(refused(pem.as_bytes()), E::PublicKey);
}

#[test]
fn two_keys_in_one_file_are_refused() {
    let two = format!("{}{}", pem_of(&new_p256()), pem_of(&new_p256()));
    assert_eq!(refused(two.as_bytes()), E::MultipleBlocks { count: 2 });

    let certified = rcgen::generate_simple_self_signed(vec!["example.com".to_string()]).unwrap();
    let key_and_cert = format!("{}{}", pem_of(&new_p256()), certified.cert.pem());
    assert_eq!(
        refused(key_and_cert.as_bytes()),
        E::MultipleBlocks { count: 2 }
    );
    assert!(E::MultipleBlocks { count: 2 }
        .to_string()
        .contains("holds 2 PEM blocks"));
}

#[test]
fn a_file_cut_short_is_refused() {
    let pem = pem_of(&new_p256());
    let cut = &pem[..pem.len() / 2];
    assert_eq!(
        refused(cut.as_bytes()),
        E::Truncated {
            label: "PRIVATE KEY".into()
        }
    );
    assert!(E::Truncated {
        label: "PRIVATE KEY".into()
    }
    .to_string()
    .contains("-----END PRIVATE KEY-----"));
}

#[test]
fn base64_that_does_not_decode_is_refused() {
    let pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA!!!notbase64\n-----END PRIVATE KEY-----\n";
    assert_eq!(refused(pem.as_bytes()), E::BadBase64);
    let stray_backslash = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\\x\n-----END PRIVATE KEY-----\n";
    assert_eq!(refused(stray_backslash.as_bytes()), E::BadBase64);
}

#[test]
fn a_pkcs8_structure_that_does_not_parse_is_refused() {
    let body = body_of(std::str::from_utf8(APPLE_TEST_KEY).unwrap());
    let damaged = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        &body[..body.len() - 12]
    );
    assert_eq!(refused(damaged.as_bytes()), E::Malformed);
    assert_eq!(
        refused(b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"),
        E::Malformed
    );
    assert_eq!(
        refused(b"-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n"),
        E::Malformed
    );
}

#[test]
fn a_p256_key_whose_public_part_does_not_match_is_refused() {
    let mut der = accepted(APPLE_TEST_KEY).to_pkcs8_der();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    assert_eq!(
        ApplePrivateKey::from_pkcs8_der(&der).unwrap_err(),
        E::Malformed
    );
}

#[test]
fn other_pem_blocks_are_refused_by_name() {
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    let err = refused(pem.as_bytes());
    assert_eq!(
        err,
        E::UnexpectedBlock {
            label: "OPENSSH PRIVATE KEY".into()
        }
    );
    assert!(err.to_string().contains("“OPENSSH PRIVATE KEY” block"));
}

#[test]
fn damaged_armor_is_refused_as_not_pem() {
    let pem = "-----BEGIN PRIVATE KEY\nMIGHAgEA\n-----END PRIVATE KEY-----\n";
    assert_eq!(refused(pem.as_bytes()), E::NotPem);
}

// The parsed key.

#[test]
fn debug_shows_the_fingerprint_and_never_the_secret() {
    let key = accepted(APPLE_TEST_KEY);
    let debug = format!("{key:?}");
    assert!(debug.contains(APPLE_TEST_KEY_FINGERPRINT));
    let scalar_hex = hex::encode(key.secret.to_bytes());
    assert!(!debug.contains(&scalar_hex));
    assert!(!debug.contains("MIG"));
}

#[test]
fn pkcs8_der_matches_the_p256_crate_and_round_trips() {
    let secret = new_p256();
    let key = accepted(pem_of(&secret).as_bytes());
    let ours = key.to_pkcs8_der();
    assert_eq!(ours.as_slice(), secret.to_pkcs8_der().unwrap().as_bytes());
    let again = ApplePrivateKey::from_pkcs8_der(&ours).unwrap();
    assert_eq!(again.public_key_fingerprint(), key.public_key_fingerprint());
}

#[test]
fn pkcs8_pem_matches_the_p256_crate_and_parses_again() {
    let secret = new_p256();
    let key = accepted(APPLE_DOWNLOAD_SHAPE);
    let pem = key.to_pkcs8_pem();
    assert_eq!(
        accepted(pem.as_bytes()).public_key_fingerprint(),
        key.public_key_fingerprint()
    );
    let generated = accepted(pem_of(&secret).as_bytes());
    assert_eq!(generated.to_pkcs8_pem().as_str(), pem_of(&secret));
}

#[test]
fn the_public_key_der_matches_the_p256_crate() {
    let secret = new_p256();
    let key = accepted(pem_of(&secret).as_bytes());
    assert_eq!(
        key.public_key_der(),
        secret.public_key().to_public_key_der().unwrap().as_bytes()
    );
}

#[test]
fn from_pkcs8_der_names_what_it_was_given() {
    assert_eq!(
        ApplePrivateKey::from_pkcs8_der(b"").unwrap_err(),
        E::Malformed
    );
    assert_eq!(
        ApplePrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").unwrap_err(),
        E::Malformed
    );
    let p384 = p384::SecretKey::random(&mut OsRng).to_pkcs8_der().unwrap();
    assert_eq!(
        ApplePrivateKey::from_pkcs8_der(p384.as_bytes()).unwrap_err(),
        E::WrongCurve {
            curve: "P-384".into()
        }
    );
}

#[test]
fn the_signing_key_signs_what_the_verifying_key_accepts() {
    use p256::ecdsa::signature::{Signer, Verifier};
    let key = accepted(APPLE_TEST_KEY);
    let signature: p256::ecdsa::Signature = key.signing_key().sign(b"header.payload");
    key.verifying_key()
        .verify(b"header.payload", &signature)
        .unwrap();
}

// File names.

#[test]
fn the_matching_subscription_key_file_name_is_accepted() {
    check_file_name("SubscriptionKey_ABCDE12345.p8", &key_id("ABCDE12345")).unwrap();
}

#[test]
fn renamed_files_are_accepted() {
    for name in [
        "my key.p8",
        "key.p8",
        "",
        "SubscriptionKey_.p8",
        "SubscriptionKey_ABC.p8",
        "SubscriptionKey_ABCDE12345 copy.p8",
    ] {
        check_file_name(name, &key_id("ZZZZZ99999")).unwrap();
    }
}

#[test]
fn a_file_of_another_key_is_refused() {
    let err = check_file_name("SubscriptionKey_ABCDE12345.p8", &key_id("ZZZZZ99999")).unwrap_err();
    assert_eq!(
        err,
        E::KeyIdMismatch {
            file_key_id: "ABCDE12345".into(),
            entered: "ZZZZZ99999".into()
        }
    );
    assert!(err.to_string().starts_with(
        "This file belongs to key ABCDE12345, not to the Key ID entered (ZZZZZ99999)."
    ));
}

#[test]
fn browser_suffixes_and_paths_do_not_hide_the_key_id() {
    for name in [
        "SubscriptionKey_ABCDE12345 (1).p8",
        "SubscriptionKey_ABCDE12345(2).p8",
        "SubscriptionKey_ABCDE12345-2.p8",
        "SubscriptionKey_ABCDE12345 3.p8",
        "SubscriptionKey_ABCDE12345.P8",
        "SubscriptionKey_ABCDE12345.p8.txt",
        "SubscriptionKey_ABCDE12345",
        "subscriptionkey_ABCDE12345.p8",
        "C:\\fakepath\\SubscriptionKey_ABCDE12345.p8",
        "/Users/ada/Downloads/SubscriptionKey_ABCDE12345.p8",
    ] {
        let err = check_file_name(name, &key_id("ZZZZZ99999")).unwrap_err();
        assert!(matches!(err, E::KeyIdMismatch { .. }), "{name}");
        check_file_name(name, &key_id("ABCDE12345")).unwrap();
    }
}

#[test]
fn an_app_store_connect_api_key_is_refused_pointing_to_the_in_app_purchase_tab() {
    for name in [
        "AuthKey_ABCDE12345.p8",
        "AuthKey_ZZZZZ99999.p8",
        "authkey_ABCDE12345 (1).p8",
    ] {
        assert_eq!(
            check_file_name(name, &key_id("ZZZZZ99999")),
            Err(E::AppStoreConnectApiKey),
            "{name}"
        );
    }
    let message = E::AppStoreConnectApiKey.to_string();
    assert!(message.contains("App Store Connect API key"));
    assert!(message.contains("Users and Access → Integrations → In-App Purchase"));
    assert!(message.contains("not on the App Store Connect API tab"));
}

#[test]
fn an_upload_is_checked_for_content_then_name() {
    let id = key_id("ABCDE12345");
    let key = parse_upload("SubscriptionKey_ABCDE12345.p8", APPLE_DOWNLOAD_SHAPE, &id).unwrap();
    assert_eq!(
        key.public_key_fingerprint(),
        accepted(APPLE_DOWNLOAD_SHAPE).public_key_fingerprint()
    );
    assert_eq!(
        parse_upload("AuthKey_ABCDE12345.p8", APPLE_TEST_KEY, &id).unwrap_err(),
        E::AppStoreConnectApiKey
    );
    assert_eq!(
        parse_upload("SubscriptionKey_ABCDE12345.p8", b"", &id).unwrap_err(),
        E::Empty
    );
}

#[test]
fn der_whose_lengths_run_past_the_end_is_damaged_and_never_decoded() {
    // The certificate decoder would allocate the 33 MB the field claims before reading it; the length check
    // refuses the document first.
    assert!(!crate::domain::der_lengths_fit(DER_LENGTH_OVERRUN));
    assert_eq!(
        ApplePrivateKey::from_pkcs8_der(DER_LENGTH_OVERRUN).map(|_| ()),
        Err(PrivateKeyError::Malformed)
    );
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(DER_LENGTH_OVERRUN)
    );
    assert_eq!(
        ApplePrivateKey::parse(pem.as_bytes()).map(|_| ()),
        Err(PrivateKeyError::Malformed)
    );
}
