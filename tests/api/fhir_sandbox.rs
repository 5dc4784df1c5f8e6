//! The FHIR sandbox over loopback, as the FHIR client will use it: discovery
//! → openid-configuration → token → bundle, and each refusal a client must
//! handle (bad credentials, bad or revoked token, wrong site, missing
//! version, wrong media type, invalid bundle), re-sends (a conditional
//! create finds its resource, anything else is created again) and the
//! faults.

use std::time::Duration;

use enquiry_relay::domain::{Enquiry, IntakeRules, RawSubmission};
use enquiry_relay::fhir::{IDENTIFIER_SYSTEM, VisitTimes};
use enquiry_relay::fhir_sandbox::{self, Faults, FhirSandbox, FhirSandboxConfig, seed};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{eventually, free_port};

/// A FHIR sandbox served on 127.0.0.1:0, stopped when dropped.
struct Running {
    sandbox: FhirSandbox,
    base: String,
    client: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The endpoints a client finds through the two discovery documents.
struct Endpoints {
    token: String,
    bundle: String,
}

async fn start() -> Running {
    start_with(FhirSandboxConfig::default()).await
}

async fn start_with(config: FhirSandboxConfig) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the FHIR sandbox");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sandbox = FhirSandbox::new(config);
    let stop = CancellationToken::new();
    tokio::spawn(fhir_sandbox::serve(
        listener,
        sandbox.clone(),
        stop.clone().cancelled_owned(),
    ));
    Running {
        sandbox,
        base,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client"),
        stop,
    }
}

impl Running {
    async fn get_json(&self, url: &str) -> Value {
        let response = self.client.get(url).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        response.json().await.expect("JSON")
    }

    /// Both discovery documents, read as a client must (docs/design.md, "FHIR
    /// destination").
    async fn discover(&self) -> Endpoints {
        let apis = self
            .get_json(&format!(
                "{}/.well-known/discovery-document.json",
                self.base
            ))
            .await;
        let sso = self
            .get_json(&format!("{}/.well-known/openid-configuration", self.base))
            .await;
        assert_eq!(sso["grant_types_supported"], json!(["client_credentials"]));
        Endpoints {
            token: sso["token_endpoint"]
                .as_str()
                .expect("token_endpoint")
                .to_owned(),
            bundle: apis["care-enquiries"]
                .as_str()
                .expect("care-enquiries")
                .to_owned(),
        }
    }

    async fn token_response(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(url)
            .form(form)
            .send()
            .await
            .expect("POST token")
    }

