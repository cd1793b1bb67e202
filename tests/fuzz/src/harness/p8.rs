//! Target `p8`: the `.p8` parser an uploaded key goes through (`ApplePrivateKey::parse`, PEM or DER, the repairs
//! of pasted text, every "wrong file" diagnosis), the PKCS#8 reader the vault uses on decrypted keys, and the
//! file-name check of the upload form.
use storedesk::domain::{check_file_name, ApplePrivateKey, KeyId, PrivateKeyError, MAX_P8_BYTES};

pub fn run(data: &[u8]) {
    match ApplePrivateKey::parse(data) {
        Ok(key) => {
            assert!(data.len() <= MAX_P8_BYTES, "a key over 8 KiB was accepted");
            round_trips(&key);
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            // Only the file name check says this; the content alone never does.
            assert!(!matches!(e, PrivateKeyError::KeyIdMismatch { .. }));
            if data.len() > MAX_P8_BYTES {
                assert_eq!(e, PrivateKeyError::TooLarge);
            }
        }
    }
    // The vault reads the PKCS#8 DER it decrypted with the same reader.
    if let Ok(key) = ApplePrivateKey::from_pkcs8_der(data) {
        round_trips(&key);
    }
    // The upload's file name, as a browser may send any text.
    if let Ok(key_id) = KeyId::parse("ABCDE12345") {
        let name = String::from_utf8_lossy(data);
        if let Err(e) = check_file_name(&name, &key_id) {
            assert!(matches!(
                e,
                PrivateKeyError::KeyIdMismatch { .. } | PrivateKeyError::AppStoreConnectApiKey
            ));
        }
    }
}

/// A key that was accepted is stored as PKCS#8 DER and shown as PEM: both must read back as the same key.
fn round_trips(key: &ApplePrivateKey) {
    let public = key.public_key_der();
    let der = key.to_pkcs8_der();
    match ApplePrivateKey::from_pkcs8_der(&der) {
        Ok(again) => assert_eq!(again.public_key_der(), public),
        Err(e) => panic!("an accepted key's own DER was refused: {e}"),
    }
    let pem = key.to_pkcs8_pem();
    match ApplePrivateKey::parse(pem.as_bytes()) {
        Ok(again) => assert_eq!(again.public_key_der(), public),
        Err(e) => panic!("an accepted key's own PEM was refused: {e}"),
    }
    assert_eq!(key.public_key_fingerprint().len(), 32 * 3 - 1);
}
