//! Upstream answers too large to read, or broken after a success status
//! (`outgoing::read_capped`): a CareHQ, FHIR or CAPTCHA answer longer than
//! the cap is cut off there, not buffered whole; the status still counts, so
//! a 2xx is a success with its body lost and never a reason to send again.
//! Against local fakes on 127.0.0.1 that stream an endless body, and the
//! FHIR sandbox's fault that breaks an accepted Bundle's answer.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use enquiry_relay::carehq::{CareHqClient, CareHqError, ClientSettings};
use enquiry_relay::fhir::{FhirClient, FhirError, FhirSettings};
use enquiry_relay::fhir_sandbox::{
    self, DISCOVERY_PATH, Faults, FhirSandbox, FhirSandboxConfig, OPENID_CONFIGURATION_PATH, seed,
};
use enquiry_relay::outgoing::MAX_ANSWER_BYTES;
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::captcha::{HOST, app, captcha, post};
use crate::fake_captcha::{FakeVerify, Reply};
use crate::spam::stored;

/// What the cut-off reads as, in every client's words.
const TOO_LARGE: &str = "larger than";

/// A body that never ends: small chunks with a pause between them, so a
/// client without a cap holds only what arrives before its timeout.
fn endless(status: StatusCode) -> Response {
    let chunk = Bytes::from(vec![b' '; 16 * 1024]);
    let chunks = futures_util::stream::unfold(chunk, |chunk| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((Ok::<_, Infallible>(chunk.clone()), chunk))
    });
    (status, Body::from_stream(chunks)).into_response()
}

/// A finished JSON body twice the cap, sent with its `Content-Length`.
fn declared_too_large(status: StatusCode, json: serde_json::Value) -> Response {
    let mut json = json;
    json["padding"] = "x".repeat(2 * MAX_ANSWER_BYTES).into();
    (status, json.to_string()).into_response()
}

/// Serves `app` on 127.0.0.1:0; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn carehq(base_url: &str) -> CareHqClient {
    CareHqClient::new(ClientSettings {
        base_url: base_url.to_owned(),
        account_id: "account".into(),
        api_key: SecretString::from("key"),
        api_secret: SecretString::from("secret"),
        timeout: Duration::from_secs(3),
    })
    .unwrap()
}

#[tokio::test]
async fn carehq_an_error_answer_too_large_keeps_its_status_and_says_why_the_hint_is_lost() {
    for (what, reply) in [
        ("endless", endless as fn(StatusCode) -> Response),
        ("declared", |s| {
            declared_too_large(s, json!({"hint": "never read"}))
        }),
    ] {
        let base = serve(
            axum::Router::new().fallback(move || async move { reply(StatusCode::BAD_REQUEST) }),
        )
        .await;

        let sent = carehq(&base).create_care_enquiry(&[]).await;

        match sent {
            Err(CareHqError::Status {
                status: 400,
                hint: Some(hint),
                arg_errors: None,
                ..
            }) => assert!(hint.contains(TOO_LARGE), "{what}: {hint}"),
            other => panic!("{what}: a 400 whose hint is lost, not {other:?}"),
        }
    }
}

#[tokio::test]
async fn carehq_a_success_too_large_to_read_is_a_success_with_its_body_lost() {
    for (what, reply) in [
        ("endless", endless as fn(StatusCode) -> Response),
        ("declared", |s| {
            declared_too_large(s, json!({"_id": "never-read"}))
        }),
    ] {
        let base =
            serve(axum::Router::new().fallback(move || async move { reply(StatusCode::OK) })).await;

        let reply = carehq(&base)
            .create_care_enquiry(&[])
            .await
            .unwrap_or_else(|e| panic!("{what}: CareHQ created it, yet {e}"));

        assert_eq!(reply.status, 200, "{what}");
        assert_eq!(reply.id(), None, "{what}");
        let lost = reply.body_lost.unwrap_or_default();
        assert!(lost.contains(TOO_LARGE), "{what}: {lost}");
    }
}

#[tokio::test]
async fn captcha_an_answer_too_large_is_the_provider_unavailable() {
    // A passing verdict, padded past the cap: read whole, it would pass.
    let padding = "x".repeat(2 * MAX_ANSWER_BYTES);
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST, "padding": padding}))).await;
    let (db, _sandbox, app) = app(captcha("recaptcha", &fake.url, "on_error = \"reject\"")).await;

    let response = post(&app, 1, "g-recaptcha-response", "tok-1").await;

    assert_eq!(
        response.status(),
        503,
        "`reject` refuses while unverifiable"
    );
    assert_eq!(fake.calls().len(), 1);
    assert!(stored(&db).await.is_empty());
    app.stop().await;
}

