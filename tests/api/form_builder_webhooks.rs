//! Form-builder webhooks (issue 36): each preset's documented payload shape
//! becomes the enquiry CareHQ receives; a wrong token and an unknown hook
//! get the same 401; a repeat is stored once (by entry id, or by the body);
//! a missing mapped field is named by the site's own name; a token in the
//! path appears in no log line.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, eventually, field, http_client,
};
use crate::logs::start_logged_binary;
use crate::on_both_databases;

const TOKEN: &str = "5f1c0d6e8a9b4c2d7e3f1a0b9c8d7e6f5a4b3c2d1e0f9a8b";

/// One hook per builder on the test site.
fn hooks() -> AppOptions {
    let hook = |name: &str, preset: &str, extra: &str| {
        format!(
            "\n[[webhooks]]\nname = \"{name}\"\ntoken = \"{TOKEN}\"\npreset = \"{preset}\"\n{extra}\n"
        )
    };
    let site_toml = [
        hook(
            "gravity",
            "gravity_forms",
            "[webhooks.fields]\n\"1.3\" = \"first_name\"\n\"1.6\" = \"last_name\"\n\"2\" = \"email\"\n\"3\" = \"phone\"\n\"4\" = \"care_requirements\"",
        ),
        hook("elementor", "elementor", ""),
        hook("cf7", "contact_form_7", ""),
        hook("fluent", "fluent_forms", ""),
        hook("wpforms", "wpforms", "entry_id = \"entry_id\""),
        hook("ninja", "ninja_forms", ""),
    ]
    .concat();
    // Keys of the test site's own table (`[[sites.webhooks]]` in a file).
    AppOptions::default().site(site_toml)
}

/// Gravity Forms' Webhooks Add-On, "all fields": the entry object.
fn gravity_entry(id: &str) -> Value {
    json!({
        "id": id, "form_id": "1", "post_id": null,
        "date_created": "2026-12-07 10:15:00", "date_updated": "2026-12-07 10:15:00",
        "is_starred": 0, "is_read": 0, "ip": "203.0.113.7",
        "source_url": "https://example-care.co.uk/contact/",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "currency": "GBP", "payment_status": null, "payment_date": null,
        "payment_amount": null, "payment_method": "", "transaction_id": null,
        "is_fulfilled": null, "created_by": null, "transaction_type": null, "status": "active",
        "1.3": "Mary", "1.6": "Smith", "2": "mary@example.com", "3": "01632 960001",
        "4": "Is there a room for my father from March?", "5": "Nursing",
    })
}

async fn post_hook(app: &TestApp, hook: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/webhooks/{SITE}/{hook}", app.address))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn stored_enquiries(db: &TestDb) -> i64 {
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
        .fetch_one(&pool)
        .await
        .unwrap();
    n
}

async fn a_gravity_forms_entry_is_stored_once_and_delivered(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db).options(hooks()).spawn().await else {
        return;
    };
    let first = post_hook(&app, "gravity", &gravity_entry("41")).await;
    assert_eq!(first.status(), 200, "not 201: Elementor takes only 200");
    let id = first.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The builder sends the same entry again (a retry): the same answer.
    let again = post_hook(&app, "gravity", &gravity_entry("41")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], id.as_str());
    assert_eq!(stored_enquiries(&db).await, 1);

    let received = sandbox.wait_for(1).await;
    let got = &received[0];
    assert_eq!(field(got, "first_name"), Some("Mary"));
    assert_eq!(field(got, "last_name"), Some("Smith"));
    assert_eq!(field(got, "email"), Some("mary@example.com"));
    assert_eq!(field(got, "phone"), Some("01632 960001"));
    // The unmapped answer is a line; the entry's metadata, the visitor's
    // address and browser are not copied.
    assert_eq!(
        field(got, "care_requirements"),
        Some("Is there a room for my father from March?\n\n5: Nursing")
    );
    // Another entry is another enquiry.
    assert_eq!(
        post_hook(&app, "gravity", &gravity_entry("42"))
            .await
            .status(),
        200
    );
    assert_eq!(stored_enquiries(&db).await, 2);
}
on_both_databases!(a_gravity_forms_entry_is_stored_once_and_delivered);

