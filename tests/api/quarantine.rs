//! Quarantine instead of silent drop (docs/design.md, "No silent drop, refined"):
//! only a filled honeypot drops a post; every other doubt (too fast, a stale,
//! forged or future-dated time token, `Origin: null`, a CAPTCHA provider
//! down under `on_error = "hold"`) stores the enquiry `held`, its verdict
//! named, answered as success, counted in `/status`, released by
//! `enquiries release`. And the time-token key outlives a CareHQ secret
//! rotation, because it lives in the database.

use std::time::Duration;

use enquiry_relay::spam::{TimeTokens, unix_now};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::admin::cli;
use crate::fake_captcha::{FakeVerify, Reply};
use crate::helpers::{
    AppBuilder, AppOptions, Db, NOWHERE, SITE, TestApp, family, free_port, write_config,
};
use crate::on_both_databases;
use crate::spam::stored;
use crate::status::{TOKEN, with_token};

const KEY: &str = "quarantine-token-key";

/// A known token key, so a test can sign tokens of any age itself; the
/// default window (3 s to 24 h) unless a test says otherwise.
fn spam_toml(key: &str) -> String {
    format!(
        "[spam]\ntoken_secret = \"{key}\"\n\
         [rate_limit]\nper_ip = \"100000/1s\"\nper_site = \"100000/1s\"\nper_site_held = \"100000/1s\"\n"
    )
}

/// The app most of these tests post to: spam settings keyed by [`KEY`], and
/// no CareHQ (nothing listens on port 1): only what is held is looked at.
fn no_carehq_app(db: Db) -> AppBuilder {
    TestApp::builder(db).without_carehq().options(options(KEY))
}

fn options(key: &str) -> AppOptions {
    with_token(AppOptions::default().shipped_spam(spam_toml(key)), "")
}

/// A token for the test site signed with `key`, issued `secs_ago`.
fn token(key: &str, secs_ago: i64) -> String {
    let issued = u64::try_from(i64::try_from(unix_now()).unwrap() - secs_ago).unwrap();
    TimeTokens::new(&SecretString::from(key), Duration::ZERO, Duration::MAX).issue(SITE, issued)
}

fn complete(n: usize) -> Vec<(String, String)> {
    vec![
        ("first_name".into(), "Ann".into()),
        ("last_name".into(), format!("Lee {n}")),
        ("email".into(), format!("ann{n}@example.com")),
        ("care_requirements".into(), "A room from March".into()),
    ]
}

async fn post_form(app: &TestApp, pairs: &[(String, String)]) -> reqwest::Response {
    app.http
        .post(format!("{}/forms/{SITE}", app.address))
        .form(pairs)
        .send()
        .await
        .unwrap()
}

fn with_token_field(mut pairs: Vec<(String, String)>, t: String) -> Vec<(String, String)> {
    pairs.push(("_t".into(), t));
    pairs
}

/// The success answer a browser gets: 303 to the thank-you page.
fn assert_thanked(response: &reqwest::Response, what: &str) {
    assert_eq!(response.status(), 303, "{what}");
    assert_eq!(
        response.headers()["location"],
        format!("/forms/{SITE}/thanks"),
        "{what}"
    );
}

async fn queue(app: &TestApp) -> Value {
    let body: Value = app
        .http
        .get(format!("{}/status", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["queue"].clone()
}

async fn an_empty_form_sent_within_a_second_gets_its_field_errors(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };

    // Enter pressed on an untouched form, straight after the page loaded.
    let pairs = vec![
        ("_t".to_owned(), token(KEY, 0)),
        ("_k".to_owned(), "k-empty".to_owned()),
        ("first_name".to_owned(), String::new()),
        ("email".to_owned(), String::new()),
        ("website".to_owned(), String::new()),
    ];
    let page = post_form(&app, &pairs).await;
    assert_eq!(page.status(), 422, "field errors, not a pretend success");
    let html = page.text().await.unwrap();
    assert!(html.contains("There is a problem"), "{html}");
    assert!(html.contains("href=\"#first_name\""), "{html}");

    let json = app.post_json(SITE, &json!({"_t": token(KEY, 0)})).await;
    assert_eq!(json.status(), 422);
    let body: Value = json.json().await.unwrap();
    assert_eq!(body["error"], "validation");
    assert!(body["fields"]["first_name"].is_array(), "{body}");
    assert!(stored(&db).await.is_empty());
    app.stop().await;
}
on_both_databases!(an_empty_form_sent_within_a_second_gets_its_field_errors);

async fn a_complete_form_sent_within_a_second_is_held_as_too_fast(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };

    // Autofill: a returning family's browser fills everything and sends at once.
    let response = post_form(&app, &with_token_field(complete(1), token(KEY, 0))).await;

    assert_thanked(&response, "too fast");
    assert_eq!(
        stored(&db).await,
        [("too_fast".to_owned(), "held".to_owned())]
    );
    assert_eq!(queue(&app).await["held"], 1, "counted in /status");
    app.stop().await;
}
on_both_databases!(a_complete_form_sent_within_a_second_is_held_as_too_fast);

