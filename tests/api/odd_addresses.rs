//! Addresses a browser or CMS can produce that axum's own extractors refused
//! with a plain-text 400, an answer the OpenAPI document does not have (found
//! probing the routes while writing `.ci/fuzz`): a repeated `embed` and a
//! site segment that is not UTF-8. Each now gets the route's own answer, in
//! the route's format, as the OpenAPI document says.

use crate::helpers::{Db, SITE, TestApp};

#[tokio::test]
async fn odd_addresses_get_the_routes_own_answers() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite).spawn_sqlite().await;
    let get = |path: String| {
        let request = app.http.get(format!("{}{path}", app.address));
        async move { request.send().await.unwrap() }
    };
    let content_type = |r: &reqwest::Response| {
        r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned()
    };

    // A link that got `embed` twice still shows the (embedded) page.
    for path in [
        format!("/forms/{SITE}?embed=1&embed=1"),
        format!("/forms/{SITE}/thanks?embed=0&embed=1"),
    ] {
        let page = get(path.clone()).await;
        assert_eq!(page.status(), 200, "{path}");
        assert!(content_type(&page).starts_with("text/html"), "{path}");
    }
    let first_wins = get(format!("/forms/{SITE}/thanks?embed=1&embed=0"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        first_wins.contains("data-embed=\"1\""),
        "the first embed=1 counts"
    );

    // A site segment that is not UTF-8 names no site: each route's 404.
    let page = get("/forms/%FF".into()).await;
    assert_eq!(page.status(), 404);
    assert!(content_type(&page).starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("Form not found"));
    for path in ["/forms/%FF/token", "/forms/de%FFmo/visit-slots"] {
        let answer = get(path.into()).await;
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(content_type(&answer), "application/json", "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
    }
    let post = app
        .http
        .post(format!("{}/forms/%FF", app.address))
        .json(&serde_json::json!({"name": "Ann Lee", "email": "ann@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404);
    let body: serde_json::Value = post.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    app.stop().await;
}
