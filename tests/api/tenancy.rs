//! Per-account staff tokens: an account's token sees only its own homes on
//! `/status` and `/metrics`, and in the staff console (list, detail, actions,
//! export); the global `staff.token` sees everything. Two accounts on two
//! sandboxes, as in `accounts.rs`.

use enquiry_relay::sandbox::Faults;
use serde_json::Value;

use enquiry_relay::storage::DeliveryStatus;

use crate::accounts::{OTHER_ACCOUNT, OTHER_SITE, post_to, second_sandbox};
use crate::admin::cli;
use crate::helpers::{AppOptions, Db, SITE, TestApp, TestSandbox, another_site};
use crate::on_both_databases;
use crate::staff::Staff;
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
    AppOptions::default()
        .config(format!(
            "{staff}\
             [[accounts]]\nname = \"{OTHER_ACCOUNT}\"\naccount_id = \"0000000000000000000000b2\"\n\
             api_key = \"marshall-key\"\napi_secret = \"marshall-secret-value\"\nbase_url = \"{}\"\n\
             staff_token = \"{OTHER_TOKEN}\"\n\
             {}account = \"{OTHER_ACCOUNT}\"\n",
            b.url,
            another_site(OTHER_SITE)
        ))
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

/// Every sample of an account's `/metrics` names its home or its account, or
/// is one of the queue gauges computed for its homes alone.
pub fn assert_only_its_own_series(text: &str, site: &str, account: &str) {
    let own_gauges = [
        "enquiry_relay_enquiries",
        "enquiry_relay_oldest_pending_age_seconds",
        "enquiry_relay_delivery_paused",
        "enquiry_relay_carehq_rate_limit_remaining",
    ];
    // Each family one group: its TYPE line, then its samples.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(family) = line
            .strip_prefix("# TYPE ")
            .and_then(|t| t.split(' ').next())
        {
            let next = (lines[i + 1..].iter()).find(|l| !l.starts_with('#'));
            assert!(
                next.is_some_and(|l| l.starts_with(family)),
                "{family}'s samples do not follow its TYPE line:\n{text}"
            );
        }
    }
    for (name, labels, _) in crate::metrics::parse(text) {
        if own_gauges.contains(&name.as_str()) {
            continue;
        }
        let named = (labels.iter())
            .filter(|(k, _)| k == "site" || k == "account")
            .collect::<Vec<_>>();
        assert!(
            !named.is_empty()
                && named.iter().all(|(k, v)| match k.as_str() {
                    "site" => v == site,
                    _ => v == account,
                }),
            "{name} {labels:?} is not {site}'s or {account}'s:\n{text}"
        );
    }
}

async fn an_accounts_token_sees_only_its_homes_on_status_and_metrics(db: Db) {
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&a.url)
        .options(two_accounts(&b, true))
        .spawn()
        .await
    else {
        return;
    };

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
    // Nothing the other account's activity moved (review T3-10: the
    // default account's pauses showed as unlabelled attempts here).
    assert!(!text.contains("outcome=\"paused\""), "{text}");
    assert_only_its_own_series(&text, OTHER_SITE, OTHER_ACCOUNT);
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
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&a.url)
        .options(two_accounts(&b, false))
        .spawn()
        .await
    else {
        return;
    };
    let (code, text) = get(&app, "/status", OTHER_TOKEN).await;
    assert_eq!(code, 200, "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys(&own["sites"]), [OTHER_SITE]);
    let (code, text) = get(&app, "/status", TOKEN).await;
    assert_eq!(code, 401, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("Send a staff token"), "{message}");
    // The console opens to the account's token as well.
    let staff = Staff::sign_in_with(&app, OTHER_TOKEN).await;
    let html = staff.page("/staff").await;
    assert!(html.contains("Another Home"), "{html}");
    assert!(!html.contains("Upton Court"), "{html}");
    app.stop().await;
}
on_both_databases!(account_tokens_alone_open_status);

