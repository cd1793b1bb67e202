//! The Step 3 form (`key_id`, `issuer_id`, file `private_key`) read from a streamed multipart body with hard limits:
//! only the expected fields, few parts, small text, a file a little above 8 KiB so the `.p8` parser (not the
//! transport) writes the exact "over 8 KiB" sentence. Nothing here is stored; it only collects and parses.
use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{poll_fn, LocalBoxFuture};
use futures_util::{Stream, StreamExt};
use zeroize::Zeroizing;

use crate::domain::{ApplePrivateKey, IssuerId, KeyId};
use crate::error::AppError;

const MAX_PARTS: usize = 8;
const MAX_TEXT: usize = 1024;
/// One byte over the parser's 8 KiB limit is enough for it to say "too large"; the rest is drained, not kept.
const MAX_FILE_KEPT: usize = 8 * 1024 + 1;
/// Past this the request is cut off without reading further.
pub const MAX_BODY: usize = 256 * 1024;

#[derive(Default)]
pub struct RawKeyForm {
    pub csrf_token: String,
    pub key_id: String,
    pub issuer_id: String,
    pub file_name: Option<String>,
    pub file: Option<Zeroizing<Vec<u8>>>,
    pub activate_anyway: bool,
}

impl std::fmt::Debug for RawKeyForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawKeyForm")
            .field("key_id", &self.key_id)
            .field("file_name", &self.file_name)
            .finish()
    }
}

/// Sentences next to the three fields.
#[derive(Default, Clone, Debug)]
pub struct KeyFormErrors {
    pub key_id: Option<String>,
    pub issuer_id: Option<String>,
    pub private_key: Option<String>,
}

impl KeyFormErrors {
    pub fn any(&self) -> bool {
        self.key_id.is_some() || self.issuer_id.is_some() || self.private_key.is_some()
    }
}

pub struct ParsedKeyForm {
    pub key_id: KeyId,
    pub issuer_id: IssuerId,
    pub key: ApplePrivateKey,
}

/// The key form is a multipart upload, so it carries its CSRF token as a part: the token is checked here, before the
/// handler runs, with the same check as every other form (`crate::auth::csrf::verify`).
impl FromRequest for RawKeyForm {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = payload.take();
        let req = req.clone();
        Box::pin(async move {
            let form = read_form(req.headers(), body).await?;
            crate::auth::csrf::verify(&req, &form.csrf_token)?;
            Ok(form)
        })
    }
}

const UNREADABLE: &str = "The upload could not be read. Choose the file again and resend the form.";

/// The request's body, noting when it has ended. actix-multipart answers "not ready" for some bodies that end
/// early (inside a part, or before the closing boundary) and nothing would ever wake it: the request would wait
/// for as long as the client keeps the connection open (found by fuzzing, docs/fuzzing.md). Once the body has
/// ended every byte is in the parser's buffer, so a "not ready" then is a truncated upload.
struct Tracked<S> {
    body: S,
    ended: Rc<Cell<bool>>,
}

impl<S: Stream<Item = Result<Bytes, PayloadError>> + Unpin> Stream for Tracked<S> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.body.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            self.ended.set(true);
        }
        next
    }
}

/// The next item of `stream`, or an error when it is not ready although the body has ended.
async fn next_or_truncated<S: Stream + Unpin>(
    stream: &mut S,
    ended: &Cell<bool>,
) -> Result<Option<S::Item>, AppError> {
    poll_fn(|cx| match stream.poll_next_unpin(cx) {
        Poll::Pending if ended.get() => Poll::Ready(Err(AppError::BadRequest(UNREADABLE.into()))),
        Poll::Pending => Poll::Pending,
        Poll::Ready(item) => Poll::Ready(Ok(item)),
    })
    .await
}

/// actix-multipart 0.7.2 slices a line before the first boundary as if it were at least 4 bytes long and
/// panics on a shorter one when the boundary is shorter than 4 bytes (found by fuzzing, docs/fuzzing.md). RFC
/// 2046 allows 1 to 70 characters; browsers and HTTP libraries send 24 or more, so such a form is refused before
/// it reaches the parser. A missing or unreadable Content-Type is left to actix-multipart, which refuses it.
fn boundary_is_long_enough(headers: &HeaderMap) -> bool {
    let Some(mime) = headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
    else {
        return true;
    };
    mime.get_param(actix_web::mime::BOUNDARY)
        .is_none_or(|b| b.as_str().len() >= 4)
}