async fn a_token_older_than_max_token_age_is_held_not_dropped(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };

    // The tab was left open overnight and then some: 25 hours.
    let response = post_form(&app, &with_token_field(complete(1), token(KEY, 25 * 3600))).await;

    assert_thanked(&response, "stale");
    assert_eq!(
        stored(&db).await,
        [("stale_time_token".to_owned(), "held".to_owned())]
    );
    app.stop().await;
}
on_both_databases!(a_token_older_than_max_token_age_is_held_not_dropped);

async fn forged_and_future_dated_tokens_are_held_with_their_verdicts(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };

    let forged = post_form(
        &app,
        &with_token_field(complete(1), token("another-key", 60)),
    )
    .await;
    assert_thanked(&forged, "forged");
    let future = post_form(&app, &with_token_field(complete(2), token(KEY, -3600))).await;
    assert_thanked(&future, "future");

    let mut rows = stored(&db).await;
    rows.sort();
    assert_eq!(
        rows,
        [
            ("forged_time_token".to_owned(), "held".to_owned()),
            ("future_time_token".to_owned(), "held".to_owned()),
        ]
    );
    assert_eq!(queue(&app).await["held"], 2);
    app.stop().await;
}
on_both_databases!(forged_and_future_dated_tokens_are_held_with_their_verdicts);

async fn a_post_with_origin_null_is_held(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };

    // A sandboxed iframe posts with `Origin: null`: it cannot be checked
    // against the allow-list, so a person looks before it is sent.
    let response = app
        .http
        .post(format!("{}/forms/{SITE}", app.address))
        .header("origin", "null")
        .json(&family(1))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(
        stored(&db).await,
        [("null_origin".to_owned(), "held".to_owned())]
    );
    app.stop().await;
}
on_both_databases!(a_post_with_origin_null_is_held);

async fn a_captcha_outage_under_hold_is_held_counted_and_released(db: Db) {
    let fake = FakeVerify::start(Reply::Status(503)).await;
    let options = options(KEY).config(format!(
        "[captcha]\nprovider = \"hcaptcha\"\nsite_key = \"k\"\nsecret = \"s\"\n\
         verify_url = \"{}\"\ntimeout = \"500ms\"\non_error = \"hold\"\n",
        fake.url
    ));
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .without_carehq()
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    let mut body = family(1);
    body["h-captcha-response"] = json!("while-down");

    let response = app.post_json(SITE, &body).await;

    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        stored(&db).await,
        [("captcha_unverified".to_owned(), "held".to_owned())]
    );
    assert_eq!(queue(&app).await["held"], 1);
    let config = write_config(
        db.dir.path(),
        &db.url,
        NOWHERE,
        free_port(),
        &AppOptions::default(),
    );
    let (code, out, err) = cli(&config, &["enquiries", "release", &id]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(queue(&app).await["held"], 0, "released");
    app.stop().await;
}
on_both_databases!(a_captcha_outage_under_hold_is_held_counted_and_released);

async fn the_honeypot_still_drops(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };

    let mut pairs = with_token_field(complete(1), token(KEY, 60));
    pairs.push(("website".into(), "http://spam.example".into()));
    assert_thanked(&post_form(&app, &pairs).await, "honeypot");
    // Filled in and sent at once: still dropped, never held.
    let mut fast = with_token_field(complete(2), token(KEY, 0));
    fast.push(("website".into(), "http://spam.example".into()));
    assert_thanked(&post_form(&app, &fast).await, "honeypot, too fast");
    // Junk with the honeypot filled is dropped too, not answered 422.
    let junk = vec![("website".to_owned(), "x".to_owned())];
    assert_thanked(&post_form(&app, &junk).await, "honeypot, empty form");

    assert!(stored(&db).await.is_empty(), "nothing stored");
    app.stop().await;
}
on_both_databases!(the_honeypot_still_drops);