    async fn token(&self, url: &str) -> String {
        let response = self
            .token_response(
                url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", seed::CLIENT_ID),
                    ("client_secret", seed::CLIENT_SECRET),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token JSON");
        assert_eq!(body["token_type"], "Bearer");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A bundle POST with every header right except those in `changes`
    /// (a name → its value instead, or None to leave it out).
    async fn post_bundle(
        &self,
        url: &str,
        token: &str,
        bundle: &Value,
        changes: &[(&'static str, Option<&str>)],
    ) -> reqwest::Result<reqwest::Response> {
        let authorization = format!("Bearer {token}");
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in [
            ("authorization", authorization.as_str()),
            ("su-siteid", seed::SITE_ID),
            ("hc-api-version", seed::API_VERSION),
            ("content-type", "application/fhir+json"),
        ] {
            let value = match changes.iter().find(|(changed, _)| *changed == name) {
                Some((_, None)) => continue,
                Some((_, Some(other))) => *other,
                None => value,
            };
            headers.insert(name, value.parse().expect("header value"));
        }
        self.client
            .post(url)
            .headers(headers)
            .body(bundle.to_string())
            .send()
            .await
    }
}

impl Running {
    /// POSTs `bundle` with every header right; its `transaction-response`.
    async fn accepted(&self, endpoints: &Endpoints, token: &str, bundle: &Value) -> Value {
        let response = self
            .post_bundle(&endpoints.bundle, token, bundle, &[])
            .await
            .expect("POST bundle");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("transaction-response")
    }
}

/// What the relay sends for enquiry `id`: a family member writing, with a visit.
fn relay_bundle(id: &str) -> Value {
    let raw = RawSubmission::new(
        [
            ("first_name", "Ada"),
            ("last_name", "Example"),
            ("phone", "01632 960000"),
            ("enquiring_for_self", "false"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec(),
    );
    let rules = IntakeRules {
        allowed_services: &[],
        require_consent: false,
        ignored_fields: &[],
    };
    let enquiry = Enquiry::parse(&raw, &rules).expect("a valid enquiry");
    let visit = VisitTimes {
        start_ms: 1_774_861_200_000,
        end_ms: 1_774_863_000_000,
    };
    enquiry_relay::fhir::bundle(&enquiry, id, 1_774_000_000_000, Some(visit))
}

/// `bundle` with `ifNoneExist` taken off the entries of `types`: each
/// of them is created whatever exists.
fn unconditional(mut bundle: Value, types: &[&str]) -> Value {
    for entry in bundle["entry"].as_array_mut().expect("entries") {
        if types
            .iter()
            .any(|t| entry["resource"]["resourceType"] == *t)
        {
            let request = entry["request"].as_object_mut().expect("request");
            request.remove("ifNoneExist");
        }
    }
    bundle
}

/// The shape the relay sent before review finding T3-2: only the
/// ServiceRequest had an identifier and an `ifNoneExist`.
fn before_t3_2(bundle: Value) -> Value {
    let mut bundle = unconditional(bundle, &["Patient", "RelatedPerson", "Appointment"]);
    for entry in bundle["entry"].as_array_mut().expect("entries") {
        if entry["resource"]["resourceType"] != "ServiceRequest" {
            let resource = entry["resource"].as_object_mut().expect("resource");
            resource.remove("identifier");
        }
    }
    bundle
}

/// The status and the OperationOutcome of a refused request.
async fn outcome(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/fhir+json",
        "a FHIR refusal is FHIR JSON"
    );
    let body: Value = response.json().await.expect("OperationOutcome JSON");
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    (status, body)
}

fn issue_codes(outcome: &Value) -> Vec<String> {
    outcome["issue"]
        .as_array()
        .expect("issue array")
        .iter()
        .map(|issue| {
            assert_eq!(issue["severity"], "error");
            assert!(issue["diagnostics"].as_str().is_some_and(|d| !d.is_empty()));
            issue["code"].as_str().expect("code").to_owned()
        })
        .collect()
}

/// Each entry's `response.location` in a `transaction-response`.
fn locations(answer: &Value) -> Vec<String> {
    responses(answer, "location")
}

/// Each entry's `response.status`: `201 Created`, or `200 OK` where an
/// `ifNoneExist` found the resource.
fn statuses(answer: &Value) -> Vec<String> {
    responses(answer, "status")
}

fn responses(answer: &Value, field: &str) -> Vec<String> {
    answer["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| {
            entry["response"][field]
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {entry}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_client_discovers_gets_a_token_once_and_delivers_two_enquiries() {
    let fhir = start().await;

    let endpoints = fhir.discover().await;
    assert_eq!(
        endpoints.bundle,
        format!("{}/fhir/r4/care-enquiries", fhir.base)
    );
    assert!(
        endpoints.token.starts_with(&fhir.base),
        "{}",
        endpoints.token
    );
    let token = fhir.token(&endpoints.token).await;

    let first = fhir
        .post_bundle(
            &endpoints.bundle,
            &token,
            &seed::example_bundle("enquiry-1"),
            &[],
        )
        .await
        .expect("POST bundle");
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["content-type"], "application/fhir+json");
    let answer: Value = first.json().await.expect("transaction-response");
    assert_eq!(answer["resourceType"], "Bundle");
    assert_eq!(answer["type"], "transaction-response");
    let created = locations(&answer);
    assert_eq!(statuses(&answer), ["201 Created"; 4]);
    for (location, kind) in
        created
            .iter()
            .zip(["Patient", "RelatedPerson", "ServiceRequest", "Appointment"])
    {
        let parts: Vec<&str> = location.split('/').collect();
        assert_eq!(parts.len(), 4, "{location}");
        assert_eq!((parts[0], parts[2], parts[3]), (kind, "_history", "1"));
    }

    // A second enquiry, without a visit, on the same token.
    let mut no_visit = seed::example_bundle("enquiry-2");
    no_visit["entry"].as_array_mut().unwrap().pop();
    let second = fhir
        .post_bundle(&endpoints.bundle, &token, &no_visit, &[])
        .await
        .expect("POST bundle");
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(locations(&second.json().await.unwrap()).len(), 3);

    assert_eq!(fhir.sandbox.tokens_issued(), 1, "the token was reused");
    assert_eq!(fhir.sandbox.enquiry_count(), 2);
    let accepted = fhir.sandbox.accepted_bundles();
    assert_eq!(accepted[0].identifier, "enquiry-1");
    assert_eq!(accepted[0].site_id, seed::SITE_ID);
    assert_eq!(
        format!(
            "ServiceRequest/{}/_history/1",
            accepted[0].ids.service_request
        ),
        created[2]
    );
    assert!(accepted[1].ids.appointment.is_none());

    // What a person sees, and what tests read.
    let page = fhir
        .client
        .get(format!("{}/", fhir.base))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("Accepted bundles (2)"), "{page}");
    assert!(page.contains("Ada Example"));
    assert!(page.contains("Patient 2"), "{page}");
    let stats = fhir
        .get_json(&format!("{}/_sandbox/stats", fhir.base))
        .await;
    assert_eq!(stats["tokens_issued"], 1);
    assert_eq!(stats["enquiries"], 2);
    assert_eq!(
        stats["resources"],
        json!({"Appointment": 1, "Patient": 2, "RelatedPerson": 2, "ServiceRequest": 2})
    );
    let bundles = fhir
        .get_json(&format!("{}/_sandbox/bundles", fhir.base))
        .await;
    assert_eq!(bundles.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn the_token_endpoint_takes_basic_or_body_credentials_and_refuses_wrong_ones() {
    let fhir = start().await;
    let url = fhir.discover().await.token;

    let wrong = fhir
        .token_response(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", seed::CLIENT_ID),
                ("client_secret", "not-the-secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let basic = fhir
        .client
        .post(&url)
        .basic_auth(seed::CLIENT_ID, Some(seed::CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    assert_eq!(basic.headers()["cache-control"], "no-store");
    let body: Value = basic.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);

    let wrong_basic = fhir
        .client
        .post(&url)
        .basic_auth(seed::CLIENT_ID, Some("nope"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_basic.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong_basic.headers().contains_key("www-authenticate"));

    let other_grant = fhir
        .token_response(
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", seed::CLIENT_ID),
                ("client_secret", seed::CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(other_grant.status(), StatusCode::BAD_REQUEST);
    let body: Value = other_grant.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");

    assert_eq!(fhir.sandbox.tokens_issued(), 1);
}

#[tokio::test]
async fn each_wrong_header_gets_its_own_status_and_an_operation_outcome() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;
    let bundle = seed::example_bundle("enquiry-1");

    let no_token = fhir
        .post_bundle(&endpoints.bundle, "", &bundle, &[("authorization", None)])
        .await
        .unwrap();
    assert!(
        no_token.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(outcome(no_token).await.0, StatusCode::UNAUTHORIZED);

    let cases: Vec<(StatusCode, &str, reqwest::Response)> = vec![
        (
            StatusCode::UNAUTHORIZED,
            "a made-up token",
            fhir.post_bundle(&endpoints.bundle, "made-up", &bundle, &[])
                .await
                .unwrap(),
        ),
        (
            StatusCode::FORBIDDEN,
            "another site",
            fhir.post_bundle(
                &endpoints.bundle,
                &token,
                &bundle,
                &[("su-siteid", Some("someone-elses-site"))],
            )
            .await
            .unwrap(),
        ),
        (
            StatusCode::BAD_REQUEST,
            "an unknown API version",
            fhir.post_bundle(
                &endpoints.bundle,
                &token,
                &bundle,
                &[("hc-api-version", Some("7"))],
            )
            .await
            .unwrap(),
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "plain JSON",
            fhir.post_bundle(
                &endpoints.bundle,
                &token,
                &bundle,
                &[("content-type", Some("application/json"))],
            )
            .await
            .unwrap(),
        ),
    ];
    for (expected, what, response) in cases {
        assert_eq!(outcome(response).await.0, expected, "{what}");
    }

    let no_version = fhir
        .post_bundle(
            &endpoints.bundle,
            &token,
            &bundle,
            &[("hc-api-version", None)],
        )
        .await
        .unwrap();
    let (status, body) = outcome(no_version).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_codes(&body), ["required"]);

    // Two SU-SiteId headers leave the site ambiguous: refused, not guessed.
    let twice = fhir
        .client
        .post(&endpoints.bundle)
        .bearer_auth(&token)
        .header("SU-SiteId", seed::SITE_ID)
        .header("SU-SiteId", "someone-elses-site")
        .header("HC-API-Version", "1")
        .header("Content-Type", "application/fhir+json")
        .body(bundle.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(outcome(twice).await.0, StatusCode::BAD_REQUEST);

    assert_eq!(fhir.sandbox.enquiry_count(), 0, "nothing refused was kept");
}

#[tokio::test]
async fn an_invalid_bundle_is_answered_with_every_problem_and_not_kept() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;

    let mut bundle = seed::example_bundle("enquiry-1");
    let request = &mut bundle["entry"][2]["resource"];
    request["intent"] = json!("order");
    request["authoredOn"] = json!("2026-01-05T10:30:00+01:00");
    request.as_object_mut().unwrap().remove("identifier");
    bundle["entry"][1]["resource"]
        .as_object_mut()
        .unwrap()
        .remove("telecom");

    let response = fhir
        .post_bundle(&endpoints.bundle, &token, &bundle, &[])
        .await
        .unwrap();
    let (status, body) = outcome(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let expressions: Vec<&str> = body["issue"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|issue| issue["expression"][0].as_str())
        .collect();
    assert_eq!(
        expressions,
        [
            "Bundle.entry[1].resource.telecom",
            "Bundle.entry[2].resource.intent",
            "Bundle.entry[2].resource.authoredOn",
            "Bundle.entry[2].resource.identifier",
            // Its ifNoneExist now searches for an identifier it lacks.
            "Bundle.entry[2].request.ifNoneExist",
        ]
    );
    assert_eq!(issue_codes(&body).len(), 5);

    let not_json = fhir
        .client
        .post(&endpoints.bundle)
        .bearer_auth(&token)
        .header("SU-SiteId", seed::SITE_ID)
        .header("HC-API-Version", "1")
        .header("Content-Type", "application/fhir+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = outcome(not_json).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_codes(&body), ["structure"]);

    assert_eq!(fhir.sandbox.enquiry_count(), 0);
    assert_eq!(fhir.sandbox.bundle_posts(), 0);
}

#[tokio::test]
async fn a_revoked_or_expired_token_gets_a_401_and_a_new_one_works() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;

    fhir.sandbox.revoke_tokens();
    let refused = fhir
        .post_bundle(&endpoints.bundle, &token, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(outcome(refused).await.0, StatusCode::UNAUTHORIZED);

    let fresh = fhir.token(&endpoints.token).await;
    assert_ne!(fresh, token);
    let accepted = fhir
        .post_bundle(&endpoints.bundle, &fresh, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    assert_eq!(fhir.sandbox.tokens_issued(), 2);

    // A token whose lifetime is zero is expired when it arrives.
    let short = start_with(FhirSandboxConfig {
        token_expires_in: Duration::ZERO,
        ..FhirSandboxConfig::default()
    })
    .await;
    let endpoints = short.discover().await;
    let token = short.token(&endpoints.token).await;
    let expired = short
        .post_bundle(&endpoints.bundle, &token, &seed::example_bundle("e-2"), &[])
        .await
        .unwrap();
    assert_eq!(outcome(expired).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_resend_after_a_lost_answer_finds_every_resource_and_creates_nothing() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;
    fhir.sandbox.set_faults(Faults {
        close_after_accept: true,
        after_accept_times: Some(1),
        ..Faults::default()
    });
    let bundle = seed::example_bundle("enquiry-9");

    let lost = fhir
        .post_bundle(&endpoints.bundle, &token, &bundle, &[])
        .await;
    assert!(lost.is_err(), "the connection closes without an answer");
    assert_eq!(
        fhir.sandbox.enquiry_count(),
        1,
        "yet the bundle was accepted"
    );

    let resent = fhir
        .post_bundle(&endpoints.bundle, &token, &bundle, &[])
        .await
        .unwrap();
    assert_eq!(resent.status(), StatusCode::OK);
    let answer: Value = resent.json().await.unwrap();
    let accepted = fhir.sandbox.accepted_bundles();
    assert_eq!(accepted.len(), 2, "each POST is recorded");
    assert!(accepted[1].repeat);
    assert_eq!(accepted[1].created(), 0);
    assert_eq!(accepted[1].ids, accepted[0].ids);
    assert_eq!(
        statuses(&answer),
        ["200 OK"; 4],
        "every ifNoneExist matched"
    );
    assert_eq!(locations(&answer), locations(&accepted[0].response));
    assert_eq!(fhir.sandbox.bundle_posts(), 2);
    assert_eq!(fhir.sandbox.enquiry_count(), 1);
    for kind in ["Patient", "RelatedPerson", "ServiceRequest", "Appointment"] {
        assert_eq!(fhir.sandbox.resources(kind).len(), 1, "{kind}");
    }

    // A broken body after accepting: the answer starts, then fails.
    fhir.sandbox.set_faults(Faults {
        drop_after_accept: true,
        after_accept_times: Some(1),
        ..Faults::default()
    });
    let broken = fhir
        .post_bundle(
            &endpoints.bundle,
            &token,
            &seed::example_bundle("enquiry-10"),
            &[],
        )
        .await;
    let read = match broken {
        Ok(response) => response.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(read.is_err(), "the body breaks");
    assert_eq!(fhir.sandbox.enquiry_count(), 2);
}

/// The sandbox applies each entry on its own, as a FHIR server does, so it
/// shows what review finding T3-2 found: the relay's old bundle, re-sent,
/// duplicated all but its ServiceRequest. The bundle it sends now holds one
/// of each however often it is sent.
#[tokio::test]
async fn a_resend_creates_again_every_entry_without_if_none_exist_and_nothing_else() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;

    let old = before_t3_2(relay_bundle("e-old"));
    fhir.accepted(&endpoints, &token, &old).await;
    let again = fhir.accepted(&endpoints, &token, &old).await;
    assert_eq!(
        statuses(&again),
        ["201 Created", "201 Created", "200 OK", "201 Created"]
    );
    for kind in ["Patient", "RelatedPerson", "Appointment"] {
        assert_eq!(fhir.sandbox.resources(kind).len(), 2, "a second {kind}");
    }
    let request = |value: &str| {
        fhir.sandbox
            .count_with_identifier("ServiceRequest", IDENTIFIER_SYSTEM, value)
    };
    assert_eq!(request("e-old"), 1);

    let new = relay_bundle("e-new");
    let first = fhir.accepted(&endpoints, &token, &new).await;
    let second = fhir.accepted(&endpoints, &token, &new).await;
    assert_eq!(statuses(&first), ["201 Created"; 4]);
    assert_eq!(statuses(&second), ["200 OK"; 4]);
    assert_eq!(locations(&second), locations(&first));
    for (kind, value) in [
        ("Patient", "e-new/patient"),
        ("RelatedPerson", "e-new/related-person"),
        ("ServiceRequest", "e-new"),
        ("Appointment", "e-new/appointment"),
    ] {
        assert_eq!(
            fhir.sandbox
                .count_with_identifier(kind, IDENTIFIER_SYSTEM, value),
            1,
            "{kind}"
        );
    }

    // The same counts over HTTP, for a developer or another language's tests.
    let response = fhir
        .client
        // `|` percent-encoded, as a query string should carry it.
        .get(format!(
            "{}/_sandbox/resources?identifier={IDENTIFIER_SYSTEM}%7Ce-new/patient",
            fhir.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let found: Value = response.json().await.unwrap();
    let ids = |kind: &str| found[kind].as_array().map(Vec::len);
    assert_eq!(
        [
            ids("Patient"),
            ids("RelatedPerson"),
            ids("ServiceRequest"),
            ids("Appointment")
        ],
        [Some(1), Some(0), Some(0), Some(0)]
    );
    let stats = fhir
        .get_json(&format!("{}/_sandbox/stats", fhir.base))
        .await;
    assert_eq!(
        stats["resources"],
        json!({"Appointment": 3, "Patient": 3, "RelatedPerson": 3, "ServiceRequest": 2})
    );
    assert_eq!(
        (stats["enquiries"].as_u64(), stats["bundle_posts"].as_u64()),
        (Some(2), Some(4))
    );
}

/// A conditional create that finds two resources fails the transaction
/// with 412, as FHIR R4 says, and nothing of it is created.
#[tokio::test]
async fn a_conditional_create_finding_two_resources_refuses_the_whole_bundle() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;
    let plain = unconditional(relay_bundle("e-1"), &["ServiceRequest"]);
    fhir.accepted(&endpoints, &token, &plain).await;
    fhir.accepted(&endpoints, &token, &plain).await;
    let before = fhir.sandbox.resource_counts();

    let refused = fhir
        .post_bundle(&endpoints.bundle, &token, &relay_bundle("e-1"), &[])
        .await
        .unwrap();
    let (status, body) = outcome(refused).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(issue_codes(&body), ["multiple-matches"]);
    assert_eq!(
        body["issue"][0]["expression"][0],
        "Bundle.entry[2].request.ifNoneExist"
    );
    assert_eq!(
        fhir.sandbox.resource_counts(),
        before,
        "nothing was created"
    );
    assert_eq!(fhir.sandbox.bundle_posts(), 2);
}

#[tokio::test]
async fn moved_endpoints_fail_a_hard_coded_uri_and_discovery_finds_them() {
    let fhir = start().await;
    let old = fhir.discover().await;
    let old_token = fhir.token(&old.token).await;

    let faults = Faults {
        move_endpoints: true,
        ..Faults::default()
    };
    let set = fhir
        .client
        .put(format!("{}/_sandbox/faults", fhir.base))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);

    let stale = fhir
        .token_response(
            &old.token,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", seed::CLIENT_ID),
                ("client_secret", seed::CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    let stale = fhir
        .post_bundle(&old.bundle, &old_token, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    assert_eq!(outcome(stale).await.0, StatusCode::NOT_FOUND);

    let new = fhir.discover().await;
    assert_ne!(new.bundle, old.bundle);
    assert_ne!(new.token, old.token);
    let token = fhir.token(&new.token).await;
    let accepted = fhir
        .post_bundle(&new.bundle, &token, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
}

#[tokio::test]
async fn forced_statuses_count_down_per_path_and_the_token_endpoint_can_be_down() {
    let fhir = start().await;
    let endpoints = fhir.discover().await;
    let token = fhir.token(&endpoints.token).await;

    fhir.sandbox
        .set_faults(Faults::on_path("care-enquiries", 503, 1));
    // Discovery is not on that path: it passes and does not count down.
    fhir.discover().await;
    let forced = fhir
        .post_bundle(&endpoints.bundle, &token, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    let (status, body) = outcome(forced).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(issue_codes(&body), ["transient"]);
    assert_eq!(
        fhir.sandbox.enquiry_count(),
        0,
        "nothing accepted under a forced status"
    );
    let next = fhir
        .post_bundle(&endpoints.bundle, &token, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    assert_eq!(next.status(), StatusCode::OK);

    // A forced 401 refuses even a fresh token: what a client that refreshes
    // once, then stops, is tested against.
    fhir.sandbox
        .set_faults(Faults::on_path("care-enquiries", 401, 2));
    for attempt in ["e-2", "e-2"] {
        let fresh = fhir.token(&endpoints.token).await;
        let refused = fhir
            .post_bundle(
                &endpoints.bundle,
                &fresh,
                &seed::example_bundle(attempt),
                &[],
            )
            .await
            .unwrap();
        let (status, body) = outcome(refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(issue_codes(&body), ["login"]);
    }
    assert_eq!(
        fhir.sandbox.faults(),
        Faults::default(),
        "counted down to nothing"
    );

    fhir.sandbox.set_faults(Faults {
        token_endpoint_down: true,
        ..Faults::default()
    });
    let down = fhir
        .token_response(
            &endpoints.token,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", seed::CLIENT_ID),
                ("client_secret", seed::CLIENT_SECRET),
            ],
        )
        .await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = down.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    // A success code is not a fault; reset clears everything.
    let refused = fhir
        .client
        .put(format!("{}/_sandbox/faults", fhir.base))
        .json(&json!({"status": 200}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let reset = fhir
        .client
        .post(format!("{}/_sandbox/reset", fhir.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(fhir.sandbox.faults(), Faults::default());
    assert_eq!(fhir.sandbox.enquiry_count(), 0);
    assert!(fhir.sandbox.resource_counts().values().all(|n| *n == 0));
    assert_eq!(fhir.sandbox.tokens_issued(), 0);
}

#[tokio::test]
async fn nested_under_a_prefix_the_documents_name_uris_under_it() {
    let sandbox = FhirSandbox::new(FhirSandboxConfig::default());
    let app = axum::Router::new().nest("/fhir-sandbox", sandbox.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir-sandbox", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(token.cancelled_owned())
            .await
    });
    let fhir = Running {
        sandbox,
        base: base.clone(),
        client: reqwest::Client::new(),
        stop,
    };
    let endpoints = fhir.discover().await;
    assert_eq!(endpoints.bundle, format!("{base}/fhir/r4/care-enquiries"));
    let token = fhir.token(&endpoints.token).await;
    let accepted = fhir
        .post_bundle(&endpoints.bundle, &token, &seed::example_bundle("e-1"), &[])
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_fhir_sandbox_command_serves_the_documents() {
    let address = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
        .args(["fhir-sandbox", "--listen", &address])
        .env_remove("ENQUIRY_RELAY_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start enquiry-relay fhir-sandbox");
    let client = reqwest::Client::new();
    let url = format!("http://{address}/.well-known/discovery-document.json");
    let document = eventually(Duration::from_secs(20), || async {
        let response = client.get(&url).send().await.ok()?;
        response.json::<Value>().await.ok()
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let document = document.expect("the command answers discovery");
    assert_eq!(
        document["care-enquiries"],
        format!("http://{address}/fhir/r4/care-enquiries")
    );
}