/// The multipart parser's entry point: reads the form's parts from the request's `headers` (its Content-Type)
/// and `body` within the limits above. The extractor calls it on the request (and then checks the CSRF token);
/// the fuzz harness in tests/fuzz calls it with arbitrary bytes.
pub async fn read_form<S>(headers: &HeaderMap, body: S) -> Result<RawKeyForm, AppError>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin + 'static,
{
    if !boundary_is_long_enough(headers) {
        return Err(AppError::BadRequest(UNREADABLE.into()));
    }
    let ended = Rc::new(Cell::new(false));
    let mut payload = Multipart::new(
        headers,
        Tracked {
            body,
            ended: ended.clone(),
        },
    );
    let mut form = RawKeyForm::default();
    let mut parts = 0;
    let mut total = 0usize;
    while let Some(field) = next_or_truncated(&mut payload, &ended).await? {
        let mut field = field.map_err(|_| AppError::BadRequest(UNREADABLE.into()))?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(AppError::BadRequest(
                "The form has more parts than expected.".into(),
            ));
        }
        let name = field
            .content_disposition()
            .and_then(|cd| cd.get_name())
            .unwrap_or("")
            .to_string();
        let is_file = name == "private_key";
        if is_file {
            let file_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or("")
                .to_string();
            form.file_name = Some(file_name);
        } else if !matches!(
            name.as_str(),
            "csrf_token" | "key_id" | "issuer_id" | "activate_anyway"
        ) {
            return Err(AppError::BadRequest(format!(
                "The form has an unexpected field “{}”.",
                name.chars().take(40).collect::<String>()
            )));
        }
        let limit = if is_file { MAX_FILE_KEPT } else { MAX_TEXT };
        let mut bytes = Zeroizing::new(Vec::new());
        while let Some(chunk) = next_or_truncated(&mut field, &ended).await? {
            let chunk = chunk.map_err(|_| {
                AppError::BadRequest(
                    "The upload was interrupted. Choose the file again and resend the form.".into(),
                )
            })?;
            total += chunk.len();
            if total > MAX_BODY {
                return Err(AppError::BadRequest(
                    "The upload is far larger than a .p8 key (8 KiB at most).".into(),
                ));
            }
            let room = limit.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        match name.as_str() {
            "private_key" => {
                // A file input left empty still sends a part with an empty file name; that is "no file".
                if form.file_name.as_deref().unwrap_or("").is_empty() && bytes.is_empty() {
                    form.file_name = None;
                } else {
                    form.file = Some(bytes);
                }
            }
            other => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                match other {
                    "csrf_token" => form.csrf_token = text,
                    "key_id" => form.key_id = text,
                    "issuer_id" => form.issuer_id = text,
                    _ => form.activate_anyway = text == "1" || text == "on" || text == "true",
                }
            }
        }
    }
    Ok(form)
}

pub const NO_FILE: &str = "Choose the .p8 file you downloaded when you generated the key (App Store Connect → Users and Access → Integrations → In-App Purchase). Apple lets you download it only once.";

/// Every rule of "Validation of Step 3"; each failure lands next to its own field.
pub fn parse(form: &RawKeyForm) -> Result<ParsedKeyForm, KeyFormErrors> {
    let mut errors = KeyFormErrors::default();
    let key_id = KeyId::parse(&form.key_id)
        .map_err(|e| errors.key_id = Some(e.to_string()))
        .ok();
    let issuer_id = IssuerId::parse(&form.issuer_id)
        .map_err(|e| errors.issuer_id = Some(e.to_string()))
        .ok();
    let key = match &form.file {
        None => {
            errors.private_key = Some(NO_FILE.into());
            None
        }
        Some(bytes) => {
            let name_ok = match (&key_id, form.file_name.as_deref()) {
                (Some(kid), Some(name)) if !name.is_empty() => {
                    crate::domain::check_file_name(name, kid)
                        .map_err(|e| errors.private_key = Some(e.to_string()))
                        .is_ok()
                }
                _ => true,
            };
            if name_ok {
                ApplePrivateKey::parse(bytes)
                    .map_err(|e| errors.private_key = Some(e.to_string()))
                    .ok()
            } else {
                None
            }
        }
    };
    match (key_id, issuer_id, key) {
        (Some(key_id), Some(issuer_id), Some(key)) if !errors.any() => Ok(ParsedKeyForm {
            key_id,
            issuer_id,
            key,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderValue, CONTENT_TYPE};

    const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

    fn body() -> Vec<u8> {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key_id\"\r\n\r\nABCDE12345\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"private_key\"; filename=\"k.p8\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nKEYDATA\r\n--{BOUNDARY}--\r\n"
        )
        .into_bytes()
    }

    async fn read(bytes: Vec<u8>, chunk: usize) -> Result<RawKeyForm, AppError> {
        let mut headers = HeaderMap::new();
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(&content_type).unwrap());
        let chunks: Vec<Result<Bytes, PayloadError>> = bytes
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        read_form(&headers, futures_util::stream::iter(chunks)).await
    }

    #[tokio::test]
    async fn a_body_cut_anywhere_is_answered_and_never_waited_on() {
        // Found by fuzzing: a body ending inside a boundary line left actix-multipart waiting for ever.
        let full = body();
        let form = read(full.clone(), 7).await.unwrap();
        assert_eq!(form.key_id, "ABCDE12345");
        assert_eq!(
            form.file.as_deref().map(|f| f.as_slice()),
            Some(&b"KEYDATA"[..])
        );
        for end in 0..full.len() {
            for chunk in [1, 13, full.len()] {
                let answer = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    read(full[..end].to_vec(), chunk),
                )
                .await;
                match answer {
                    Err(_) => panic!("a body cut at byte {end} (chunks of {chunk}) was waited on"),
                    Ok(Err(AppError::BadRequest(sentence))) => assert!(!sentence.is_empty()),
                    Ok(Err(other)) => panic!("cut at {end}: {other:?}"),
                    Ok(Ok(_)) => {}
                }
            }
        }
        // A boundary of 1 to 3 characters made actix-multipart panic on a short line before the first boundary.
        for boundary in ["a", "ab", "abc"] {
            let mut headers = HeaderMap::new();
            let content_type = format!("multipart/form-data; boundary={boundary}");
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(&content_type).unwrap());
            let body = futures_util::stream::iter(vec![Ok::<_, PayloadError>(Bytes::from_static(
                b"--\n",
            ))]);
            let answer = read_form(&headers, body).await;
            assert!(matches!(answer, Err(AppError::BadRequest(s)) if s == UNREADABLE));
        }
        // Where it used to wait: inside the closing boundary.
        let cut = read(full[..full.len() - 10].to_vec(), full.len()).await;
        assert!(matches!(cut, Err(AppError::BadRequest(s)) if s == UNREADABLE));
    }
}