fn fhir_settings(base: &str) -> FhirSettings {
    FhirSettings {
        discovery_url: format!("{base}{DISCOVERY_PATH}"),
        api: fhir_sandbox::BUNDLE_API_KEY.into(),
        sso_discovery_url: format!("{base}{OPENID_CONFIGURATION_PATH}"),
        client_id: seed::CLIENT_ID.into(),
        client_secret: SecretString::from(seed::CLIENT_SECRET),
        site_id: seed::SITE_ID.into(),
        api_version: seed::API_VERSION.into(),
        timeout: Duration::from_secs(3),
    }
}

#[tokio::test]
async fn fhir_a_2xx_whose_body_breaks_is_a_success_with_its_body_lost() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = FhirSandbox::new(FhirSandboxConfig::default());
    let stop = CancellationToken::new();
    tokio::spawn(fhir_sandbox::serve(
        listener,
        sandbox.clone(),
        stop.clone().cancelled_owned(),
    ));
    sandbox.set_faults(Faults {
        drop_after_accept: true,
        ..Faults::default()
    });
    let client = FhirClient::new(fhir_settings(&base)).unwrap();

    let reply = client
        .send_bundle(&seed::example_bundle("enquiry-1"))
        .await
        .unwrap_or_else(|e| panic!("the server stored it, yet {e}"));

    assert_eq!(reply.status, 200);
    assert!(reply.body_lost.is_some(), "{reply:?}");
    assert_eq!(sandbox.enquiry_count(), 1);
    stop.cancel();
}

/// Which of the fake FHIR server's answers never ends, and with what status.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Endless {
    Discovery,
    Token,
    Bundle(StatusCode),
}

/// A FHIR destination whose discovery, token and Bundle answers are
/// ordinary except the one `endless` names.
async fn fake_fhir(endless_one: Endless) -> String {
    let base: Arc<Mutex<String>> = Arc::default();
    let known = Arc::clone(&base);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let base = known.lock().unwrap().clone();
        async move {
            let path = uri.path();
            let endless_here = match endless_one {
                Endless::Discovery => path == DISCOVERY_PATH,
                Endless::Token => path == "/token",
                Endless::Bundle(_) => path == "/bundle",
            };
            if endless_here {
                return endless(match endless_one {
                    Endless::Bundle(status) => status,
                    _ => StatusCode::OK,
                });
            }
            let api = fhir_sandbox::BUNDLE_API_KEY;
            let answer = match path {
                DISCOVERY_PATH => json!({ api: format!("{base}/bundle") }),
                OPENID_CONFIGURATION_PATH => json!({"token_endpoint": format!("{base}/token")}),
                "/token" => json!({"access_token": "t", "expires_in": 3600}),
                _ => return StatusCode::NOT_FOUND.into_response(),
            };
            axum::Json(answer).into_response()
        }
    });
    let served = serve(app).await;
    *base.lock().unwrap() = served.clone();
    served
}

#[tokio::test]
async fn fhir_answers_too_large_are_cut_off_and_a_2xx_is_still_a_success() {
    let bundle = seed::example_bundle("enquiry-1");
    for endless_one in [
        Endless::Bundle(StatusCode::OK),
        Endless::Bundle(StatusCode::BAD_REQUEST),
        Endless::Discovery,
        Endless::Token,
    ] {
        let base = fake_fhir(endless_one).await;
        let client = FhirClient::new(fhir_settings(&base)).unwrap();

        let sent = client.send_bundle(&bundle).await;

        let said = match (endless_one, sent) {
            (Endless::Bundle(StatusCode::OK), Ok(reply)) if reply.status == 200 => {
                reply.body_lost.unwrap_or_default()
            }
            (
                Endless::Bundle(_),
                Err(FhirError::Status {
                    status: 400,
                    outcome,
                }),
            ) => outcome,
            (Endless::Discovery, Err(e @ FhirError::Discovery(_))) => e.to_string(),
            (Endless::Token, Err(e @ FhirError::Token(_))) => e.to_string(),
            (_, other) => panic!("{endless_one:?}: {other:?}"),
        };
        assert!(said.contains(TOO_LARGE), "{endless_one:?}: {said}");
    }
}
