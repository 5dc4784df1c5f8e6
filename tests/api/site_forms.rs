//! A site's own form through `[sites.fields]` (issue 36): a Contact Form
//! 7-style browser form posts its own field names, the enquiry reaches
//! CareHQ as if the hosted form had sent it, and a missing mapped field is
//! named by the site's own name in the 422; and staff see which way each
//! enquiry came in.

use serde_json::json;

use crate::admin::{cli, default_config};
use crate::helpers::{AppOptions, Db, SITE, TestApp, field, insert_bare_enquiry};
use crate::on_both_databases;
use crate::staff::{Staff, staff_options};

/// Contact Form 7's default form, mapped.
/// The test site's `[sites.fields]`.
const CF7_FIELDS: &str = r#"
[fields]
"your-name" = "name"
"your-email" = "email"
"your-message" = "care_requirements"
"#;

fn cf7_site() -> AppOptions {
    AppOptions::default().site(CF7_FIELDS)
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

async fn which_way_each_enquiry_came_in_is_shown_to_staff(db: Db) {
    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    let hook = format!(
        "\n[[webhooks]]\nname = \"cf7\"\ntoken = \"{TOKEN}\"\npreset = \"contact_form_7\"\n"
    );
    let options = staff_options(AppOptions::default().site(format!("{CF7_FIELDS}{hook}")));
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    // The hosted form carries its mark.
    let form = app
        .http
        .get(format!("{}/forms/{SITE}", app.address))
        .send()
        .await
        .unwrap();
    assert!(
        form.text()
            .await
            .unwrap()
            .contains(r#"name="_via" value="hosted""#)
    );
    let posted = |body: serde_json::Value| {
        let app = &app;
        async move {
            let response = app.post_json(SITE, &body).await;
            assert_eq!(response.status(), 201);
            response.json::<serde_json::Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let hosted =
        posted(json!({"_via": "hosted", "name": "Ann Jones", "email": "ann@example.com"})).await;
    let own = posted(json!({"your-name": "Bob Brown", "your-email": "bob@example.com"})).await;
    let hooked = app
        .http
        .post(format!("{}/webhooks/{SITE}/cf7", app.address))
        .bearer_auth(TOKEN)
        .json(&json!({"your-name": "Cat Davies", "your-email": "cat@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(hooked.status(), 200);
    let hooked = hooked.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // One stored before the way in was recorded.
    let before = insert_bare_enquiry(&app.store).await;

    let staff = Staff::sign_in(&app).await;
    let config = default_config(&db, &sandbox.url);
    for (id, words) in [
        (&hosted, "hosted form"),
        (&own, "site form"),
        (&hooked, "webhook cf7"),
        (&before, "not recorded"),
    ] {
        let page = staff.page(&format!("/staff/enquiries/{id}")).await;
        assert!(
            page.contains(&format!("<dt>Came in</dt><dd>{words}</dd>")),
            "{words}: {page}"
        );
        let (code, out, err) = cli(&config, &["enquiries", "show", id]).await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("came in   {words}\n")),
            "{words}: {out}"
        );
    }
}
on_both_databases!(which_way_each_enquiry_came_in_is_shown_to_staff);
