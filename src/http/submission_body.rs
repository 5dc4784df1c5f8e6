//! Reading a form post's body, within the size limit, into ordered pairs,
//! whether it came urlencoded, as multipart or as JSON.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use bytes::Bytes;

use super::error::HttpError;
use crate::domain::RawSubmission;

/// Read and decode the body. Over `limit` bytes → 413 without reading it all.
pub async fn read_submission(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<RawSubmission, HttpError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(HttpError::PayloadTooLarge { limit });
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| HttpError::PayloadTooLarge { limit })?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Ok(RawSubmission::new(
            form_urlencoded::parse(&bytes).into_owned().collect(),
        )),
        "application/json" => {
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|_| HttpError::BadRequest("The JSON body could not be read.".into()))?;
            RawSubmission::from_json(&value).map_err(|why| HttpError::BadRequest(format!("{why}.")))
        }
        "multipart/form-data" => read_multipart(content_type, bytes).await,
        _ => Err(HttpError::UnsupportedMediaType),
    }
}

async fn read_multipart(content_type: &str, bytes: Bytes) -> Result<RawSubmission, HttpError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| HttpError::BadRequest("The multipart body has no boundary.".into()))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    let malformed = |_| HttpError::BadRequest("The multipart body could not be read.".into());
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let text = field.text().await.map_err(malformed)?;
        if is_file {
            // An empty file input is sent as an empty part: ignore it. A real
            // attachment cannot be passed on to CareHQ, so say so rather than drop it.
            if text.is_empty() {
                continue;
            }
            return Err(HttpError::BadRequest(
                "Attachments cannot be sent with this form; describe what you need in the message instead.".into(),
            ));
        }
        pairs.push((name, text));
    }
    Ok(RawSubmission::new(pairs))
}
