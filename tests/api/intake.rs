//! `POST /forms/{site}`: encodings, exact mapping onto CareHQ's fields, answers.

use serde_json::json;

use enquiry_relay::storage::DeliveryStatus;

use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb, family, field};
use crate::on_both_databases;

async fn urlencoded_post_is_stored_redirected_and_delivered_with_exact_fields(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db).spawn().await else {
        return;
    };

    let response = app
        .post_form(
            SITE,
            &[
                ("name", "  Mary   Ann Smith "),
                ("email", "Mary@Example.COM"),
                ("phone", "01632  960123"),
                (
                    "message",
                    "Dad needs nursing care.\r\nHe uses a wheelchair.",
                ),
                ("funding_type", "local-authority"),
                ("enquiring_for_self", "no"),
                ("preferred_contact_time", "Mornings"),
                ("_k", "form-view-1"),
            ],
        )
        .await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/forms/{SITE}/thanks")
    );
    let received = sandbox.wait_for(1).await;
    let got = &received[0];
    assert_eq!(field(got, "location"), Some("6724fbc74f73a2cebf6377fa"));
    assert_eq!(field(got, "referrer"), Some("640f0f17f9b7e9ec6079fa16"));
    assert_eq!(
        field(got, "sales_channel"),
        Some("6724fbc74f73a2cebf6377ea")
    );
    assert_eq!(field(got, "untrusted_source"), Some("true"));
    assert_eq!(field(got, "first_name"), Some("Mary"));
    assert_eq!(field(got, "last_name"), Some("Ann Smith"));
    assert_eq!(field(got, "email"), Some("Mary@example.com"));
    assert_eq!(
        field(got, "phone"),
        Some("01632 960123"),
        "landlines are kept, as typed"
    );
    assert_eq!(
        field(got, "care_requirements"),
        Some("Dad needs nursing care.\nHe uses a wheelchair.\n\nPreferred contact time: Mornings")
    );
    assert_eq!(field(got, "funding_type"), Some("local_authority"));
    assert_eq!(
        field(got, "service"),
        Some("residential_home"),
        "the site's default fills the gap"
    );
    assert_eq!(field(got, "enquiring_for_self"), Some("false"));
    assert!(field(got, "_k").is_none() && field(got, "preferred_contact_time").is_none());
    app.stop().await;
}
on_both_databases!(urlencoded_post_is_stored_redirected_and_delivered_with_exact_fields);

async fn json_post_answers_201_and_the_carehq_id_is_stored(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db).spawn().await else {
        return;
    };

    let response = app
        .post_json(
            SITE,
            &json!({
                "first_name": "Zoë", "last_name": "O'Brien", "email": "zoe@example.com",
                "service": "nursing_home", "funding_type": "chc", "enquiring_for_self": true,
                "care_requirements": "Respite care from 1 March\nGround-floor room — garden view",
            }),
        )
        .await;

    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "received");
    let id = body["id"].as_str().expect("an id").to_owned();
    let received = sandbox.wait_for(1).await;
    let got = &received[0];
    assert_eq!(field(got, "first_name"), Some("Zoë"));
    assert_eq!(field(got, "last_name"), Some("O'Brien"));
    assert_eq!(field(got, "service"), Some("nursing_home"));
    assert_eq!(field(got, "funding_type"), Some("chc"));
    assert_eq!(field(got, "enquiring_for_self"), Some("true"));
    assert_eq!(
        field(got, "care_requirements"),
        Some("Respite care from 1 March\nGround-floor room — garden view")
    );
    assert!(field(got, "phone").is_none());
    let delivery = app.wait_for_status(&id, DeliveryStatus::Synced).await;
    assert_eq!(
        delivery.remote_id.as_deref(),
        Some(got.id.as_str()),
        "CareHQ's _id is kept"
    );
    assert_eq!(delivery.attempts, 1);
    app.stop().await;
}
on_both_databases!(json_post_answers_201_and_the_carehq_id_is_stored);