async fn an_accounts_staff_see_and_act_on_its_homes_enquiries_only(db: Db) {
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&a.url)
        .options(two_accounts(&b, true))
        .spawn()
        .await
    else {
        return;
    };
    // One failed enquiry in each account: CareHQ refuses each once.
    let theirs = post_to(&app, SITE, 1).await;
    let ours = post_to(&app, OTHER_SITE, 2).await;
    a.set_faults(Faults::once(400));
    b.set_faults(Faults::once(400));
    app.drain_all().await;
    assert_eq!(app.delivery(&theirs).await.status, DeliveryStatus::Failed);
    assert_eq!(app.delivery(&ours).await.status, DeliveryStatus::Failed);

    // Search terms are written after the acknowledgement: finish what the
    // service's indexer may still be doing.
    app.store.fill_search_terms(500).await.unwrap();
    let staff = Staff::sign_in_with(&app, OTHER_TOKEN).await;
    let overview = staff.page("/staff").await;
    assert!(overview.contains("Another Home"), "{overview}");
    assert!(!overview.contains("Upton Court"), "{overview}");
    assert!(
        overview.contains("staff token (account marshall-care)"),
        "{overview}"
    );

    // The list and its searches show its own home's enquiry only, and the
    // filter offers only its own home.
    let list = staff.page("/staff/enquiries").await;
    assert!(list.contains(&ours), "{list}");
    assert!(!list.contains(&theirs), "{list}");
    assert!(!list.contains("family1@example.com"), "{list}");
    assert!(!list.contains(SITE), "{list}");
    for query in [format!("site={SITE}"), "q=family1".to_owned()] {
        let html = staff.page(&format!("/staff/enquiries?{query}")).await;
        assert!(!html.contains(&theirs), "{query}: {html}");
        assert!(html.contains("No enquiries match"), "{query}: {html}");
    }

    // The other account's enquiry is not found, as a missing one is not.
    let hidden = staff.get(&format!("/staff/enquiries/{theirs}")).await;
    assert_eq!(hidden.status(), 404);
    let hidden = hidden.text().await.unwrap();
    let missing = staff
        .get("/staff/enquiries/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(hidden, missing.text().await.unwrap());
    assert!(!hidden.contains("family1@example.com"), "{hidden}");
    assert!(
        staff
            .page(&format!("/staff/enquiries/{ours}"))
            .await
            .contains("family2@example.com")
    );

    // The export has its own home's enquiry only.
    let csv = staff.get("/staff/export.csv").await.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "header and its own enquiry: {csv}");
    assert!(
        lines[1].starts_with(&format!("{ours},{OTHER_SITE},")),
        "{csv}"
    );

    // Acting on the other account's enquiry is refused and changes nothing:
    // retry, release, delete, a correction and "retry all".
    let own_page = format!("/staff/enquiries/{ours}");
    for action in ["retry", "release", "delete", "edit"] {
        let refused = staff
            .act(
                &own_page,
                &format!("/staff/enquiries/{theirs}/{action}"),
                &[("reason", "spam")],
            )
            .await;
        assert_eq!(refused.status(), 404, "{action}");
    }
    let bulk = staff
        .act("/staff/enquiries", "/staff/enquiries/retry", &[])
        .await;
    assert_eq!(bulk.status(), 303);
    assert_eq!(
        bulk.headers()["location"],
        "/staff/enquiries?retried=1",
        "its own failed enquiry only"
    );
    assert_eq!(app.delivery(&theirs).await.status, DeliveryStatus::Failed);
    assert!(
        app.store
            .audit_of(&theirs.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.store
            .enquiry(&theirs.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );
    assert_eq!(app.delivery(&ours).await.status, DeliveryStatus::Pending);
    let audit = app.store.audit_of(&ours.parse().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "staff token (account marshall-care)");

    // The global token still sees both.
    let everyone = Staff::sign_in(&app).await;
    let list = everyone.page("/staff/enquiries").await;
    assert!(list.contains(&ours) && list.contains(&theirs), "{list}");
    let html = everyone.page(&format!("/staff/enquiries/{theirs}")).await;
    assert!(html.contains("family1@example.com"), "{html}");
    app.stop().await;
}
on_both_databases!(an_accounts_staff_see_and_act_on_its_homes_enquiries_only);

/// `enquiries list|export --account NAME`: that account's homes only; an
/// unknown name is refused, naming the accounts there are.
async fn the_cli_lists_and_exports_one_accounts_enquiries(db: Db) {
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let options = two_accounts(&b, true);
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .carehq(a.url.clone())
        .options(options.clone())
        .spawn()
        .await
    else {
        return;
    };
    let theirs = post_to(&app, SITE, 1).await;
    let ours = post_to(&app, OTHER_SITE, 2).await;
    let config = crate::helpers::write_config(
        db.dir.path(),
        &db.url,
        &a.url,
        crate::helpers::free_port(),
        &options,
    );

    let (code, out, err) = cli(&config, &["enquiries", "list", "--account", OTHER_ACCOUNT]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&ours), "{out}");
    assert!(!out.contains(&theirs), "{out}");
    assert!(out.contains("1 enquiries"), "{out}");
    let (code, out, err) = cli(&config, &["enquiries", "list", "--account", "default"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&theirs) && !out.contains(&ours), "{out}");

    // The same person wrote to both homes: the export keeps to the account.
    let (code, out, err) = cli(
        &config,
        &[
            "enquiries",
            "export",
            "--phone",
            "01632 960123",
            "--account",
            OTHER_ACCOUNT,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = (report["enquiries"].as_array().unwrap().iter())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [ours.as_str()]);

    let (code, _, err) = cli(&config, &["enquiries", "list", "--account", "nobody"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no CareHQ account is named \"nobody\""),
        "{err}"
    );
    assert!(err.contains(&format!("default, {OTHER_ACCOUNT}")), "{err}");
    app.stop().await;
}
on_both_databases!(the_cli_lists_and_exports_one_accounts_enquiries);
