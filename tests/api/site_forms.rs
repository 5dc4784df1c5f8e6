//! A site's own form through `[sites.fields]` (issue 36): a Contact Form
//! 7-style browser form posts its own field names, the enquiry reaches
//! CareHQ as if the hosted form had sent it, and a missing mapped field is
//! named by the site's own name in the 422.

use serde_json::json;

use crate::helpers::{AppOptions, Db, SITE, TestApp, field};
use crate::on_both_databases;

/// Contact Form 7's default form, mapped.
const CF7_FIELDS: &str = r#"
[sites.fields]
"your-name" = "name"
"your-email" = "email"
"your-message" = "care_requirements"
"#;

fn cf7_site() -> AppOptions {
    AppOptions {
        site_toml: CF7_FIELDS.into(),
        ..AppOptions::default()
    }
}

async fn a_contact_form_7_post_is_delivered_through_the_field_map(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(cf7_site()).spawn().await else {
        return;
    };
    let response = app
        .post_form(
            SITE,
            &[
                ("_wpcf7", "5"),
                ("_wpcf7_version", "5.9.8"),
                ("_wpcf7_unit_tag", "wpcf7-f5-p2-o1"),
                ("your-name", "Mary Ann Smith"),
                ("your-email", "mary@example.com"),
                ("your-subject", "A room for Dad"),
                ("your-message", "Is there a ground-floor room?"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "{:?}", response.text().await);

    let received = sandbox.wait_for(1).await;
    let got = &received[0];
    assert_eq!(field(got, "first_name"), Some("Mary"));
    assert_eq!(field(got, "last_name"), Some("Ann Smith"));
    assert_eq!(field(got, "email"), Some("mary@example.com"));
    // The unmapped subject is a labelled line; CF7's hidden fields are not.
    assert_eq!(
        field(got, "care_requirements"),
        Some("Is there a ground-floor room?\n\nYour subject: A room for Dad")
    );
}
on_both_databases!(a_contact_form_7_post_is_delivered_through_the_field_map);

async fn a_missing_mapped_field_is_named_by_the_sites_own_name(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db).options(cf7_site()).spawn().await else {
        return;
    };
    // JSON: the bad fields are keyed by the site's names.
    let response = app
        .post_json(
            SITE,
            &json!({"your-name": "Mary Smith", "your-message": "Hello"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    let fields = body["fields"].as_object().unwrap();
    assert!(fields.contains_key("your-email"), "{body}");
    assert!(!fields.contains_key("email"), "{body}");

    // A browser post: the form again, each message naming the site's field.
    let response = app
        .post_form(
            SITE,
            &[("your-email", "not an address"), ("your-message", "Hello")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("the field “your-email” on your form"),
        "{page}"
    );
    assert!(
        page.contains("the field “your-name” on your form"),
        "{page}"
    );
    // Nothing was stored.
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
        .fetch_one(&sqlx::AnyPool::connect(&_db.url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored, 0);
}
on_both_databases!(a_missing_mapped_field_is_named_by_the_sites_own_name);
