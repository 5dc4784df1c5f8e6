//! Honeypot, time token, client IP and rate limits, origin allow-list and CORS,
//! against the real application.

use std::time::Duration;

use enquiry_relay::config::ClientIpHeader;
use enquiry_relay::spam::{TimeTokens, unix_now};
use enquiry_relay::values::Rate;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb, family};
use crate::on_both_databases;

const KEY: &str = "test-token-key";

/// The spam settings these tests run with: a known token key, the minimum
/// fill time and per-IP limit the test names, a generous per-site limit.
fn options(min_fill_secs: u64, per_ip: Rate) -> AppOptions {
    let options = AppOptions::default().rate_limits(per_ip, Rate::every(1000, 60));
    options.with(move |s| {
        s.spam.token_secret = Some(SecretString::from(KEY));
        s.spam.min_fill_time = Duration::from_secs(min_fill_secs);
        s.spam.max_token_age = Duration::from_secs(2 * 3600);
    })
}

/// Two posts an hour from one address.
const TWO_AN_HOUR: Rate = Rate::every(2, 3600);

fn token_issued(secs_ago: u64) -> String {
    TimeTokens::new(&SecretString::from(KEY), Duration::ZERO, Duration::MAX)
        .issue(SITE, unix_now() - secs_ago)
}

/// (spam_verdict, delivery status) of every stored enquiry.
pub async fn stored(db: &TestDb) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT e.spam_verdict, d.status FROM enquiries e JOIN deliveries d ON d.enquiry_id = e.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

fn form(n: usize) -> Vec<(String, String)> {
    vec![
        ("first_name".into(), "Ann".into()),
        ("last_name".into(), format!("Lee{n}")),
        ("email".into(), format!("ann{n}@example.com")),
    ]
}

async fn post_pairs(app: &TestApp, pairs: &[(String, String)]) -> reqwest::Response {
    app.http
        .post(format!("{}/forms/{SITE}", app.address))
        .form(pairs)
        .send()
        .await
        .unwrap()
}

/// Every trap answers like success. Only the honeypot stores nothing; a
/// time token that is too fast, expired or forged, or missing where the site
/// requires one, holds the enquiry with its verdict (docs/design.md, "No silent
/// drop, refined": this test asserted "nothing stored" for all of them
/// before quarantine).
async fn bot_traps_answer_like_success_and_only_the_honeypot_stores_nothing(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .without_carehq()
        .options(options(3, Rate::every(100, 60)).with(|s| s.sites[0].require_time_token = true))
        .spawn()
        .await
    else {
        return;
    };

    let fresh = token_issued(10);
    let cases: Vec<(&str, Vec<(String, String)>)> = vec![
        (
            "honeypot",
            [
                form(1),
                vec![
                    ("_t".into(), fresh.clone()),
                    ("website".into(), "http://spam.example".into()),
                ],
            ]
            .concat(),
        ),
        (
            "too fast",
            [form(2), vec![("_t".into(), token_issued(0))]].concat(),
        ),
        (
            "expired",
            [form(3), vec![("_t".into(), token_issued(3 * 3600))]].concat(),
        ),
        (
            "forged",
            [
                form(4),
                vec![(
                    "_t".into(),
                    format!("{}.{}", unix_now() - 10, "ab".repeat(32)),
                )],
            ]
            .concat(),
        ),
        ("no token on a form post", form(5)),
    ];
    for (what, pairs) in cases {
        let response = post_pairs(&app, &pairs).await;
        assert_eq!(response.status(), 303, "{what}");
        assert_eq!(
            response.headers()["location"],
            format!("/forms/{SITE}/thanks"),
            "{what}: looks exactly like success"
        );
    }
    // A JSON bot trap answers 201 with an id, like a real enquiry.
    let mut body = family(6);
    body["website"] = json!("http://spam.example");
    let response = app.post_json(SITE, &body).await;
    assert_eq!(response.status(), 201);
    assert!(response.json::<serde_json::Value>().await.unwrap()["id"].is_string());
    let mut held = stored(&db).await;
    held.sort();
    let held_as = |verdict: &str| (verdict.to_owned(), "held".to_owned());
    assert_eq!(
        held,
        [
            held_as("forged_time_token"),
            held_as("no_time_token"),
            held_as("stale_time_token"),
            held_as("too_fast"),
        ],
        "the honeypots stored nothing; every other trap held its enquiry"
    );

    // The genuine post, with a token in its window, is stored; so is JSON without `_t`.
    let genuine = [
        form(7),
        vec![("_t".into(), fresh), ("website".into(), String::new())],
    ]
    .concat();
    assert_eq!(post_pairs(&app, &genuine).await.status(), 303);
    assert_eq!(app.post_json(SITE, &family(8)).await.status(), 201);
    let rows = stored(&db).await;
    assert_eq!(rows.len(), 6);
    let clean: Vec<_> = rows.iter().filter(|(v, _)| v == "clean").collect();
    assert_eq!(clean.len(), 2);
    assert!(clean.iter().all(|(_, status)| status != "held"));
    app.stop().await;
}
on_both_databases!(bot_traps_answer_like_success_and_only_the_honeypot_stores_nothing);

#[tokio::test]
async fn a_form_post_without_a_time_token_is_kept_and_marked_unless_the_site_requires_one() {
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options(3, Rate::every(100, 60)))
        .spawn_sqlite()
        .await;

    let response = post_pairs(&app, &form(1)).await;

    assert_eq!(response.status(), 303);
    let rows = stored(&db).await;
    assert_eq!(
        rows.len(),
        1,
        "a family's post is never dropped for a missing token"
    );
    assert_eq!(rows[0].0, "no_time_token");
    app.stop().await;
}