async fn each_presets_documented_payload_becomes_an_enquiry(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(hooks()).spawn().await else {
        return;
    };
    // Elementor Pro's webhook, advanced data, url-encoded, token in the path.
    let advanced = "form%5Bid%5D=3f2a1b0&form%5Bname%5D=Enquiry\
        &fields%5Bname%5D%5Bid%5D=name&fields%5Bname%5D%5Btype%5D=text&fields%5Bname%5D%5Btitle%5D=Name\
        &fields%5Bname%5D%5Bvalue%5D=Ann+Jones&fields%5Bname%5D%5Braw_value%5D=Ann+Jones&fields%5Bname%5D%5Brequired%5D=1\
        &fields%5Bemail%5D%5Bid%5D=email&fields%5Bemail%5D%5Btype%5D=email&fields%5Bemail%5D%5Btitle%5D=Email\
        &fields%5Bemail%5D%5Bvalue%5D=ann%40example.com&fields%5Bemail%5D%5Braw_value%5D=ann%40example.com\
        &fields%5Bmessage%5D%5Bid%5D=message&fields%5Bmessage%5D%5Btype%5D=textarea&fields%5Bmessage%5D%5Btitle%5D=Message\
        &fields%5Bmessage%5D%5Bvalue%5D=Respite+care+please&fields%5Bmessage%5D%5Braw_value%5D=Respite+care+please\
        &fields%5Bcall%5D%5Bid%5D=call&fields%5Bcall%5D%5Btype%5D=text&fields%5Bcall%5D%5Btitle%5D=Best+time+to+call\
        &fields%5Bcall%5D%5Bvalue%5D=Mornings&fields%5Bcall%5D%5Braw_value%5D=Mornings\
        &meta%5Bdate%5D%5Btitle%5D=Date&meta%5Bdate%5D%5Bvalue%5D=December+7%2C+2026\
        &meta%5Bremote_ip%5D%5Btitle%5D=Remote+IP&meta%5Bremote_ip%5D%5Bvalue%5D=203.0.113.7\
        &meta%5Buser_agent%5D%5Btitle%5D=User+Agent&meta%5Buser_agent%5D%5Bvalue%5D=Mozilla%2F5.0";
    // Elementor's simple data: labels as keys, then its metadata lines.
    let simple = "Name=Bob+Brown&Email=bob%40example.com&Message=Nursing+care\
        &Date=December+7%2C+2026&Time=10%3A15+am&Page+URL=https%3A%2F%2Fexample-care.co.uk%2F\
        &User+Agent=Mozilla%2F5.0&Remote+IP=203.0.113.7&Powered+by=Elementor";
    for body in [advanced, simple] {
        let response = app
            .http
            .post(format!("{}/webhooks/{SITE}/elementor/{TOKEN}", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
    // Contact Form 7 through a CF7-to-webhook plugin: its hidden fields too.
    let cf7 = json!({
        "_wpcf7": "5", "_wpcf7_version": "5.9.8", "_wpcf7_locale": "en_GB",
        "_wpcf7_unit_tag": "wpcf7-f5-p2-o1", "_wpcf7_container_post": "2",
        "your-name": "Cat Davies", "your-email": "cat@example.com",
        "your-subject": "Day care", "your-message": "Two days a week",
    });
    // Fluent Forms, all fields, with its submission record.
    let fluent = json!({
        "names": {"first_name": "Dan", "last_name": "Evans"},
        "email": "dan@example.com", "message": "Dementia care",
        "__submission": {"id": 17, "form_id": 3, "serial_number": 9,
            "source_url": "https://example-care.co.uk/", "ip": "203.0.113.7",
            "browser": "Chrome", "device": "Desktop", "created_at": "2026-12-07 10:15:00"},
    });
    // WPForms and Ninja Forms: the keys chosen in the webhook's settings.
    let wpforms = json!({"name": "Eve Foster", "email": "eve@example.com", "message": "A visit", "entry_id": "88"});
    let ninja = json!({"name": "Fay Green", "phone": "01632 960002", "message": "Call me"});
    for (hook, body) in [
        ("cf7", cf7),
        ("fluent", fluent),
        ("wpforms", wpforms),
        ("ninja", ninja),
    ] {
        let response = post_hook(&app, hook, &body).await;
        assert_eq!(
            response.status(),
            200,
            "{hook}: {:?}",
            response.text().await
        );
    }

    let received = sandbox.wait_for(6).await;
    let by_name = |first: &str| {
        (received.iter())
            .find(|r| field(r, "first_name") == Some(first))
            .unwrap_or_else(|| panic!("{first} not received"))
    };
    let ann = by_name("Ann");
    assert_eq!(field(ann, "last_name"), Some("Jones"));
    assert_eq!(field(ann, "email"), Some("ann@example.com"));
    assert_eq!(
        field(ann, "care_requirements"),
        Some("Respite care please\n\nBest time to call: Mornings")
    );
    assert_eq!(
        field(by_name("Bob"), "care_requirements"),
        Some("Nursing care")
    );
    assert_eq!(
        field(by_name("Cat"), "care_requirements"),
        Some("Two days a week\n\nYour subject: Day care")
    );
    let dan = by_name("Dan");
    assert_eq!(field(dan, "last_name"), Some("Evans"));
    assert_eq!(field(dan, "care_requirements"), Some("Dementia care"));
    assert_eq!(field(by_name("Eve"), "care_requirements"), Some("A visit"));
    assert_eq!(field(by_name("Fay"), "phone"), Some("01632 960002"));
    for got in &received {
        let text = field(got, "care_requirements").unwrap_or_default();
        for copied in [
            "203.0.113.7",
            "Mozilla",
            "Chrome",
            "Elementor",
            "wpcf7",
            "December",
        ] {
            assert!(!text.contains(copied), "{copied:?} copied into {text:?}");
        }
    }
}
on_both_databases!(each_presets_documented_payload_becomes_an_enquiry);

async fn a_wrong_token_and_an_unknown_hook_get_the_same_401(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db).options(hooks()).spawn().await else {
        return;
    };
    let wrong = app
        .http
        .post(format!("{}/webhooks/{SITE}/gravity", app.address))
        .bearer_auth("0000000000000000000000000000000000000000")
        .json(&gravity_entry("1"))
        .send()
        .await
        .unwrap();
    let unknown_hook = post_hook(&app, "typeform", &gravity_entry("1")).await;
    let unknown_site = app
        .http
        .post(format!("{}/webhooks/nowhere/gravity/{TOKEN}", app.address))
        .json(&gravity_entry("1"))
        .send()
        .await
        .unwrap();
    let in_path_wrong = app
        .http
        .post(format!(
            "{}/webhooks/{SITE}/elementor/not-the-token",
            app.address
        ))
        .form(&[("Name", "Ann Jones"), ("Email", "ann@example.com")])
        .send()
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for response in [wrong, unknown_hook, unknown_site, in_path_wrong] {
        assert_eq!(response.status(), 401);
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
    assert!(!bodies[0].contains("not-the-token"));

    // Ten refusals shut the address out: the right token too gets 429 until
    // the window passes; a post with no token at all guessed nothing and
    // still gets 401.
    for _ in 0..6 {
        assert_eq!(
            post_hook(&app, "typeform", &gravity_entry("1"))
                .await
                .status(),
            401
        );
    }
    let shut = post_hook(&app, "gravity", &gravity_entry("1")).await;
    assert_eq!(shut.status(), 429);
    assert!(shut.headers().contains_key("retry-after"));
    let bare = app
        .http
        .post(format!("{}/webhooks/{SITE}/gravity", app.address))
        .json(&gravity_entry("1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(stored_enquiries(&db).await, 0);
}
on_both_databases!(a_wrong_token_and_an_unknown_hook_get_the_same_401);

async fn a_repeat_without_an_entry_id_is_stored_once_and_a_missing_field_named(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db).options(hooks()).spawn().await else {
        return;
    };
    let entry = json!({"your-name": "Cat Davies", "your-email": "cat@example.com", "your-message": "Hello"});
    let first = post_hook(&app, "cf7", &entry).await;
    assert_eq!(first.status(), 200);
    let id = first.json::<Value>().await.unwrap()["id"].clone();
    let again = post_hook(&app, "cf7", &entry).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], id);
    assert_eq!(stored_enquiries(&db).await, 1);

    // Gravity Forms' email (field 2) and phone (3) left out: named by the
    // form's own ids.
    let mut entry = gravity_entry("43");
    let fields = entry.as_object_mut().unwrap();
    fields.remove("2");
    fields.remove("3");
    let refused = post_hook(&app, "gravity", &entry).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert!(body["fields"]["2"].is_array(), "{body}");
    assert!(body["fields"]["3"].is_array(), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("check 2, 3"),
        "{body}"
    );
    assert_eq!(stored_enquiries(&db).await, 1);

    // A body that is not JSON, and one of another type.
    let garbled = app
        .http
        .post(format!("{}/webhooks/{SITE}/cf7", app.address))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), 400);
    let plain = app
        .http
        .post(format!("{}/webhooks/{SITE}/cf7", app.address))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body("your-name=Cat")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
}
on_both_databases!(a_repeat_without_an_entry_id_is_stored_once_and_a_missing_field_named);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_path_appears_in_no_log_line() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let app = start_logged_binary(&db, &sandbox, &hooks(), false).await;
    let client = http_client();
    let response = client
        .post(format!("{}/webhooks/{SITE}/elementor/{TOKEN}", app.address))
        .form(&[
            ("Name", "Ann Jones"),
            ("Email", "ann@example.com"),
            ("Message", "Hello"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A wrong one too (refusals are logged at debug only, but must not
    // leak the segment either way).
    let wrong = client
        .post(format!(
            "{}/webhooks/{SITE}/elementor/wrong-token-in-path",
            app.address
        ))
        .form(&[("Name", "Ann Jones")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    sandbox.wait_for(1).await;
    let text = eventually(Duration::from_secs(10), || async {
        let text = app.log_text();
        text.contains("enquiry delivered to CareHQ").then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("delivery never logged:\n{}", app.log_text()));
    app.signal("TERM");
    let _ = app.wait_exit(Duration::from_secs(20)).await;
    assert!(
        text.contains(&format!("/webhooks/{SITE}/elementor/<token>")),
        "the request's line is there, its path redacted:\n{text}"
    );
    for secret in [TOKEN, "wrong-token-in-path"] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}
