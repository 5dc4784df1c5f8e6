//! Health, readiness and the OpenAPI document.

use crate::helpers::{Db, TestApp};

#[tokio::test]
async fn health_readiness_and_openapi_answer() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite).spawn_sqlite().await;

    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
        let r = app
            .http
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap();
        (r.status() == 200).then_some(r)
    })
    .await
    .expect("ready once the worker runs");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["worker"], "ok");

    let spec: serde_json::Value = app
        .http
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/forms/{site}"]["post"]["responses"]["422"].is_object());

    // The request id a caller sends comes back.
    let tagged = app
        .http
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.headers()["x-request-id"], "abc-123");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    let Some((db, _sandbox, app)) = TestApp::builder(Db::Postgres).spawn().await else {
        return;
    };
    let ready = |want: u16| {
        let app = &app;
        async move {
            crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
                let r = app
                    .http
                    .get(format!("{}/readyz", app.address))
                    .send()
                    .await
                    .ok()?;
                (r.status() == want).then_some(())
            })
            .await
        }
    };
    assert!(ready(200).await.is_some());

    // Take the database away under the running service.
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();

    assert!(
        ready(503).await.is_some(),
        "readiness must report the database"
    );
    let stored = app
        .post_json(crate::helpers::SITE, &crate::helpers::family(1))
        .await;
    assert_eq!(
        stored.status(),
        503,
        "an enquiry that cannot be stored is not acknowledged"
    );
    assert_eq!(stored.headers()["retry-after"], "30");
    app.stop().await;
}
