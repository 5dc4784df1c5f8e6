//! The staff console over plain HTTP: sign-in, sessions and CSRF; the list,
//! one enquiry's page, the actions and their audit trail; the overview and
//! the CSV export. The real router on loopback, the sandbox as CareHQ, the
//! worker driven by `drain()`.

use std::time::Duration;

use enquiry_relay::sandbox::{Faults, RefusedValue};
use enquiry_relay::spam::{TimeTokens, unix_now};
use enquiry_relay::storage::DeliveryStatus;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};

use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, field, http_client, posted_id,
};
use crate::on_both_databases;
use crate::status::{TOKEN, with_token};

const TIME_KEY: &str = "staff-console-time-token-key";

/// The options of a staff test: a quiet app with the staff token, lenient
/// limits, and a known time-token key so a test can post a form "too fast"
/// and have it held.
pub fn staff_options(options: AppOptions) -> AppOptions {
    with_token(
        options.shipped_spam(format!(
            "[spam]\ntoken_secret = \"{TIME_KEY}\"\n[rate_limit]\nper_ip = \"100000/1s\"\nper_site = \"100000/1s\"\nper_site_held = \"100000/1s\"\n"
        )),
        "",
    )
    .quiet()
}

async fn spawn_with(db: &TestDb, sandbox: &TestSandbox, options: AppOptions) -> TestApp {
    TestApp::spawn(db, &sandbox.url, &staff_options(options)).await
}

/// A signed-in browser, as far as HTTP goes: its session cookie.
pub struct Staff {
    address: String,
    http: reqwest::Client,
    cookie: String,
}

/// The value of `name="csrf"` in a page.
fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in {html}"));
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// `name=value` of the `Set-Cookie` for `name`, and the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