/// The same database, the CareHQ secret rotated between two starts: a form
/// opened before the rotation is still accepted, not held as forged.
async fn a_token_signed_before_the_carehq_secret_changed_is_accepted(db: Db) {
    // No spam.token_secret: the key is the one stored in the database.
    let lenient = |secret: &str| AppOptions {
        api_secret: secret.into(),
        ..AppOptions::default()
    };
    let Some((db, _sandbox, before)) = TestApp::builder(db)
        .without_carehq()
        .options(lenient("carehq-secret-one"))
        .spawn()
        .await
    else {
        return;
    };
    let opened = before.time_token(SITE).await;
    before.stop().await;

    let after = TestApp::spawn(&db, NOWHERE, &lenient("carehq-secret-two")).await;
    let response = post_form(&after, &with_token_field(complete(1), opened)).await;

    assert_thanked(&response, "after rotation");
    let rows = stored(&db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "clean", "accepted, not held: {rows:?}");
    assert_ne!(rows[0].1, "held");
    after.stop().await;
}
on_both_databases!(a_token_signed_before_the_carehq_secret_changed_is_accepted);

/// `spam.token_secret` changed between two starts: tokens signed with the
/// previous key pass for `max_token_age` after the change, and are held as
/// forged once the previous key was replaced longer ago than that.
async fn a_token_signed_with_the_previous_token_secret_is_accepted_for_max_token_age(db: Db) {
    let Some((db, _sandbox, first)) = TestApp::builder(db)
        .without_carehq()
        .options(options("key-one"))
        .spawn()
        .await
    else {
        return;
    };
    first.stop().await;
    let second = TestApp::spawn(&db, NOWHERE, &options("key-two")).await;
    assert_thanked(
        &post_form(
            &second,
            &with_token_field(complete(1), token("key-one", 60)),
        )
        .await,
        "previous key",
    );
    assert_thanked(
        &post_form(
            &second,
            &with_token_field(complete(2), token("key-two", 60)),
        )
        .await,
        "current key",
    );
    second.stop().await;
    let rows = stored(&db).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|(verdict, status)| verdict == "clean" && status != "held"),
        "{rows:?}"
    );

    // A day and an hour later (the replacement moved back, no sleeping): the
    // previous key no longer counts, and its token is held as forged.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE time_token_keys SET replaced_at = replaced_at - $1")
        .bind(25_i64 * 3600 * 1000)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let third = TestApp::spawn(&db, NOWHERE, &options("key-two")).await;
    assert_thanked(
        &post_form(&third, &with_token_field(complete(3), token("key-one", 60))).await,
        "long-replaced key",
    );
    third.stop().await;
    let rows = stored(&db).await;
    assert_eq!(
        rows.iter()
            .filter(|(v, s)| v == "forged_time_token" && s == "held")
            .count(),
        1,
        "{rows:?}"
    );
}
on_both_databases!(a_token_signed_with_the_previous_token_secret_is_accepted_for_max_token_age);

/// `retention.held`: a held enquiry nobody released is scrubbed once it is
/// older than that (default 30 days), and leaves the held count.
async fn a_held_enquiry_nobody_releases_is_purged_after_retention_held(db: Db) {
    let Some((db, _sandbox, app)) = no_carehq_app(db).spawn().await else {
        return;
    };
    let old = post_form(&app, &with_token_field(complete(1), token(KEY, 0))).await;
    assert_thanked(&old, "held");
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE enquiries SET received_at = received_at - $1")
        .bind(31_i64 * 24 * 3600 * 1000)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let young = post_form(&app, &with_token_field(complete(2), token(KEY, 0))).await;
    assert_thanked(&young, "held");
    assert_eq!(queue(&app).await["held"], 2);

    let config = write_config(
        db.dir.path(),
        &db.url,
        NOWHERE,
        free_port(),
        &AppOptions::default(),
    );
    let (code, out, err) = cli(&config, &["enquiries", "purge"]).await;

    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 held"), "{out}");
    assert_eq!(queue(&app).await["held"], 1, "the young one waits on");
    let listed = app
        .store
        .list_enquiries(&enquiry_relay::storage::EnquiryFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let purged = listed.iter().find(|e| e.scrubbed).expect("one scrubbed");
    assert_eq!(purged.status, "expired");
    let record = app
        .store
        .enquiry(&purged.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(record.payload.is_none(), "personal data removed");
    assert_eq!(record.spam_verdict, "too_fast", "the audit record stays");
    app.stop().await;
}
on_both_databases!(a_held_enquiry_nobody_releases_is_purged_after_retention_held);
