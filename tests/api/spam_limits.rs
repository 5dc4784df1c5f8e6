//! Limits and counters over HTTP: the per-site rate limit, per-field
//! lengths, the request timeout for a body that never finishes, and a
//! `/metrics` counter for every outcome of a form post.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::captcha::HOST;
use crate::fake_captcha::{FakeVerify, Reply};
use crate::helpers::{AppOptions, Db, SITE, TestApp, another_site, family};
use crate::metrics::{Sample, parse};
use crate::spam::stored;
use crate::status::TOKEN;
use enquiry_relay::values::Rate;

#[tokio::test]
async fn the_per_site_limit_counts_stored_posts_whatever_the_client_address() {
    let options = AppOptions::default()
        .config(another_site("quiet-home"))
        .rate_limits(Rate::every(100, 3600), Rate::every(2, 3600))
        .loopback_proxy();
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let post = |site: &'static str, client_ip: String, body: Value| {
        app.http
            .post(format!("{}/forms/{site}", app.address))
            .header("x-forwarded-for", client_ip)
            .json(&body)
            .send()
    };

    // A flood of trapped bots from many addresses spends none of the site's
    // limit: it counts only posts about to become enquiries.
    for n in 0..10 {
        let mut bot = family(100 + n);
        bot["website"] = json!("http://spam.example");
        let answer = post(SITE, format!("203.0.113.{n}"), bot).await.unwrap();
        assert_eq!(answer.status(), 201, "a trapped bot looks accepted");
    }
    // So does a post with a mistake in it.
    let mut mistaken = family(5);
    mistaken["email"] = json!("not an email");
    let answer = post(SITE, "198.51.100.9".into(), mistaken).await.unwrap();
    assert_eq!(answer.status(), 422);
    let post =
        |site: &'static str, client_ip: &str, n: usize| post(site, client_ip.into(), family(n));
    assert_eq!(post(SITE, "198.51.100.1", 1).await.unwrap().status(), 201);
    assert_eq!(post(SITE, "198.51.100.2", 2).await.unwrap().status(), 201);
    // A third family, from a third address: the site's own limit is spent.
    let refused = post(SITE, "198.51.100.3", 3).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("telephone the home"), "{body}");
    // Another site keeps its own limit.
    assert_eq!(
        post("quiet-home", "198.51.100.3", 4)
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(stored(&db).await.len(), 3);
    app.stop().await;
}

