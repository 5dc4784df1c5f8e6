//! Intake integrity (issue 10): an idempotency key reused for a different
//! enquiry is refused with 409 rather than answered as a replay, a 422 page
//! keeps everything the family typed, and a request that times out while its
//! enquiry is being committed is not told "not sent".

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, eventually, family, field, post_keyed,
};
use crate::metrics::parse;
use crate::on_both_databases;
use enquiry_relay::values::Rate;

async fn enquiry_count(db: &TestDb) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// The name/value pairs a browser would post from the first form in `html`:
/// inputs (checkboxes only when checked), textareas and selected options.
fn form_pairs(html: &str) -> Vec<(String, String)> {
    fn attr(tag: &str, name: &str) -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[at..].find('"')? + at;
        Some(unescape(&tag[at..end]))
    }
    fn unescape(s: &str) -> String {
        s.replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#x27;", "'")
            .replace("&#60;", "<")
            .replace("&lt;", "<")
            .replace("&#62;", ">")
            .replace("&gt;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&")
    }
    let start = html.find("<form").expect("a form");
    let end = html[start..].find("</form>").expect("form end") + start;
    let form = &html[start..end];
    let mut pairs = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        let tag_end = rest.find('>').expect("tag end");
        let tag = &rest[..=tag_end];
        if tag.starts_with("<input ") {
            let checkbox = attr(tag, "type").as_deref() == Some("checkbox");
            if let Some(name) = attr(tag, "name")
                && (!checkbox || tag.contains(" checked"))
            {
                pairs.push((name, attr(tag, "value").unwrap_or_default()));
            }
        } else if tag.starts_with("<textarea ") {
            let close = rest.find("</textarea>").expect("textarea end");
            if let Some(name) = attr(tag, "name") {
                pairs.push((name, unescape(&rest[tag_end + 1..close])));
            }
        } else if tag.starts_with("<select ") {
            let close = rest.find("</select>").expect("select end");
            let options = &rest[..close];
            let chosen = options
                .split("<option ")
                .skip(1)
                .find(|o| o.contains(" selected"))
                .and_then(|o| attr(&format!(" {o}"), "value"))
                .unwrap_or_default();
            if let Some(name) = attr(tag, "name") {
                pairs.push((name, chosen));
            }
        }
        rest = &rest[1..];
    }
    pairs
}

async fn a_422_page_keeps_the_message_and_extra_fields_and_a_resend_does_not_double_them(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db).spawn().await else {
        return;
    };

    // A site's own HTML form: one `name` box, `message`, and a field CareHQ
    // has no place for; the email is mistyped.
    let page = app
        .post_form(
            SITE,
            &[
                ("_k", "own-form-7"),
                ("name", "Ann Lee"),
                ("email", "ann@@example"),
                ("message", "Mum needs a ground-floor room."),
                ("preferred_contact_time", "Weekday mornings"),
            ],
        )
        .await;
    assert_eq!(page.status(), 422);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Mum needs a ground-floor room."),
        "the message is kept: {html}"
    );
    assert!(
        html.contains("Weekday mornings"),
        "the extra field is kept: {html}"
    );

    // The family corrects the email and sends the page back as it stands.
    let mut pairs = form_pairs(&html);
    for (name, value) in &mut pairs {
        if name == "email" {
            *value = "ann@example.com".into();
        }
    }
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let sent = app.post_form(SITE, &pairs).await;
    assert_eq!(sent.status(), 303, "{:?}", sent.text().await);
    let received = sandbox.wait_for(1).await;
    assert_eq!(field(&received[0], "first_name"), Some("Ann"));
    assert_eq!(field(&received[0], "last_name"), Some("Lee"));
    assert_eq!(
        field(&received[0], "care_requirements"),
        Some("Mum needs a ground-floor room.\n\nPreferred contact time: Weekday mornings"),
        "every answer once, none doubled"
    );
    assert_eq!(enquiry_count(&db).await, 1);
    app.stop().await;
}
on_both_databases!(a_422_page_keeps_the_message_and_extra_fields_and_a_resend_does_not_double_them);

/// The 409's words, as docs/design.md ("HTTP") gives them.
const CONFLICT_WORDS: &str =
    "already sent with different details; reload the page and send it again";

