//! Issue 34 ("Trust"), the web side: staff sessions end when the token that
//! opened them changes (after a restart too) and `staff sign-out-all` ends
//! them all; an account's token sees nothing of another account's sends
//! through a destination they share. The real router on loopback, the
//! sandboxes as CareHQ and the FHIR server, the binary for the command line.

use enquiry_relay::fhir_sandbox::{DISCOVERY_PATH, OPENID_CONFIGURATION_PATH, seed};
use serde_json::Value;

use crate::accounts::{OTHER_ACCOUNT, OTHER_SITE, post_to, second_sandbox};
use crate::admin::cli;
use crate::helpers::{AppOptions, Db, SITE, TestApp, TestSandbox, another_site, write_config};
use crate::on_both_databases;
use crate::staff::Staff;
use crate::status::{TOKEN, with_token};
use crate::tenancy::{OTHER_TOKEN, assert_only_its_own_series};

/// The global staff token after it was changed.
const NEW_TOKEN: &str = "rotated-staff-token-0123456789abcdef";
/// `marshall-care`'s staff token after it was changed.
const NEW_OTHER_TOKEN: &str = "rotated-marshall-token-0123456789abcdef";

/// Two accounts as in `tenancy::two_accounts`, with these staff tokens: the
/// global one and `marshall-care`'s.
fn with_tokens(b: &TestSandbox, global: &str, account: &str) -> AppOptions {
    with_tokens_and(b, global, account, "")
}

/// As `with_tokens`, with `other_site` lines added to `marshall-home`.
fn with_tokens_and(b: &TestSandbox, global: &str, account: &str, other_site: &str) -> AppOptions {
    AppOptions::default()
        .config(format!(
            "[staff]\ntoken = \"{global}\"\n\
             [[accounts]]\nname = \"{OTHER_ACCOUNT}\"\naccount_id = \"0000000000000000000000b2\"\n\
             api_key = \"marshall-key\"\napi_secret = \"marshall-secret-value\"\nbase_url = \"{}\"\n\
             staff_token = \"{account}\"\n\
             {}account = \"{OTHER_ACCOUNT}\"\n{other_site}",
            b.url,
            another_site(OTHER_SITE)
        ))
        .quiet()
}

/// Where `GET /staff` with this browser's cookie leads: `200` signed in,
/// else the redirect's target.
async fn console(staff: &Staff) -> String {
    let response = staff.get("/staff").await;
    match response.status().as_u16() {
        200 => "signed in".to_owned(),
        303 => response.headers()["location"].to_str().unwrap().to_owned(),
        other => panic!("GET /staff answered {other}"),
    }
}

/// T3-3: sessions signed in with a token that is no longer the configured
/// one are refused after a restart, whether the global token or an
/// account's changed; a session whose token is unchanged survives it. On the
/// old code each changed token's browsers stayed signed in.
async fn a_session_ends_when_the_token_that_opened_it_changes(db: Db) {
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .carehq(a.url.clone())
        .options(with_tokens(&b, TOKEN, OTHER_TOKEN))
        .spawn()
        .await
    else {
        return;
    };
    let global = Staff::sign_in_with(&app, TOKEN).await;
    let account = Staff::sign_in_with(&app, OTHER_TOKEN).await;
    assert_eq!(console(&global).await, "signed in");
    assert_eq!(console(&account).await, "signed in");
    app.stop().await;

    // The same tokens after a restart: both sessions hold (the fingerprint's
    // key is not made afresh at each start).
    let app = TestApp::spawn(&db, &a.url, &with_tokens(&b, TOKEN, OTHER_TOKEN)).await;
    assert_eq!(console(&global.at(&app)).await, "signed in");
    assert_eq!(console(&account.at(&app)).await, "signed in");
    app.stop().await;

    // The global token changed: its browsers are signed out, the account's not.
    let app = TestApp::spawn(&db, &a.url, &with_tokens(&b, NEW_TOKEN, OTHER_TOKEN)).await;
    assert_eq!(console(&global.at(&app)).await, "/staff/login");
    assert_eq!(console(&account.at(&app)).await, "signed in");
    // The new token signs in as before.
    let fresh = Staff::sign_in_with(&app, NEW_TOKEN).await;
    assert_eq!(console(&fresh).await, "signed in");
    app.stop().await;

    // The account's token changed: its browsers are signed out too.
    let app = TestApp::spawn(&db, &a.url, &with_tokens(&b, NEW_TOKEN, NEW_OTHER_TOKEN)).await;
    assert_eq!(console(&account.at(&app)).await, "/staff/login");
    assert_eq!(console(&fresh.at(&app)).await, "signed in");
    app.stop().await;
}
on_both_databases!(a_session_ends_when_the_token_that_opened_it_changes);

