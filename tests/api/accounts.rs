//! Two CareHQ accounts in one deployment, each on its own sandbox with its
//! own credentials: each sandbox gets only its own home's enquiries, signed
//! with its own key; a 401 for one account pauses that account alone (an
//! alert and `/status` name it) while the other keeps being delivered.

use enquiry_relay::sandbox::{Faults, SandboxConfig};
use serde_json::Value;

use enquiry_relay::storage::DeliveryStatus;

use crate::admin::cli;
use crate::alerts::{Inbox, receiver};
use crate::helpers::{
    AppOptions, Db, TestApp, TestDb, TestSandbox, another_site, family, field, free_port,
    posted_id, write_config,
};
use crate::on_both_databases;
use crate::status::{TOKEN, status};

pub const OTHER_SITE: &str = "marshall-home";
pub const OTHER_ACCOUNT: &str = "marshall-care";

/// Account B's sandbox: its own account Id and signing credentials, so a
/// send signed with account A's key would be refused.
pub async fn second_sandbox() -> TestSandbox {
    TestSandbox::start_with(SandboxConfig {
        account_id: "0000000000000000000000b2".into(),
        api_key: "marshall-key".into(),
        api_secret: "marshall-secret-value".into(),
        ..SandboxConfig::default()
    })
    .await
}

fn two_accounts(hook: &str, b: &TestSandbox) -> AppOptions {
    AppOptions::default()
        .config(format!(
            "[staff]\ntoken = \"{TOKEN}\"\n\
             [alerts]\nwebhook_url = \"{hook}\"\n\
             [[accounts]]\nname = \"{OTHER_ACCOUNT}\"\naccount_id = \"0000000000000000000000b2\"\n\
             api_key = \"marshall-key\"\napi_secret = \"marshall-secret-value\"\nbase_url = \"{}\"\n\
             {}account = \"{OTHER_ACCOUNT}\"\n",
            b.url,
            another_site(OTHER_SITE)
        ))
        .quiet()
}

pub async fn post_to(app: &TestApp, site: &str, n: usize) -> String {
    let response = app.post_json(site, &family(n)).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

fn last_names(sandbox: &TestSandbox) -> Vec<String> {
    (sandbox.received().iter())
        .map(|r| field(r, "last_name").unwrap_or_default().to_owned())
        .collect()
}

fn paused_alerts(inbox: &Inbox) -> Vec<Value> {
    (inbox.lock().unwrap().iter())
        .filter(|m| m["kind"] == "paused" && m["event"] == "incident")
        .cloned()
        .collect()
}

async fn one_accounts_401_pauses_only_that_account(db: Db) {
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let (hook, inbox) = receiver().await;
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&a.url)
        .options(two_accounts(&hook, &b))
        .spawn()
        .await
    else {
        return;
    };

    // Each home's enquiry reaches its own account, signed with its own key.
    posted_id(&app, 1).await;
    post_to(&app, OTHER_SITE, 2).await;
    assert_eq!(app.drain().await.synced, 2);
    assert_eq!(last_names(&a), ["O'Brien 1"]);
    assert_eq!(last_names(&b), ["O'Brien 2"]);

    // Account A's credentials are revoked: A pauses, B goes on.
    a.set_faults(Faults {
        status: Some(401),
        ..Faults::default()
    });
    let held_back = posted_id(&app, 3).await;
    post_to(&app, OTHER_SITE, 4).await;
    let report = app.drain().await;
    assert_eq!(report.synced, 1, "{report:?}");
    assert_eq!(last_names(&b), ["O'Brien 2", "O'Brien 4"]);
    assert!(
        app.store
            .delivery_state("default")
            .await
            .unwrap()
            .is_paused()
    );
    assert!(
        !app.store
            .delivery_state(OTHER_ACCOUNT)
            .await
            .unwrap()
            .is_paused()
    );
    assert_eq!(
        app.delivery(&held_back).await.status,
        DeliveryStatus::Pending
    );

    // The alert and /status name the paused account, and only it.
    app.check_alerts().await;
    let alerts = paused_alerts(&inbox);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["account"], "default");
    let title = alerts[0]["title"].as_str().unwrap();
    assert!(title.ends_with("for account default"), "{title}");
    let (code, body) = status(&app).await;
    assert_eq!(code, 503);
    assert_eq!(body["accounts"]["default"]["paused"]["paused"], true);
    assert_eq!(body["accounts"][OTHER_ACCOUNT]["paused"]["paused"], false);
    assert_eq!(body["accounts"][OTHER_ACCOUNT]["sites"][0], OTHER_SITE);
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problem = problems[0].as_str().unwrap();
    assert!(problem.contains("account default is paused"), "{problem}");
    assert!(!problem.contains(OTHER_ACCOUNT), "{problem}");

    // While A stays paused, B's new enquiries keep arriving.
    post_to(&app, OTHER_SITE, 5).await;
    app.drain().await;
    assert_eq!(last_names(&b), ["O'Brien 2", "O'Brien 4", "O'Brien 5"]);
    assert_eq!(last_names(&a), ["O'Brien 1"]);

    // A's credentials work again: its probe delivers the held-back enquiry.
    a.set_faults(Faults::default());
    let report = app.drain_to_rest().await;
    assert_eq!(report.synced, 1, "{report:?}");
    assert_eq!(last_names(&a), ["O'Brien 1", "O'Brien 3"]);
    assert!(
        !app.store
            .delivery_state("default")
            .await
            .unwrap()
            .is_paused()
    );
    assert_eq!(paused_alerts(&inbox).len(), 1, "no second pause alert");
    app.stop().await;
}
on_both_databases!(one_accounts_401_pauses_only_that_account);