async fn same_key_with_a_different_enquiry_is_409_and_only_the_first_is_stored(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db).spawn().await else {
        return;
    };

    // JSON: the same Idempotency-Key, another family.
    let first = post_keyed(&app, SITE, &family(1), "fixed-key").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let other = post_keyed(&app, SITE, &family(2), "fixed-key").await;
    assert_eq!(other.status(), 409, "a different enquiry is never a replay");
    assert!(!other.headers().contains_key("idempotent-replayed"));
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"], "conflict", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains(CONFLICT_WORDS)),
        "{body}"
    );
    // The same enquiry again is still the double click it always was.
    let again = post_keyed(&app, SITE, &family(1), "fixed-key").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // HTML: a site's own form with a fixed `_k`, sent by two families.
    let form = |first_name: &'static str| {
        [
            ("_k", "site-html-fixed"),
            ("first_name", first_name),
            ("last_name", "Taylor"),
            ("email", "sam@example.com"),
        ]
    };
    let stored = app.post_form(SITE, &form("Sam")).await;
    assert_eq!(stored.status(), 303);
    let refused = app.post_form(SITE, &form("Alex")).await;
    assert_eq!(refused.status(), 409);
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = refused.text().await.unwrap();
    assert!(page.contains(CONFLICT_WORDS), "{page}");
    assert!(page.contains("<html"), "a page, not bare text: {page}");
    let repeat = app.post_form(SITE, &form("Sam")).await;
    assert_eq!(repeat.status(), 303);
    assert_eq!(repeat.headers()["idempotent-replayed"], "true");

    assert_eq!(enquiry_count(&db).await, 2, "only each key's first enquiry");
    let received = sandbox.wait_for(2).await;
    let mut names: Vec<&str> = received
        .iter()
        .filter_map(|r| field(r, "first_name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Sam", "Zoë"]);
    app.stop().await;
}
on_both_databases!(same_key_with_a_different_enquiry_is_409_and_only_the_first_is_stored);

/// A 409 spends none of the site's limit: with room for two enquiries, a
/// refused reuse of a key leaves room for the second family.
#[tokio::test]
async fn a_409_spends_no_site_token() {
    let options = AppOptions::default().rate_limits(Rate::every(100, 3600), Rate::every(2, 3600));
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    assert_eq!(post_keyed(&app, SITE, &family(1), "k1").await.status(), 201);
    for _ in 0..3 {
        assert_eq!(post_keyed(&app, SITE, &family(2), "k1").await.status(), 409);
    }
    assert_eq!(post_keyed(&app, SITE, &family(3), "k2").await.status(), 201);
    // Now the limit is spent; a reuse of a stored key is still told 409, not
    // replayed, and a repeat of the same enquiry is still answered as before.
    assert_eq!(post_keyed(&app, SITE, &family(4), "k1").await.status(), 409);
    let repeat = post_keyed(&app, SITE, &family(3), "k2").await;
    assert_eq!(repeat.status(), 201);
    assert_eq!(repeat.headers()["idempotent-replayed"], "true");
    assert_eq!(enquiry_count(&db).await, 2);
    app.stop().await;
}

/// `enquiry_relay_request_timeouts_total{stage="storing"}` now.
async fn timeouts_while_storing(app: &TestApp) -> f64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    parse(&text)
        .iter()
        .filter(|(name, labels, _)| {
            name == "enquiry_relay_request_timeouts_total"
                && labels.iter().any(|(k, v)| k == "stage" && v == "storing")
        })
        .map(|(_, _, v)| *v)
        .sum()
}

/// A complete post whose commit waits past `server.request_timeout` (another
/// connection holds SQLite's write lock) is answered with the commit's
/// outcome, never "not sent", and is stored once.
#[tokio::test]
async fn a_timeout_while_the_enquiry_is_committing_does_not_say_not_sent() {
    let options = AppOptions::default().with(|s| {
        s.server.request_timeout = Duration::from_secs(2);
        // The test reads a counter; the token rule has tests of its own.
        s.metrics.require_token = false;
    });
    let (db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .without_carehq()
        .options(options)
        .spawn_sqlite()
        .await;
    let before = timeouts_while_storing(&app).await;

    let lock = crate::helpers::write_lock(&db).await;
    let http = app.http.clone();
    let url = format!("{}/forms/{SITE}", app.address);
    let post = tokio::spawn(async move {
        let response = http.post(url).json(&family(1)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    });
    // Release the lock once the request timeout has passed while the post
    // waits for its commit (the counter says so), or once the post has been
    // answered anyway (what the old code did, with "not sent"). The bound
    // only stops a broken run from hanging; it decides nothing.
    eventually(Duration::from_secs(8), || async {
        (post.is_finished() || timeouts_while_storing(&app).await > before).then_some(())
    })
    .await;
    crate::helpers::release(lock).await;
    let (status, body) = post.await.unwrap();

    assert!(!body.contains("not been sent"), "{status}: {body}");
    assert_eq!(status, 201, "{body}");
    assert_eq!(enquiry_count(&db).await, 1);
    app.stop().await;
}