/// GET the sign-in form: its login cookie and CSRF code.
async fn login_form(app: &TestApp) -> (String, String) {
    let page = app
        .http
        .get(format!("{}/staff/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let (cookie, _) = set_cookie(&page, "staff_login").expect("login cookie");
    (cookie, csrf_in(&page.text().await.unwrap()))
}

async fn post_login(app: &TestApp, token: &str) -> reqwest::Response {
    let (cookie, csrf) = login_form(app).await;
    app.http
        .post(format!("{}/staff/login", app.address))
        .header("cookie", cookie)
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

impl Staff {
    pub async fn sign_in(app: &TestApp) -> Staff {
        Staff::sign_in_with(app, TOKEN).await
    }

    /// Signed in with `token`: the global one or an account's.
    pub async fn sign_in_with(app: &TestApp, token: &str) -> Staff {
        let response = post_login(app, token).await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/staff");
        let (cookie, _) = set_cookie(&response, "staff_session").expect("session cookie");
        Staff {
            address: app.address.clone(),
            http: http_client(),
            cookie,
        }
    }

    /// The same browser (its cookie) talking to `app`: another instance, or
    /// the service started again.
    pub fn at(&self, app: &TestApp) -> Staff {
        Staff {
            address: app.address.clone(),
            http: http_client(),
            cookie: self.cookie.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .header("cookie", &self.cookie)
            .form(pairs)
            .send()
            .await
            .unwrap()
    }

    /// POST with this session's CSRF token, read from `page` first.
    pub async fn act(&self, page: &str, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let csrf = csrf_in(&self.page(page).await);
        let mut pairs = pairs.to_vec();
        pairs.push(("csrf", &csrf));
        self.post(path, &pairs).await
    }
}

/// Post one enquiry and let CareHQ refuse it once (400): a failed enquiry.
async fn failed_enquiry(app: &TestApp, sandbox: &TestSandbox, n: usize) -> String {
    let id = posted_id(app, n).await;
    sandbox.set_faults(Faults::once(400));
    app.drain_all().await;
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    id
}

/// A complete form posted the moment its page was issued: held as too fast.
pub async fn held_enquiry(app: &TestApp, n: usize) -> String {
    let issued = unix_now();
    let token = TimeTokens::new(&SecretString::from(TIME_KEY), Duration::ZERO, Duration::MAX)
        .issue(SITE, issued);
    let email = format!("held{n}@example.com");
    let response = app
        .http
        .post(format!("{}/forms/{SITE}", app.address))
        .header("accept", "application/json")
        .form(&[
            ("first_name", "Ann"),
            ("last_name", "Held"),
            ("email", email.as_str()),
            ("care_requirements", "A room from March"),
            ("_t", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Held);
    id
}

async fn every_staff_route_needs_a_session(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    for page in [
        "/staff".to_owned(),
        "/staff/enquiries".to_owned(),
        format!("/staff/enquiries/{id}"),
        "/staff/export.csv".to_owned(),
    ] {
        let response = app
            .http
            .get(format!("{}{page}", app.address))
            .header("cookie", "staff_session=made-up")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{page}");
        assert_eq!(response.headers()["location"], "/staff/login", "{page}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{page}");
    }
    for post in [
        "/staff/logout".to_owned(),
        "/staff/enquiries/retry".to_owned(),
        format!("/staff/enquiries/{id}/retry"),
        format!("/staff/enquiries/{id}/release"),
        format!("/staff/enquiries/{id}/delete"),
    ] {
        let response = app
            .http
            .post(format!("{}{post}", app.address))
            .form(&[("csrf", "x"), ("reason", "spam")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{post}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{post}");
        assert!(response.text().await.unwrap().contains("/staff/login"));
    }
    assert!(
        app.store
            .audit_of(&id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}
on_both_databases!(every_staff_route_needs_a_session);

async fn a_session_is_stored_hashed_and_a_signed_out_cookie_no_longer_works(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };

    let response = post_login(&app, TOKEN).await;
    let (cookie, header) = set_cookie(&response, "staff_session").expect("session cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/staff",
        "Max-Age=43200",
    ] {
        assert!(header.contains(attribute), "{header}");
    }
    assert!(
        !header.contains("Secure"),
        "plain http on loopback: {header}"
    );
    let token = cookie.trim_start_matches("staff_session=").to_owned();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let stored: Vec<(String,)> = sqlx::query_as("SELECT token_sha256 FROM staff_sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, [(hex::encode(Sha256::digest(token.as_bytes())),)]);
    pool.close().await;

    let staff = Staff {
        address: app.address.clone(),
        http: http_client(),
        cookie,
    };
    let overview = staff.get("/staff").await;
    assert_eq!(overview.headers()["cache-control"], "no-store");
    let overview = overview.text().await.unwrap();
    assert!(overview.contains("Sign out"), "{overview}");

    let out = staff.act("/staff", "/staff/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/staff/login?signed_out=1");
    let (_, cleared) = set_cookie(&out, "staff_session").expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The browser may keep the cookie; the server no longer accepts it.
    let again = staff.get("/staff").await;
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"], "/staff/login");
    app.stop().await;
}
on_both_databases!(a_session_is_stored_hashed_and_a_signed_out_cookie_no_longer_works);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_wrong_tokens_are_refused_then_throttled_and_a_login_post_needs_its_code() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(staff_options(AppOptions::default()))
        .spawn_sqlite()
        .await;

    // Without the sign-in form's code (from another website): refused.
    let forged = app
        .http
        .post(format!("{}/staff/login", app.address))
        .form(&[("token", TOKEN), ("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged, "staff_session").is_none());

    for n in 0..10 {
        let wrong = post_login(&app, &format!("{TOKEN}{n}")).await;
        assert_eq!(wrong.status(), 401, "guess {n}");
        let html = wrong.text().await.unwrap();
        assert!(html.contains("That is not the staff token"), "{html}");
    }
    let shut_out = post_login(&app, TOKEN).await;
    assert_eq!(
        shut_out.status(),
        429,
        "the right token too, while shut out"
    );
    assert!(shut_out.headers().contains_key("retry-after"));
    assert!(set_cookie(&shut_out, "staff_session").is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_console_is_closed_without_a_staff_token() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(AppOptions::default().quiet())
        .spawn_sqlite()
        .await;
    for path in ["/staff/login", "/staff"] {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("staff console is closed"), "{html}");
        assert!(html.contains("staff.token"), "{html}");
    }
    app.stop().await;
}

async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let id = failed_enquiry(&app, &sandbox, 1).await;
    let staff = Staff::sign_in(&app).await;

    let path = format!("/staff/enquiries/{id}/retry");
    for pairs in [vec![], vec![("csrf", "not-this-sessions")]] {
        let refused = staff.post(&path, &pairs).await;
        assert_eq!(refused.status(), 403);
        let html = refused.text().await.unwrap();
        assert!(html.contains("reload the page and try again"), "{html}");
    }
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    assert!(
        app.store
            .audit_of(&id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}
on_both_databases!(a_post_without_the_csrf_token_is_refused_and_changes_nothing);

async fn a_failed_enquiry_shows_carehqs_reason_is_sent_again_and_audited(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let id = failed_enquiry(&app, &sandbox, 1).await;
    let staff = Staff::sign_in(&app).await;
    let page = format!("/staff/enquiries/{id}");

    let html = staff.page(&page).await;
    assert!(html.contains("<dd>Failed</dd>"), "{html}");
    assert!(
        html.contains("O&#39;Brien 1") || html.contains("O&#x27;Brien 1"),
        "what the family wrote: {html}"
    );
    assert!(
        html.contains("HTTP 400: CareHQ refused the enquiry"),
        "{html}"
    );
    assert!(html.contains("CareHQ said:"), "the hint: {html}");
    assert!(html.contains("No staff action yet"), "{html}");

    let done = staff.act(&page, &format!("{page}/retry"), &[]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], format!("{page}?done=retried"));
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Pending);
    app.drain_all().await;
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Synced);
    let arrived = sandbox.received();
    assert_eq!(arrived.len(), 1);
    assert_eq!(field(&arrived[0], "email"), Some("family1@example.com"));

    let audit = app.store.audit_of(&id.parse().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "retry");
    assert_eq!(audit[0].actor, "staff token");
    assert_eq!(audit[0].detail.as_deref(), Some("steps: enquiry"));
    let html = staff.page(&page).await;
    assert!(html.contains("<dd>Sent</dd>"), "{html}");
    assert!(html.contains("<td>retry</td>"), "audit trail shown: {html}");
    app.stop().await;
}
on_both_databases!(a_failed_enquiry_shows_carehqs_reason_is_sent_again_and_audited);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_detail_names_the_fields_carehq_refused_in_words() {
    // A location CareHQ does not know: a 400 with arg_errors naming it.
    let options = AppOptions {
        site_location: "6724fbc74f73a2cebf637700".into(),
        ..AppOptions::default()
    };
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(staff_options(options))
        .spawn_sqlite()
        .await;
    let id = posted_id(&app, 1).await;
    app.drain_all().await;
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    let staff = Staff::sign_in(&app).await;
    let html = staff.page(&format!("/staff/enquiries/{id}")).await;
    assert!(html.contains("CareHQ refused these details"), "{html}");
    assert!(
        html.contains("The home&#39;s CareHQ location")
            || html.contains("The home&#x27;s CareHQ location"),
        "{html}"
    );
    assert!(html.contains("No location with this Id"), "{html}");
    app.stop().await;
}

async fn a_held_enquiry_is_released_and_arrives(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let id = held_enquiry(&app, 1).await;
    let staff = Staff::sign_in(&app).await;
    let page = format!("/staff/enquiries/{id}");
    let html = staff.page(&page).await;
    assert!(html.contains("Release and send"), "{html}");

    let done = staff.act(&page, &format!("{page}/release"), &[]).await;
    assert_eq!(done.headers()["location"], format!("{page}?done=released"));
    app.drain_all().await;
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Synced);
    assert_eq!(
        field(&sandbox.received()[0], "email"),
        Some("held1@example.com")
    );
    let audit = app.store.audit_of(&id.parse().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "release");
    app.stop().await;
}
on_both_databases!(a_held_enquiry_is_released_and_arrives);

/// The URL's Id is read as an enquiry Id once, where the route takes it:
/// text that is no Id (or an Id spelt otherwise, in capitals) is answered
/// as a missing enquiry, as when the text was looked up as given, and an
/// action on it changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_is_no_enquiry_id_is_answered_as_a_missing_enquiry() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(staff_options(AppOptions::default()))
        .spawn_sqlite()
        .await;
    let id = held_enquiry(&app, 1).await;
    let staff = Staff::sign_in(&app).await;
    let page = format!("/staff/enquiries/{id}");
    let unknown = uuid::Uuid::now_v7().to_string();
    for other in ["not-an-id".to_owned(), id.to_uppercase(), unknown] {
        let shown = staff.get(&format!("/staff/enquiries/{other}")).await;
        assert_eq!(shown.status(), 404, "{other}");
        let words = shown.text().await.unwrap();
        assert!(
            words.contains("There is no enquiry with this Id"),
            "{other}: {words}"
        );
        for action in ["release", "retry", "edit"] {
            let path = format!("/staff/enquiries/{other}/{action}");
            let done = staff.act(&page, &path, &[]).await;
            assert_eq!(done.status(), 404, "{path}");
            let words = done.text().await.unwrap();
            assert!(
                words.contains("There is no enquiry with this Id"),
                "{path}: {words}"
            );
        }
    }
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Held);
    assert!(
        app.store
            .audit_of(&id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

async fn a_delete_needs_a_reason_and_keeps_only_the_record(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let id = held_enquiry(&app, 1).await;
    let staff = Staff::sign_in(&app).await;
    let page = format!("/staff/enquiries/{id}");

    let refused = staff
        .act(&page, &format!("{page}/delete"), &[("reason", "  ")])
        .await;
    assert_eq!(refused.status(), 400);
    assert!(
        app.store
            .enquiry(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );

    let done = staff
        .act(&page, &format!("{page}/delete"), &[("reason", "spam")])
        .await;
    assert_eq!(done.headers()["location"], format!("{page}?done=deleted"));
    assert!(
        app.store
            .enquiry(&id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_none()
    );
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Expired);
    app.drain_all().await;
    assert!(
        sandbox.received().is_empty(),
        "a deleted enquiry is never sent"
    );
    let audit = app.store.audit_of(&id.parse().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].reason.as_deref()),
        ("delete", Some("spam"))
    );
    let config = crate::admin::default_config(&db, &sandbox.url);
    let (code, shown, _) = crate::admin::cli(&config, &["enquiries", "show", &id]).await;
    assert_eq!(code, 0);
    assert!(shown.contains("audit (staff console)"), "{shown}");
    assert!(
        shown.contains("delete  by staff token  reason: spam"),
        "{shown}"
    );
    let html = staff.page(&page).await;
    assert!(html.contains("<td>spam</td>"), "{html}");
    assert!(!html.contains("Ann"), "no personal data left: {html}");
    app.stop().await;
}
on_both_databases!(a_delete_needs_a_reason_and_keeps_only_the_record);

async fn the_list_filters_and_searches_and_the_csv_matches_the_filter(db: Db) {
    list_filters_and_searches(db, false).await;
}
on_both_databases!(the_list_filters_and_searches_and_the_csv_matches_the_filter);

/// The same list, search and CSV on a database whose personal data is
/// encrypted at rest: the search reads the opened enquiries.
async fn the_list_searches_an_encrypted_database(db: Db) {
    list_filters_and_searches(db, true).await;
}
on_both_databases!(the_list_searches_an_encrypted_database);

/// `AppOptions` with a fresh key file in `db`'s directory when `encrypted`.
fn maybe_encrypted(db: &TestDb, encrypted: bool) -> AppOptions {
    let options = AppOptions::default();
    if !encrypted {
        return options;
    }
    let keys = db.dir.path().join("keys");
    let line = enquiry_relay::storage::new_key_line("k1").unwrap();
    std::fs::write(&keys, line).unwrap();
    options.with(move |s| s.database.encryption_key_file = Some(keys.clone()))
}

async fn list_filters_and_searches(db: Db, encrypted: bool) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let app = spawn_with(&db, &sandbox, maybe_encrypted(&db, encrypted)).await;
    let failed = failed_enquiry(&app, &sandbox, 1).await;
    let sent = posted_id(&app, 2).await;
    app.drain_all().await;
    let waiting = posted_id(&app, 3).await;
    let held = held_enquiry(&app, 4).await;
    // Search terms are written after the acknowledgement: finish what the
    // service's indexer may still be doing.
    app.store.fill_search_terms(500).await.unwrap();
    let staff = Staff::sign_in(&app).await;

    let all = staff.page("/staff/enquiries").await;
    for id in [&failed, &sent, &waiting, &held] {
        assert!(all.contains(id.as_str()), "{id} listed: {all}");
    }
    assert!(all.contains("Waiting (next attempt"), "{all}");
    // Searches match whole words, whole addresses and whole numbers (in
    // any spacing or case), never parts of them.
    for (query, expected) in [
        ("state=failed", vec![&failed]),
        // The contract's name for the same filter (docs/design.md, "Staff console").
        ("status=failed", vec![&failed]),
        ("status=held", vec![&held]),
        ("state=sent", vec![&sent]),
        ("state=held", vec![&held]),
        ("state=waiting", vec![&waiting]),
        ("q=FAMILY2%40Example.com", vec![&sent]),
        ("q=family2%40example", vec![]),
        ("q=o%27brien+3", vec![&waiting]),
        ("q=O%27BRIEN", vec![&failed, &sent, &waiting]),
        ("q=brien", vec![]),
        ("q=zo%C3%AB+o%27brien+1", vec![&failed]),
        ("q=01632960123", vec![&failed, &sent, &waiting]),
        ("q=%28016%29+32-960+123", vec![&failed, &sent, &waiting]),
        ("q=960123", vec![]),
        ("q=ann+held", vec![&held]),
    ] {
        let html = staff.page(&format!("/staff/enquiries?{query}")).await;
        for id in [&failed, &sent, &waiting, &held] {
            assert_eq!(
                html.contains(id.as_str()),
                expected.contains(&id),
                "{query}: {id}"
            );
        }
    }
    let tomorrow = time::OffsetDateTime::now_utc().date().next_day().unwrap();
    let none = staff
        .page(&format!("/staff/enquiries?from={tomorrow}"))
        .await;
    assert!(none.contains("No enquiries match"), "{none}");
    let bad = staff.get("/staff/enquiries?from=yesterday").await;
    assert_eq!(bad.status(), 400);

    let csv = staff.get("/staff/export.csv?state=failed").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "header and the failed one: {text}");
    assert!(lines[0].starts_with("id,home,received_utc,state"));
    assert!(lines[1].starts_with(&format!("{failed},{SITE},")), "{text}");
    assert!(lines[1].contains(",Failed,"), "{text}");
    assert!(lines[1].contains("family1@example.com"), "{text}");
    // The CSV takes the contract's name for the filter too.
    let by_status = staff.get("/staff/export.csv?status=failed").await;
    assert_eq!(by_status.text().await.unwrap(), text);
    let everything = staff.get("/staff/export.csv").await.text().await.unwrap();
    assert_eq!(everything.lines().count(), 5, "{everything}");
    app.stop().await;
}

async fn retry_all_sends_again_every_failed_enquiry_the_filter_shows(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let first = posted_id(&app, 1).await;
    let second = posted_id(&app, 2).await;
    sandbox.set_faults(Faults {
        status: Some(400),
        status_times: Some(2),
        ..Faults::default()
    });
    app.drain_all().await;
    let other_home = failed_enquiry(&app, &sandbox, 3).await;
    // Only this home's: the filter names the site (the others are elsewhere).
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE enquiries SET site = 'elsewhere' WHERE id = $1")
        .bind(&other_home)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let staff = Staff::sign_in(&app).await;

    let done = staff
        .act(
            "/staff/enquiries",
            "/staff/enquiries/retry",
            &[("state", "failed"), ("site", SITE)],
        )
        .await;
    assert_eq!(done.status(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/staff/enquiries?state=failed&site={SITE}&retried=2")
    );
    assert!(
        staff
            .page(&location)
            .await
            .contains("2 failed enquiries are being sent again")
    );
    app.drain_all().await;
    for id in [&first, &second] {
        assert_eq!(app.delivery(id).await.status, DeliveryStatus::Synced);
        assert_eq!(
            app.store.audit_of(&id.parse().unwrap()).await.unwrap()[0].action,
            "retry"
        );
    }
    assert_eq!(
        app.delivery(&other_home).await.status,
        DeliveryStatus::Failed
    );
    assert!(
        app.store
            .audit_of(&other_home.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}
on_both_databases!(retry_all_sends_again_every_failed_enquiry_the_filter_shows);

async fn the_overview_counts_per_home_charts_30_days_and_names_the_problems(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    failed_enquiry(&app, &sandbox, 1).await;
    held_enquiry(&app, 2).await;
    posted_id(&app, 3).await;
    let staff = Staff::sign_in(&app).await;
    let html = staff.page("/staff").await;
    assert!(html.contains("<caption>Upton Court</caption>"), "{html}");
    // Today: 3 received, 0 sent, 1 waiting, 1 failed, 1 held.
    assert!(
        html.contains(
            "<th scope=\"row\">Today</th><td>3</td><td>0</td><td>1</td><td>1</td><td>1</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<svg role=\"img\" aria-labelledby=\"chart-summary\""),
        "{html}"
    );
    assert_eq!(html.matches("<rect ").count(), 30, "a bar per day");
    assert!(html.contains("3 enquiries in the last 30 days"), "{html}");
    assert!(html.contains("could not be delivered"), "{html}");
    assert!(
        html.contains("1 enquiry is held for a person to check"),
        "{html}"
    );
    app.stop().await;
}
on_both_databases!(the_overview_counts_per_home_charts_30_days_and_names_the_problems);

async fn a_refused_field_is_corrected_and_arrives_corrected_with_the_original_kept(db: Db) {
    refused_field_corrected(db, false).await;
}
on_both_databases!(a_refused_field_is_corrected_and_arrives_corrected_with_the_original_kept);

/// The same edit with personal data encrypted at rest: the page shows what
/// was sealed, and the edit's "still what the page showed" check compares
/// the opened text (sealed values differ at every write).
async fn a_refused_field_is_corrected_on_an_encrypted_database(db: Db) {
    refused_field_corrected(db, true).await;
}
on_both_databases!(a_refused_field_is_corrected_on_an_encrypted_database);

async fn refused_field_corrected(db: Db, encrypted: bool) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let app = spawn_with(&db, &sandbox, maybe_encrypted(&db, encrypted)).await;
    // CareHQ refuses an address our own checks let through.
    sandbox.set_faults(Faults {
        refuse_value: Some(RefusedValue {
            field: "email".into(),
            value: "family1@example.com".into(),
        }),
        ..Faults::default()
    });
    let id = posted_id(&app, 1).await;
    app.drain_all().await;
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    let staff = Staff::sign_in(&app).await;
    let page = format!("/staff/enquiries/{id}");
    let html = staff.page(&page).await;
    assert!(html.contains("Correct what CareHQ refused"), "{html}");
    assert!(html.contains("name=\"field_email\""), "{html}");
    assert!(
        !html.contains("name=\"field_first_name\""),
        "only the refused field: {html}"
    );
    assert!(
        html.contains("Why CareHQ refused it: CareHQ does not accept this value"),
        "{html}"
    );

    let other = staff
        .act(
            &page,
            &format!("{page}/edit"),
            &[("field_first_name", "Someone")],
        )
        .await;
    assert_eq!(other.status(), 400, "a field CareHQ did not name");
    let invalid = staff
        .act(
            &page,
            &format!("{page}/edit"),
            &[("field_email", "no at sign")],
        )
        .await;
    assert_eq!(invalid.status(), 400, "checked as the form checks it");
    assert_eq!(
        app.delivery(&id).await.status,
        DeliveryStatus::Failed,
        "nothing changed"
    );

    let done = staff
        .act(
            &page,
            &format!("{page}/edit"),
            &[("field_email", "family1@example.org")],
        )
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], format!("{page}?done=edited"));
    app.drain_all().await;
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Synced);
    let arrived = sandbox.received();
    assert_eq!(arrived.len(), 1);
    assert_eq!(field(&arrived[0], "email"), Some("family1@example.org"));
    assert_eq!(field(&arrived[0], "first_name"), Some("Zoë"));

    let original = app
        .store
        .original_payload(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(original.contains("family1@example.com"), "original kept");
    let audit = app.store.audit_of(&id.parse().unwrap()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "edit");
    let detail = audit[0].detail.as_deref().unwrap();
    assert_eq!(detail, "fields corrected: email; steps sent again: enquiry");
    let html = staff.page(&page).await;
    assert!(html.contains("What the family first wrote"), "{html}");
    assert!(html.contains("family1@example.com"), "{html}");
    assert!(
        !html.contains("Correct what CareHQ refused"),
        "sent: {html}"
    );
    if encrypted {
        assert_eq!(
            crate::data_protection::columns_holding(&db.url, "family1@example").await,
            Vec::<String>::new(),
            "neither address is stored readable"
        );
    }
    app.stop().await;
}