#[tokio::test]
async fn the_hosted_form_carries_a_token_and_a_hidden_honeypot() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .spawn_sqlite()
        .await;
    let html = app
        .http
        .get(format!("{}/forms/{SITE}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"name="_t" value=""#), "{html}");
    assert!(
        html.contains(r#"name="website" type="text" value="" tabindex="-1" autocomplete="off""#),
        "{html}"
    );
    assert!(html.contains("Leave this field empty"));
    app.stop().await;
}

#[tokio::test]
async fn the_rate_limit_follows_the_client_behind_a_trusted_proxy() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options(0, TWO_AN_HOUR).loopback_proxy())
        .spawn_sqlite()
        .await;
    let post = |client_ip: &'static str, n: usize| {
        app.http
            .post(format!("{}/forms/{SITE}", app.address))
            // The client wrote the left entry itself; the proxy appended the right one.
            .header("x-forwarded-for", format!("6.6.6.{n}, {client_ip}"))
            .json(&family(n))
            .send()
    };
    assert_eq!(post("198.51.100.7", 1).await.unwrap().status(), 201);
    assert_eq!(post("198.51.100.7", 2).await.unwrap().status(), 201);
    let refused = post("198.51.100.7", 3).await.unwrap();
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 1800, "retry after {wait}s");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("telephone the home")
    );
    // Another family behind the same proxy is not affected.
    assert_eq!(post("198.51.100.8", 4).await.unwrap().status(), 201);
    app.stop().await;
}

/// Statuses of three posts through the trusted proxy (127.0.0.1), which
/// names the client in `header`, each with the headers `headers(n)` gives.
async fn three_posts_through_the_proxy(
    header: ClientIpHeader,
    headers: impl Fn(usize) -> [(&'static str, String); 2],
) -> Vec<u16> {
    let options = (options(0, TWO_AN_HOUR).loopback_proxy())
        .with(move |s| s.server.client_ip_header = header);
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let mut request = app
            .http
            .post(format!("{}/forms/{SITE}", app.address))
            .json(&family(n));
        for (name, value) in headers(n) {
            request = request.header(name, value);
        }
        statuses.push(request.send().await.unwrap().status().as_u16());
    }
    app.stop().await;
    statuses
}

#[tokio::test]
async fn a_forged_forwarded_header_behind_the_proxy_does_not_escape_the_per_ip_limit() {
    // Caddy sets X-Forwarded-For to the real address; the client adds its
    // own `Forwarded`, a new one each time, hoping to get a new bucket.
    let statuses = three_posts_through_the_proxy(ClientIpHeader::XForwardedFor, |n| {
        [
            ("x-forwarded-for", "198.51.100.7".to_owned()),
            ("forwarded", format!("for=203.0.113.{n}")),
        ]
    })
    .await;
    assert_eq!(statuses, [201, 201, 429]);
}

#[tokio::test]
async fn with_client_ip_header_forwarded_x_forwarded_for_is_ignored() {
    let statuses = three_posts_through_the_proxy(ClientIpHeader::Forwarded, |n| {
        [
            ("forwarded", "for=198.51.100.9;proto=https".to_owned()),
            ("x-forwarded-for", format!("203.0.113.{n}")),
        ]
    })
    .await;
    assert_eq!(statuses, [201, 201, 429]);
    // And `Forwarded` is what is read: another address there is another bucket.
    let statuses = three_posts_through_the_proxy(ClientIpHeader::Forwarded, |n| {
        [
            ("forwarded", format!("for=198.51.100.{n}")),
            ("x-forwarded-for", "203.0.113.1".to_owned()),
        ]
    })
    .await;
    assert_eq!(statuses, [201, 201, 201]);
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options(0, TWO_AN_HOUR))
        .spawn_sqlite()
        .await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let response = app
            .http
            .post(format!("{}/forms/{SITE}", app.address))
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .header("forwarded", format!("for=203.0.113.{n}"))
            .json(&family(n))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
    app.stop().await;
}

#[tokio::test]
async fn origins_outside_the_list_are_refused_and_cors_serves_listed_ones() {
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options(0, Rate::every(100, 60)).with(|s| {
            s.sites[0].allowed_origins = vec!["https://example-care.co.uk".parse().unwrap()];
        }))
        .spawn_sqlite()
        .await;
    let url = format!("{}/forms/{SITE}", app.address);
    let post = |origin: Option<&'static str>, referer: Option<&'static str>, n: usize| {
        let mut request = app.http.post(&url).json(&family(n));
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        if let Some(r) = referer {
            request = request.header("referer", r);
        }
        request.send()
    };

    let refused = post(Some("https://evil.example"), None, 1).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("telephone the home")
    );
    assert_eq!(
        post(None, Some("https://evil.example/contact"), 2)
            .await
            .unwrap()
            .status(),
        403
    );
    assert!(stored(&db).await.is_empty());

    let allowed = post(Some("https://example-care.co.uk"), None, 3)
        .await
        .unwrap();
    assert_eq!(allowed.status(), 201);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://example-care.co.uk"
    );
    assert_eq!(
        post(None, Some("https://example-care.co.uk/contact"), 4)
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        post(None, None, 5).await.unwrap().status(),
        201,
        "server-to-server"
    );
    assert_eq!(
        post(Some(leak(&app.address)), None, 6)
            .await
            .unwrap()
            .status(),
        201,
        "our own pages"
    );

    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("https://example-care.co.uk").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://example-care.co.uk"
    );
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("content-type")
    );
    let no = preflight("https://evil.example").await.unwrap();
    assert_eq!(no.status(), 403);
    assert!(no.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}