/// `staff sign-out-all`, run beside a running service, ends every session
/// there (whichever token opened it); signing in again works. The old
/// binary had no such command.
async fn sign_out_all_ends_every_session(db: Db) {
    let options = with_token(AppOptions::default(), "").quiet();
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options.clone()).spawn().await
    else {
        return;
    };
    let first = Staff::sign_in_with(&app, TOKEN).await;
    let second = Staff::sign_in_with(&app, TOKEN).await;
    assert_eq!(console(&first).await, "signed in");
    assert_eq!(console(&second).await, "signed in");

    let config = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        crate::helpers::free_port(),
        &options,
    );
    let (code, out, err) = cli(&config, &["staff", "sign-out-all"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed out 2 staff console session"), "{out}");
    assert_eq!(console(&first).await, "/staff/login");
    assert_eq!(console(&second).await, "/staff/login");

    let again = Staff::sign_in_with(&app, TOKEN).await;
    assert_eq!(console(&again).await, "signed in");
    let (code, out, err) = cli(&config, &["staff", "sign-out-all"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("signed out 1 staff console session"), "{out}");
    app.stop().await;
}
on_both_databases!(sign_out_all_ends_every_session);

/// T3-10: a FHIR destination both accounts' homes send to. Only the default
/// account's enquiry is sent; `marshall-care`'s token sees the destination
/// (its home sends there too) without the lane's last success, which was the
/// other account's enquiry, and its `/metrics` without that lane's attempts.
/// On the old code its `/status` showed the other account's success time.
async fn a_shared_destination_shows_an_account_nothing_of_the_others_sends(db: Db) {
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let (_records, base, _stop) = crate::fhir_destination::fhir().await;
    let options = with_tokens_and(&b, TOKEN, OTHER_TOKEN, "also_send_to = [\"records\"]\n")
        .site("also_send_to = [\"records\"]")
        .config(format!(
            "[[destinations]]\nname = \"records\"\nkind = \"fhir\"\n\
             discovery_url = \"{base}{DISCOVERY_PATH}\"\nsso_discovery_url = \"{base}{OPENID_CONFIGURATION_PATH}\"\n\
             client_id = \"{}\"\nclient_secret = \"{}\"\nsite_id = \"{}\"\n",
            seed::CLIENT_ID,
            seed::CLIENT_SECRET,
            seed::SITE_ID,
        ));
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&a.url)
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    post_to(&app, SITE, 1).await;
    app.drain_all().await;

    let status = |token: &'static str| {
        let app = &app;
        async move {
            let response = (app.http.get(format!("{}/status", app.address)))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    let all = status(TOKEN).await;
    assert!(
        all["destinations"]["records"]["last_success_at"].is_string(),
        "{all}"
    );
    let theirs = status(OTHER_TOKEN).await;
    let records = &theirs["destinations"]["records"];
    assert!(records.is_object(), "its home sends there too: {theirs}");
    assert_eq!(records["last_success_at"], Value::Null, "{theirs}");
    assert_eq!(records["last_error_at"], Value::Null, "{theirs}");
    assert_eq!(records["paused"]["paused"], false, "{theirs}");

    let metrics = (app.http.get(format!("{}/metrics", app.address)))
        .bearer_auth(OTHER_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("destination:records"), "{metrics}");
    assert_only_its_own_series(&metrics, OTHER_SITE, OTHER_ACCOUNT);
    app.stop().await;
}
on_both_databases!(a_shared_destination_shows_an_account_nothing_of_the_others_sends);