#[tokio::test]
async fn account_mistakes_are_named_by_key() {
    let toml = |accounts: &str, site_account: &str| {
        format!(
            "[carehq]\nsandbox = true\n{accounts}\n[[sites]]\nslug = \"a\"\nname = \"A\"\n\
             location = \"6724fbc74f73a2cebf6377fa\"\n{site_account}\n"
        )
    };
    let errors = |text: String| match enquiry_relay::config::Settings::from_toml_str(&text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors,
    };
    let unknown = errors(toml("", "account = \"nobody\""));
    let message = &unknown.get("sites[0].account").unwrap().message;
    assert!(
        message.contains("no account is named \"nobody\""),
        "{message}"
    );

    let unused = errors(toml(
        "[[accounts]]\nname = \"spare\"\naccount_id = \"x\"\napi_key = \"k\"\napi_secret = \"s\"\n",
        "",
    ));
    let message = &unused.get("accounts[0].name").unwrap().message;
    assert!(
        message.contains("no site uses account \"spare\""),
        "{message}"
    );

    let missing = errors(toml(
        "[[accounts]]\nname = \"spare\"\n",
        "account = \"spare\"",
    ));
    for key in ["account_id", "api_key", "api_secret"] {
        let error = missing.get(&format!("accounts[0].{key}"));
        assert!(error.is_some(), "{key}: {missing}");
    }

    let reserved = errors(toml(
        "[[accounts]]\nname = \"default\"\naccount_id = \"x\"\napi_key = \"k\"\napi_secret = \"s\"\n",
        "",
    ));
    let message = &reserved.get("accounts[0].name").unwrap().message;
    assert!(message.contains("[carehq]"), "{message}");
}

/// `check --remote` and `carehq locations` ask each account, labelled; one
/// account's refusal is reported without hiding the other's answer.
#[tokio::test]
async fn check_remote_and_lookups_ask_each_account() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let (hook, _inbox) = receiver().await;
    let options = two_accounts(&hook, &b);
    let config = write_config(db.dir.path(), &db.url, &a.url, free_port(), &options);

    let (code, out, err) = cli(&config, &["check", "--remote"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("account default:"), "{out}");
    assert!(out.contains(&format!("account {OTHER_ACCOUNT}:")), "{out}");
    assert!(out.contains(&format!("{OTHER_SITE}: location")), "{out}");

    a.set_faults(Faults {
        status: Some(401),
        ..Faults::default()
    });
    let (code, out, _) = cli(&config, &["check", "--remote"]).await;
    assert_eq!(code, 1, "{out}");
    let (default, other) = out
        .split_once(&format!("account {OTHER_ACCOUNT}:"))
        .unwrap();
    assert!(
        default.contains("CareHQ refused the credentials: check carehq.account_id"),
        "{out}"
    );
    assert!(other.contains("CareHQ accepted the credentials"), "{out}");

    let (code, out, err) = cli(
        &config,
        &["carehq", "--account", OTHER_ACCOUNT, "locations", "--toml"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("account = \"{OTHER_ACCOUNT}\"")),
        "{out}"
    );
    let (code, _, err) = cli(&config, &["check", "--remote", "--account", "nobody"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no CareHQ account is named \"nobody\""),
        "{err}"
    );
}