async fn invalid_fields_answer_422_naming_each_field_and_store_nothing(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db).spawn().await else {
        return;
    };

    let response = app
        .post_json(
            SITE,
            &json!({"first_name": "Ann", "email": "not-an-email", "funding_type": "lottery"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "validation");
    for name in ["last_name", "email", "funding_type"] {
        assert!(
            body["fields"][name][0]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "no message for {name}: {body}"
        );
    }

    // A browser gets the form again, with the messages and what it typed.
    let page = app
        .post_form(
            SITE,
            &[
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("email", "ann@@example"),
            ],
        )
        .await;
    assert_eq!(page.status(), 422);
    let html = page.text().await.unwrap();
    assert!(html.contains("There is a problem"), "{html}");
    assert!(
        html.contains(r#"value="Ann""#) && html.contains(r#"value="ann@@example""#),
        "typed values kept"
    );
    assert!(html.contains(r#"aria-describedby="email-hint email-error""#));

    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
        .fetch_one(&test_pool(&db).await)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert!(sandbox.received().is_empty());
    app.stop().await;
}
on_both_databases!(invalid_fields_answer_422_naming_each_field_and_store_nothing);

async fn the_same_idempotency_key_creates_one_enquiry_and_returns_the_first_answer(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };
    let post = || async {
        app.http
            .post(format!("{}/forms/{SITE}", app.address))
            .header("Idempotency-Key", "double-click-42")
            .json(&family(1))
            .send()
            .await
            .unwrap()
    };

    let (first, second) = tokio::join!(post(), post());
    let third = post().await;

    let mut ids = Vec::new();
    for response in [first, second, third] {
        assert_eq!(response.status(), 201);
        ids.push(
            response.json::<serde_json::Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(app.drain_to_rest().await.synced, 1);
    assert_eq!(sandbox.received().len(), 1);
    // A different key is a different enquiry.
    let other = app
        .http
        .post(format!("{}/forms/{SITE}", app.address))
        .header("Idempotency-Key", "another")
        .json(&family(1))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    assert_eq!(app.drain_to_rest().await.synced, 1);
    assert_eq!(sandbox.received().len(), 2);
    app.stop().await;
}
on_both_databases!(the_same_idempotency_key_creates_one_enquiry_and_returns_the_first_answer);

/// A second site, to show idempotency keys are kept per site.
const OTHER_SITE: &str = "lark-rise";

async fn a_repeated_k_field_answers_the_same_per_site_and_for_24_hours(db: Db) {
    let options = AppOptions::default().config(format!(
        "[[sites]]\nslug = \"{OTHER_SITE}\"\nname = \"Lark Rise House\"\nlocation = \"6724fbc74f73a2cebf6377fb\"\n"
    ));
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    let pool = test_pool(&db).await;
    let enquiries = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    };
    // A browser form: the key travels as the hidden `_k` field.
    let post = |site: &'static str| {
        let app = &app;
        async move {
            let response = app
                .post_form(
                    site,
                    &[
                        ("_k", "page-view-7"),
                        ("name", "Sam Taylor"),
                        ("email", "sam@example.com"),
                        ("phone", "01632 960123"),
                    ],
                )
                .await;
            assert_eq!(response.status(), 303, "{site}");
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (location, replayed)
        }
    };

    let (first, replayed) = post(SITE).await;
    assert!(!replayed);
    let (second, replayed) = post(SITE).await;
    assert!(replayed, "the double click is answered as before");
    assert_eq!(second, first, "same answer both times");
    assert_eq!(enquiries().await, 1, "one enquiry");

    // The same key on another site is another family's form.
    let (_, replayed) = post(OTHER_SITE).await;
    assert!(!replayed, "keys are scoped per site");
    assert_eq!(enquiries().await, 2);

    // A day later the key is forgotten: the same key makes a new enquiry.
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - 25 * 3600 * 1000")
        .execute(&pool)
        .await
        .unwrap();
    let (_, replayed) = post(SITE).await;
    assert!(!replayed, "a key older than 24 h is not replayed");
    assert_eq!(enquiries().await, 3);
    sandbox.wait_for(3).await;
    pool.close().await;
    app.stop().await;
}
on_both_databases!(a_repeated_k_field_answers_the_same_per_site_and_for_24_hours);

async fn a_chunked_body_over_the_limit_answers_413(db: Db) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let Some((db, _sandbox, app)) = TestApp::builder(db).spawn().await else {
        return;
    };
    // No Content-Length: the limit can only be found while reading.
    let body = json!({"first_name": "A", "last_name": "B", "phone": "01632 960123",
                      "care_requirements": "x".repeat(66 * 1024)})
    .to_string();
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let mut request = format!(
        "POST /forms/{SITE} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(8 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);

    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
        .fetch_one(&test_pool(&db).await)
        .await
        .unwrap();
    assert_eq!(count, 0);
    app.stop().await;
}
on_both_databases!(a_chunked_body_over_the_limit_answers_413);

#[tokio::test]
async fn multipart_posts_are_accepted_and_errors_answer_in_words() {
    let (_db, sandbox, app) = TestApp::builder(Db::Sqlite).spawn_sqlite().await;
    let url = format!("{}/forms/{SITE}", app.address);

    // A multipart post is a browser form post: it carries the time token.
    let token = app.time_token(SITE).await;
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"_t\"\r\n\r\n{token}\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"first_name\"\r\n\r\nPriya\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"last_name\"\r\n\r\nShah\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n+44 (0)20 7946 0000\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"\"\r\n\r\n\r\n--XyZ--\r\n"
    );
    let response = app
        .http
        .post(&url)
        .header("accept", "application/json")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let got = sandbox.wait_for(1).await;
    assert_eq!(field(&got[0], "phone"), Some("+44 (0)20 7946 0000"));

    let unknown = app
        .http
        .post(format!("{}/forms/no-such-home", app.address))
        .json(&family(1))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("Check the link"));

    let too_big = app.http.post(&url).json(&json!({"first_name": "A", "last_name": "B", "phone": "01632 960123", "care_requirements": "x".repeat(70_000)})).send().await.unwrap();
    assert_eq!(too_big.status(), 413);

    let malformed = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let nested = app.post_json(SITE, &json!({"first_name": {"a": 1}})).await;
    assert_eq!(nested.status(), 400);

    let text = app
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);

    let html_404 = app
        .http
        .post(format!("{}/forms/nope", app.address))
        .form(&[("a", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(html_404.status(), 404);
    assert!(
        html_404
            .text()
            .await
            .unwrap()
            .contains("<h1>Form not found</h1>")
    );
    app.stop().await;
}

/// A separate pool onto the test database, for assertions.
async fn test_pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap()
}
