//! The SSO token endpoint: OAuth 2.0 client credentials (RFC 6749 §4.4),
//! the client authenticating with HTTP Basic or with `client_id` /
//! `client_secret` in the form body (§2.3.1), never both. Tokens are opaque,
//! live for the configured `expires_in` and can be revoked on demand.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::errors::OAuthError;
use super::{FhirSandbox, token_path};

/// `POST <token_endpoint>`.
pub async fn issue(
    State(sandbox): State<FhirSandbox>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (moved, down) = {
        let state = sandbox.state();
        (
            state.faults.move_endpoints,
            state.faults.token_endpoint_down,
        )
    };
    if uri.path() != token_path(moved) {
        return Err(OAuthError::new(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "There is no token endpoint here any more. Read token_endpoint from /.well-known/openid-configuration; never hard-code it.",
        ));
    }
    if down {
        return Err(OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Sandbox fault: the token endpoint is down (token_endpoint_down). Try again later.",
        ));
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(invalid_request(
            "Send the token request as application/x-www-form-urlencoded (RFC 6749 §4.4.2).",
        ));
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| -> Result<Option<&str>, OAuthError> {
        let mut values = params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(invalid_request(format!(
                "{name} is sent more than once; send each parameter once (RFC 6749 §3.2)."
            )));
        }
        Ok(first)
    };

    match param("grant_type")? {
        None => {
            return Err(invalid_request(
                "grant_type is missing; send grant_type=client_credentials.",
            ));
        }
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Only grant_type=client_credentials is supported.",
            ));
        }
    }

    let basic = match headers.get(header::AUTHORIZATION) {
        Some(value) => Some(basic_credentials(value).ok_or_else(|| {
            let mut refusal = invalid_client(
                "The Authorization header is not HTTP Basic base64(client_id:client_secret).",
            );
            refusal.basic_challenge = true;
            refusal
        })?),
        None => None,
    };
    let in_body = (param("client_id")?, param("client_secret")?);
    let (client_id, client_secret, used_basic) = match (basic, in_body) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(invalid_request(
                "Credentials were sent both in the Authorization header and in the body; use one method only (RFC 6749 §2.3).",
            ));
        }
        (Some((id, secret)), _) => (id, secret, true),
        (None, (Some(id), Some(secret))) => (id.to_owned(), secret.to_owned(), false),
        (None, _) => {
            return Err(invalid_client(
                "No client credentials: send client_id and client_secret in the body, or HTTP Basic.",
            ));
        }
    };
    let config = sandbox.config();
    let id_ok = client_id.as_bytes().ct_eq(config.client_id.as_bytes());
    let secret_ok = client_secret
        .as_bytes()
        .ct_eq(config.client_secret.as_bytes());
    if !bool::from(id_ok & secret_ok) {
        let mut refusal = invalid_client(
            "Unknown client_id or wrong client_secret. Use the API Key Id and API Key the sandbox was started with (the defaults are in src/fhir_sandbox/seed.rs).",
        );
        refusal.basic_challenge = used_basic;
        return Err(refusal);
    }

    let token = format!("fhir-sandbox-token-{}", sandbox.next_token_serial());
    let lifetime = config.token_expires_in;
    let now = Instant::now();
    sandbox
        .state()
        .add_token(token.clone(), now + lifetime, now);
    tracing::debug!("fhir sandbox: access token issued");
    let mut answer = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
    });
    if config.omit_expires_in
        && let Some(fields) = answer.as_object_mut()
    {
        fields.remove("expires_in");
    }
    Ok((
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(answer),
    )
        .into_response())
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_client(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// `Basic base64(id:secret)` → (id, secret). RFC 6749 §2.3.1 form-encodes
/// both before base64; many clients do not, so an undecodable escape is
/// taken as it is.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decoded(id), form_decoded(secret)))
}

fn form_decoded(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|d| d.into_owned())
        .unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id_secret: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(id_secret);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn basic_credentials_are_split_at_the_first_colon_and_form_decoded() {
        assert_eq!(
            basic_credentials(&basic("client:se:cret")),
            Some(("client".into(), "se:cret".into()))
        );
        assert_eq!(
            basic_credentials(&basic("my+client:a%2Bb")),
            Some(("my client".into(), "a+b".into()))
        );
        assert_eq!(
            basic_credentials(&HeaderValue::from_static("Bearer abc")),
            None
        );
        assert_eq!(basic_credentials(&basic("no-colon")), None);
    }
}
