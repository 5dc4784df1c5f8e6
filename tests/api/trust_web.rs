//! Issue 34 ("Trust"), the web side: staff sessions end when the token that
//! opened them changes (after a restart too) and `staff sign-out-all` ends
//! them all. The real router on loopback, the sandbox as CareHQ, the binary
//! for the command line.

use crate::accounts::{OTHER_ACCOUNT, OTHER_SITE, second_sandbox};
use crate::admin::cli;
use crate::helpers::{AppOptions, Db, TestApp, TestDb, TestSandbox, another_site, write_config};
use crate::on_both_databases;
use crate::staff::Staff;
use crate::status::{TOKEN, with_token};
use crate::tenancy::OTHER_TOKEN;

/// The global staff token after it was changed.
const NEW_TOKEN: &str = "rotated-staff-token-0123456789abcdef";
/// `marshall-care`'s staff token after it was changed.
const NEW_OTHER_TOKEN: &str = "rotated-marshall-token-0123456789abcdef";

/// Two accounts as in `tenancy::two_accounts`, with these staff tokens: the
/// global one and `marshall-care`'s.
fn with_tokens(b: &TestSandbox, global: &str, account: &str) -> AppOptions {
    AppOptions {
        extra_toml: format!(
            "[staff]\ntoken = \"{global}\"\n\
             [[accounts]]\nname = \"{OTHER_ACCOUNT}\"\naccount_id = \"0000000000000000000000b2\"\n\
             api_key = \"marshall-key\"\napi_secret = \"marshall-secret-value\"\nbase_url = \"{}\"\n\
             staff_token = \"{account}\"\n\
             {}account = \"{OTHER_ACCOUNT}\"\n",
            b.url,
            another_site(OTHER_SITE)
        ),
        ..AppOptions::default()
    }
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
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let a = TestSandbox::start().await;
    let b = second_sandbox().await;
    let app = TestApp::spawn(&db, &a.url, &with_tokens(&b, TOKEN, OTHER_TOKEN)).await;
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
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let options = with_token(AppOptions::default(), "").quiet();
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
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
