//! A page left open longer than `spam.max_token_age`: the script fetches a
//! fresh `_t` from `GET /forms/{site}/token` before sending (and waits out
//! `spam.min_fill_time` for it), so the family's enquiry is delivered, not
//! held as `stale_time_token`. The page's age is forged by giving the form
//! a token signed 25 hours ago: no sleeping decides the outcome.

use std::time::Duration;

use enquiry_relay::spam::{TimeTokens, unix_now};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{AppOptions, Db, TestApp};
use crate::spam::stored;

use super::form_flow::fill_in;
use super::webdriver::{Browser, chromedriver_path};
use super::{HOME, home_toml};

const KEY: &str = "browser-token-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_open_longer_than_max_token_age_gets_a_fresh_token_before_sending() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    // The default window (3 s to 24 h): the fresh token must also not be
    // sent too fast.
    let options = AppOptions::default()
        .shipped_spam(format!(
            "[spam]\ntoken_secret = \"{KEY}\"\n\
             [rate_limit]\nper_ip = \"100000/1s\"\nper_site = \"100000/1s\"\nper_site_held = \"100000/1s\"\n"
        ))
        .config(home_toml("https://example-care.co.uk"));
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;
    let browser = Browser::start(&driver, true, 1000).await;
    browser.goto(&format!("{}/forms/{HOME}", app.address)).await;
    let yesterday = TimeTokens::new(&SecretString::from(KEY), Duration::ZERO, Duration::MAX)
        .issue(HOME, unix_now() - 25 * 3600);
    browser
        .execute(&format!(
            "document.querySelector('input[name=_t]').value = '{yesterday}'; return true;"
        ))
        .await;

    fill_in(&browser, 1).await;
    browser.click_css("button[type=submit]").await;
    browser.wait_for_url(&format!("/forms/{HOME}/thanks")).await;

    let rows = stored(&db).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        rows[0].0, "clean",
        "not held as stale or too fast: {rows:?}"
    );
    assert_ne!(rows[0].1, "held");
    assert_eq!(sandbox.wait_for(1).await.len(), 1, "delivered to CareHQ");
    drop(browser);
    app.stop().await;
}

/// The page carries what the script needs: the token URL, the server's
/// clock, when to refresh and how long a new token must wait.
#[tokio::test]
async fn the_form_tells_the_script_how_to_keep_its_token_fresh() {
    let options = AppOptions::default()
        .shipped_spam("[spam]\nmin_fill_time = \"3s\"\nmax_token_age = \"24h\"\n")
        .config(home_toml("https://example-care.co.uk"));
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let html = app
        .http
        .get(format!("{}/forms/{HOME}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("data-token-url=\"/forms/{HOME}/token\"")),
        "{html}"
    );
    assert!(html.contains("data-token-refresh=\"43200\""), "{html}");
    assert!(html.contains("data-token-min-fill=\"3\""), "{html}");
    let now: u64 = html
        .split("data-token-now=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("data-token-now");
    assert!(now.abs_diff(unix_now()) < 60, "{now}");
    let token: serde_json::Value = app
        .http
        .get(format!("{}/forms/{HOME}/token", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["field"], json!("_t"));
    app.stop().await;
}
