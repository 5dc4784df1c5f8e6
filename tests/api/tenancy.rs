//! Per-account staff tokens: an account's token sees only its own homes on
//! `/status` and `/metrics`, and in the staff console (list, detail, actions,
//! export); the global `staff.token` sees everything. Two accounts on two
//! sandboxes, as in `accounts.rs`.

use enquiry_relay::sandbox::Faults;
use serde_json::Value;

use crate::accounts::{OTHER_ACCOUNT, OTHER_SITE, post_to, second_sandbox};
use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, another_site};
use crate::on_both_databases;
use crate::status::TOKEN;

/// The staff token of account `marshall-care` (its home: `marshall-home`).
pub const OTHER_TOKEN: &str = "marshall-staff-token-0123456789abcdef";

/// Two accounts: the default one (site `upton-court`) and `marshall-care`
/// (site `marshall-home`) with its own staff token; `global` adds `staff.token`.
pub fn two_accounts(b: &TestSandbox, global: bool) -> AppOptions {
    let staff = if global {
        format!("[staff]\ntoken = \"{TOKEN}\"\n")
    } else {
        String::new()
    };
    AppOptions {
        extra_toml: format!(
            "{staff}\
             [[accounts]]\nname = \"{OTHER_ACCOUNT}\"\naccount_id = \"0000000000000000000000b2\"\n\
             api_key = \"marshall-key\"\napi_secret = \"marshall-secret-value\"\nbase_url = \"{}\"\n\
             staff_token = \"{OTHER_TOKEN}\"\n\
             {}account = \"{OTHER_ACCOUNT}\"\n",
            b.url,
            another_site(OTHER_SITE)
        ),
        ..AppOptions::default()
    }
    .quiet()
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, String) {
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.text().await.unwrap())
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

async fn an_accounts_token_sees_only_its_homes_on_status_and_metrics(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let app = TestApp::spawn(&db, &a.url, &two_accounts(&b, true)).await;

    // The default account's key is refused: it pauses and its enquiry waits,
    // while marshall-care's enquiry is delivered.
    a.set_faults(Faults {
        status: Some(401),
        ..Faults::default()
    });
    post_to(&app, SITE, 1).await;
    post_to(&app, OTHER_SITE, 2).await;
    app.drain().await;

    // The global token sees both accounts, both homes and the pause.
    let (code, text) = get(&app, "/status", TOKEN).await;
    assert_eq!(code, 503, "{text}");
    let all: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&all["sites"]), [OTHER_SITE, SITE]);
    assert_eq!(keys(&all["accounts"]), ["default", OTHER_ACCOUNT]);
    assert_eq!(all["queue"]["pending"], 1);
    assert_eq!(all["queue"]["synced"], 1);
    assert_eq!(all["paused"]["paused"], true);

    // marshall-care's token sees its own account and home, healthy, and
    // nothing of the other: neither its slug nor its account's name.
    let (code, text) = get(&app, "/status", OTHER_TOKEN).await;
    assert_eq!(code, 200, "{text}");
    assert!(!text.contains(SITE), "{text}");
    assert!(!text.contains("\"default\""), "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&own["sites"]), [OTHER_SITE]);
    assert_eq!(keys(&own["accounts"]), [OTHER_ACCOUNT]);
    assert_eq!(own["accounts"][OTHER_ACCOUNT]["sites"][0], OTHER_SITE);
    assert_eq!(own["status"], "ok");
    assert_eq!(own["problems"].as_array().unwrap().len(), 0);
    assert_eq!(own["paused"]["paused"], false);
    assert_eq!(own["queue"]["pending"], 0);
    assert_eq!(own["queue"]["synced"], 1);
    assert_eq!(own["steps"]["enquiry"]["synced"], 1);
    assert_eq!(own["steps"]["enquiry"]["pending"], 0);
    assert!(own["carehq"]["last_success_at"].is_string(), "{own}");

    // /metrics: only its home's series, and its own queue figures.
    let (code, text) = get(&app, "/metrics", OTHER_TOKEN).await;
    assert_eq!(code, 200, "{text}");
    assert!(!text.contains(SITE), "{text}");
    let samples = crate::metrics::parse(&text);
    let value = |name: &str, label: Option<(&str, &str)>| {
        (samples.iter())
            .find(|(n, labels, _)| {
                n == name
                    && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
    };
    let enquiries = "enquiry_relay_enquiries";
    assert_eq!(value(enquiries, Some(("state", "synced"))), Some(1.0));
    assert_eq!(value(enquiries, Some(("state", "pending"))), Some(0.0));
    assert_eq!(value("enquiry_relay_delivery_paused", None), Some(0.0));
    assert!(
        value(
            "enquiry_relay_submissions_total",
            Some(("site", OTHER_SITE))
        )
        .is_some(),
        "{text}"
    );
    // The global token's metrics still have the whole deployment.
    let (code, text) = get(&app, "/metrics", TOKEN).await;
    assert_eq!(code, 200);
    assert!(text.contains(SITE), "{text}");
    app.stop().await;
}
on_both_databases!(an_accounts_token_sees_only_its_homes_on_status_and_metrics);

/// A deployment with account tokens only (no `staff.token`): `/status` is
/// open to each account's token; the global view is not there to be had.
async fn account_tokens_alone_open_status(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let app = TestApp::spawn(&db, &a.url, &two_accounts(&b, false)).await;
    let (code, text) = get(&app, "/status", OTHER_TOKEN).await;
    assert_eq!(code, 200, "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&own["sites"]), [OTHER_SITE]);
    let (code, text) = get(&app, "/status", TOKEN).await;
    assert_eq!(code, 401, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("Send a staff token"), "{message}");
    app.stop().await;
}
on_both_databases!(account_tokens_alone_open_status);