/// A family whose post was stored and who sends it again (a double click, a
/// retry after a lost answer) hears the first answer, even when the site's
/// limit has been spent since.
#[tokio::test]
async fn a_repeat_is_answered_as_before_when_the_site_limit_is_spent() {
    let options = AppOptions::default().rate_limits(Rate::every(100, 3600), Rate::every(1, 3600));
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let post = |key: &'static str, n: usize| {
        app.http
            .post(format!("{}/forms/{SITE}", app.address))
            .header("Idempotency-Key", key)
            .json(&family(n))
            .send()
    };

    let first = post("double-click-1", 1).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post("double-click-1", 1).await.unwrap();
    assert_eq!(again.status(), 201, "the site's one enquiry is this one");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    // Another enquiry is over the limit.
    assert_eq!(post("another", 2).await.unwrap().status(), 429);
    assert_eq!(stored(&db).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_over_long_field_is_named_in_a_422() {
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .spawn_sqlite()
        .await;
    let mut body = family(1);
    body["last_name"] = json!("a".repeat(101));
    body["care_requirements"] = json!("x".repeat(5001));

    let response = app.post_json(SITE, &body).await;

    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let said = |field: &str| {
        body["fields"][field][0]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(said("last_name").contains("100 characters"), "{body}");
    assert!(said("care_requirements").contains("5000"), "{body}");
    assert!(body["fields"].get("first_name").is_none(), "{body}");
    assert!(stored(&db).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_never_finishes_gets_the_timeout_answer_in_words() {
    let options = AppOptions::default().with(|s| s.server.request_timeout = Duration::from_secs(1));
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /forms/{SITE} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 500\r\n\r\n{{\"first_name\": \"Zo"
    );
    stream.write_all(head.as_bytes()).await.unwrap();

    // The rest of the body never comes; read until the answer is complete
    // (or the server closes), giving up only after a generous bound.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if String::from_utf8_lossy(&answer).contains("telephone the home") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer to a stalled body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("send the form again"), "{answer}");
    assert!(stored(&db).await.is_empty());
    app.stop().await;
}

/// The value of `enquiry_relay_submissions_total` for this outcome and site.
fn submissions(samples: &[Sample], outcome: &str, site: &str) -> f64 {
    let has = |labels: &[(String, String)], k: &str, v: &str| {
        labels.iter().any(|(lk, lv)| lk == k && lv == v)
    };
    samples
        .iter()
        .filter(|(name, labels, _)| {
            name == "enquiry_relay_submissions_total"
                && has(labels, "outcome", outcome)
                && has(labels, "site", site)
        })
        .map(|(_, _, v)| *v)
        .sum()
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    parse(&text)
}

/// Each outcome, tripped over HTTP on a site no other test uses (the
/// recorder is shared by the whole test process), shows in `/metrics`.
#[tokio::test]
async fn every_outcome_of_a_post_is_counted_in_metrics() {
    const PROBE: &str = "metrics-probe";
    let fake = FakeVerify::start(Reply::Pass(json!({"hostname": HOST}))).await;
    // Only stored posts spend the site's limit: the first and the fifth
    // (accepted unverified) spend it, so the sixth is refused.
    let options = AppOptions::default()
        .config(format!(
            "{}[sites.captcha]\nprovider = \"turnstile\"\nsite_key = \"k\"\nsecret = \"s\"\n\
             verify_url = \"{}\"\ntimeout = \"500ms\"\non_error = \"accept\"\n\
             [staff]\ntoken = \"{TOKEN}\"\n",
            another_site(PROBE),
            fake.url
        ))
        .rate_limits(Rate::every(100_000, 1), Rate::every(2, 3600));
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let post = |body: Value, origin: Option<&'static str>| {
        let mut request = app
            .http
            .post(format!("{}/forms/{PROBE}", app.address))
            .json(&body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let with = |n: usize, key: &str, value: &str| {
        let mut body = family(n);
        body["cf-turnstile-response"] = json!(format!("tok-{n}"));
        body[key] = json!(value);
        body
    };
    let before = scrape(&app).await;

    // (outcome, status): each post trips one defence; what became of it is
    // counted too: `accepted` (stored), `held` (stored for a person: the
    // forged token, which before quarantine was dropped), `dropped` (the
    // honeypot). `captcha_unavailable` under on_error = accept also ends
    // `accepted`. The held post spends none of the site's limit.
    assert_eq!(post(with(1, "x", ""), None).await.unwrap().status(), 201);
    assert_eq!(
        post(with(2, "website", "http://spam.example"), None)
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        post(with(3, "_t", "123.forged"), None)
            .await
            .unwrap()
            .status(),
        201
    );
    fake.set(Reply::Fail(vec!["invalid-input-response"]));
    assert_eq!(post(with(4, "x", ""), None).await.unwrap().status(), 422);
    fake.set(Reply::Status(503));
    assert_eq!(post(with(5, "x", ""), None).await.unwrap().status(), 201);
    // A post that passes every check but the site's limit (the CAPTCHA is
    // answered again, so this post counts only `rate_limited`).
    fake.set(Reply::Pass(json!({"hostname": HOST})));
    assert_eq!(post(with(6, "x", ""), None).await.unwrap().status(), 429);
    assert_eq!(
        post(with(7, "x", ""), Some("https://evil.example"))
            .await
            .unwrap()
            .status(),
        403
    );

    let after = scrape(&app).await;
    for (outcome, expected) in [
        ("accepted", 3.0),
        ("held", 1.0),
        ("dropped", 1.0),
        ("honeypot", 1.0),
        ("time_trap", 1.0),
        ("captcha_failed", 1.0),
        ("captcha_unavailable", 1.0),
        ("rate_limited", 1.0),
        ("origin_refused", 1.0),
    ] {
        let delta = submissions(&after, outcome, PROBE) - submissions(&before, outcome, PROBE);
        assert_eq!(delta, expected, "{outcome}");
    }
    app.stop().await;
}
