//! Target `multipart`: the key upload's form as the Step 3 and key rotation routes read it: actix-multipart over
//! the request's Content-Type and body, `upload::read_form` with its limits, then `upload::parse` (Key ID, Issuer
//! ID, file name and the `.p8`). The input is the Content-Type value, a newline, then the body; the first byte
//! is the size of the chunks the body arrives in (0: all at once), so that boundaries split across chunks are
//! tried as a network delivers them.
use std::sync::OnceLock;

use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use actix_web::web::Bytes;
use storedesk::error::AppError;
use storedesk::routes::projects::keys::upload::{parse, read_form};

use super::mode_and_rest;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("no tokio runtime: {e}"))
    })
}

pub fn run(data: &[u8]) {
    let (chunk, rest) = mode_and_rest(data);
    let (content_type, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    let chunk = match chunk {
        0 => body.len().max(1),
        n => usize::from(n),
    };
    let chunks: Vec<Result<Bytes, PayloadError>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = futures_util::stream::iter(chunks);
    match runtime().block_on(read_form(&headers, body)) {
        Ok(form) => {
            // 1 KiB of text at most per field, which lossy UTF-8 may grow to three times that.
            for text in [&form.csrf_token, &form.key_id, &form.issuer_id] {
                assert!(text.len() <= 3 * 1024);
            }
            if let Some(file) = &form.file {
                assert!(file.len() <= 8 * 1024 + 1);
            }
            if let Err(errors) = parse(&form) {
                assert!(errors.any());
                for sentence in [&errors.key_id, &errors.issuer_id, &errors.private_key]
                    .into_iter()
                    .flatten()
                {
                    assert!(!sentence.is_empty());
                }
            }
        }
        Err(e) => assert!(
            matches!(&e, AppError::BadRequest(sentence) if !sentence.is_empty()),
            "the upload was refused with something other than a sentence: {e:?}"
        ),
    }
}
