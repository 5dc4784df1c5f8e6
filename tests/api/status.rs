//! `GET /status`: the staff token guard, the figures, and 503 under each
//! degraded condition.

use std::time::Duration;

use serde_json::Value;

use enquiry_relay::storage::DeliveryStatus;

use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb};
use crate::on_both_databases;

pub const TOKEN: &str = "staff-token-for-tests-0123456789";

pub fn with_token(options: AppOptions, extra: &str) -> AppOptions {
    options.config(format!("[staff]\ntoken = \"{TOKEN}\"\n{extra}"))
}

pub use crate::helpers::posted_id;

pub async fn status(app: &TestApp) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{}/status", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let code = response.status().as_u16();
    (code, response.json().await.unwrap())
}

#[tokio::test]
async fn status_refuses_a_missing_or_wrong_token_and_says_how_to_open_it() {
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(with_token(AppOptions::default(), ""))
        .spawn_sqlite()
        .await;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some(&format!("Bearer {TOKEN}x")[..]),
    ] {
        let mut request = app.http.get(format!("{}/status", app.address));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    app.stop().await;

    // No token configured: closed, and the answer names the key to set.
    let app = TestApp::spawn(&db, &sandbox.url, &AppOptions::default()).await;
    let response = app
        .http
        .get(format!("{}/status", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("staff.token"),
        "{body}"
    );
    app.stop().await;
}

async fn status_shows_the_queue_and_per_site_figures(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(with_token(AppOptions::default(), "").quiet())
        .spawn()
        .await
    else {
        return;
    };
    for n in 0..3 {
        let id = posted_id(&app, n).await;
        app.drained_to(&id, DeliveryStatus::Synced).await;
    }
    let (code, body) = status(&app).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["queue"]["synced"], 3);
    assert_eq!(body["queue"]["synced_last_24h"], 3);
    assert_eq!(body["queue"]["pending"], 0);
    assert_eq!(body["queue"]["oldest_pending_age_seconds"], Value::Null);
    assert_eq!(body["sites"][SITE]["synced"], 3);
    assert_eq!(body["paused"]["paused"], false);
    assert!(body["carehq"]["last_success_at"].is_string(), "{body}");
    assert!(body["rate_limit"]["remaining"].is_number(), "{body}");
    assert!(
        !body.to_string().contains("example.com"),
        "no personal data: {body}"
    );
    app.stop().await;
}
on_both_databases!(status_shows_the_queue_and_per_site_figures);

async fn status_is_503_while_an_enquiry_is_failed(db: Db) {
    // A location CareHQ does not know: refused with a hint, marked failed.
    let options = AppOptions {
        site_location: "6724fbc74f73a2cebf637700".into(),
        ..AppOptions::default()
    };
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(with_token(options, "").quiet())
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    app.drained_to(&id, DeliveryStatus::Failed).await;
    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["queue"]["failed"], 1);
    assert!(
        body["problems"][0].as_str().unwrap().contains("failed"),
        "{body}"
    );
    assert!(body["carehq"]["last_hint"].is_string(), "{body}");
    app.stop().await;

    // status.failed_is_degraded = false: the same queue is healthy.
    let lenient = with_token(
        AppOptions {
            site_location: "6724fbc74f73a2cebf637700".into(),
            ..AppOptions::default()
        },
        "[status]\nfailed_is_degraded = false\n",
    );
    let app = TestApp::spawn(&db, &sandbox.url, &lenient).await;
    let (code, body) = status(&app).await;
    assert_eq!(code, 200, "{body}");
    app.stop().await;
}
on_both_databases!(status_is_503_while_an_enquiry_is_failed);

async fn status_is_503_while_delivery_is_paused(db: Db) {
    let wrong = AppOptions {
        api_secret: "not-the-secret".into(),
        ..AppOptions::default()
    };
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(with_token(wrong, "").quiet())
        .spawn()
        .await
    else {
        return;
    };
    posted_id(&app, 1).await;
    app.drain().await;
    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "/status turns 503 when delivery pauses: {body}");
    assert_eq!(body["paused"]["paused"], true);
    assert_eq!(body["paused"]["http_status"], 401);
    assert!(body["paused"]["reason"].is_string());
    app.stop().await;
}
on_both_databases!(status_is_503_while_delivery_is_paused);

async fn status_is_503_when_the_oldest_pending_is_too_old(db: Db) {
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    };
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .faults(enquiry_relay::sandbox::Faults {
            status: Some(503),
            ..Default::default()
        })
        .options(with_token(options, "").quiet())
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    // Wait for the first attempt: the row is pending again, due in an hour.
    assert_eq!(app.drain_to_rest().await.retrying, 1);
    let d = app.delivery(&id).await;
    assert_eq!(
        (d.status.as_str(), d.attempts),
        ("pending", 1),
        "first attempt made"
    );
    let (code, body) = status(&app).await;
    assert_eq!(code, 200, "young pending is healthy: {body}");
    assert_eq!(body["queue"]["pending"], 1);

    // Age it past the 30-minute default, as if it had waited since then.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "UPDATE deliveries SET created_at = created_at - 3600000, \
         pending_since = pending_since - 3600000",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["queue"]["oldest_pending_age_seconds"]
            .as_i64()
            .unwrap()
            >= 3600
    );
    assert!(
        body["problems"][0].as_str().unwrap().contains("waited"),
        "{body}"
    );
    app.stop().await;
}
on_both_databases!(status_is_503_when_the_oldest_pending_is_too_old);

async fn status_shows_held_carehqs_last_error_and_the_rate_limit(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(with_token(AppOptions::default(), "").quiet())
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(enquiry_relay::sandbox::Faults::once(400));
    let refused = posted_id(&app, 1).await;
    app.drained_to(&refused, DeliveryStatus::Failed).await;
    let delivered = posted_id(&app, 2).await;
    app.drained_to(&delivered, DeliveryStatus::Synced).await;
    crate::admin::insert(&app, 3, true, "clean").await;

    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "one failed: {body}");
    assert_eq!(body["queue"]["held"], 1, "{body}");
    assert_eq!(body["sites"][SITE]["held"], 1, "{body}");
    assert_eq!(body["queue"]["failed"], 1, "{body}");
    assert_eq!(body["queue"]["synced"], 1, "{body}");
    let carehq = &body["carehq"];
    // CareHQ's status, not its hint (a hint can quote the family: issue 18);
    // last_hint says where staff read it.
    let error = carehq["last_error"].as_str().expect("last_error");
    assert!(
        error.contains("400") && !error.contains("Sandbox fault"),
        "CareHQ's status without its hint: {body}"
    );
    assert!(carehq["last_error_at"].is_string(), "{body}");
    assert!(
        carehq["last_hint"].as_str().is_some_and(|h| {
            h.contains(&format!("enquiries show {refused}")) && !h.contains("Clear it with")
        }),
        "{body}"
    );
    // The sandbox allows 10 requests a second and says so in its headers.
    let rate = &body["rate_limit"];
    assert_eq!(rate["limit"], 10, "{body}");
    let remaining = rate["remaining"].as_i64().expect("remaining");
    assert!((0..10).contains(&remaining), "{body}");
    assert!(
        rate["reset_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.contains('T')),
        "{body}"
    );
    app.stop().await;
}
on_both_databases!(status_shows_held_carehqs_last_error_and_the_rate_limit);

/// Guessing the staff token is made useless: after ten wrong tokens from one
/// address, every attempt from it (a right token too) is refused with 429 for
/// ten minutes, on `/status` and `/metrics` alike; other addresses carry on.
async fn wrong_staff_tokens_are_throttled_per_client_address(db: Db) {
    let options = with_token(AppOptions::default(), "").loopback_proxy();
    let Some((_db, _sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    let get = |path: &str, client: &str, token: String| {
        app.http
            .get(format!("{}{path}", app.address))
            .header("x-forwarded-for", client.to_owned())
            .bearer_auth(token)
            .send()
    };
    let guesser = "198.51.100.20";
    let mut statuses = Vec::new();
    for n in 0..20 {
        let response = get("/status", guesser, format!("guess-{n:030}"))
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429; 10]);

    for path in ["/status", "/metrics"] {
        let refused = get(path, guesser, TOKEN.to_owned()).await.unwrap();
        assert_eq!(refused.status(), 429, "{path}: the right token waits too");
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0 && wait <= 600, "retry after {wait}s");
        let body: Value = refused.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("wrong staff token") && message.contains("minutes"),
            "{message}"
        );
    }
    // Another address is not held up by the guesser.
    let ok = get("/status", "198.51.100.21", TOKEN.to_owned())
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    app.stop().await;
}
on_both_databases!(wrong_staff_tokens_are_throttled_per_client_address);

async fn held_enquiries_are_a_problem_in_status(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(with_token(AppOptions::default(), ""))
        .spawn()
        .await
    else {
        return;
    };
    crate::admin::insert(&app, 1, true, "clean").await;
    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "{body}");
    let problems = body["problems"].to_string();
    assert!(
        problems.contains("1 enquiry is held for a person to check")
            && problems.contains("enquiries release"),
        "{problems}"
    );
    app.stop().await;
}
on_both_databases!(held_enquiries_are_a_problem_in_status);

/// Move every stored time `ms` into the past, as if all this happened then.
async fn age_everything(db: &TestDb, ms: i64) {
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for sql in [
        "UPDATE deliveries SET created_at = created_at - $1, updated_at = updated_at - $1",
        "UPDATE enquiries SET received_at = received_at - $1",
    ] {
        sqlx::query(sql).bind(ms).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

async fn a_staff_retry_or_release_of_an_old_row_does_not_fire_the_pending_age_alarm(db: Db) {
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    };
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(with_token(options, "").quiet())
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(enquiry_relay::sandbox::Faults::once(400));
    let refused = posted_id(&app, 1).await;
    app.drained_to(&refused, DeliveryStatus::Failed).await;
    let held = crate::admin::insert(&app, 2, true, "clean").await;
    // Both arrived two hours ago.
    age_everything(&db, 2 * 60 * 60 * 1000).await;

    // CareHQ is down (and slow) now: what staff send again waits, pending.
    sandbox.set_faults(enquiry_relay::sandbox::Faults {
        status: Some(503),
        latency_ms: 50,
        ..Default::default()
    });
    assert_eq!(
        app.store
            .retry_failed(&refused.parse().unwrap())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.store
            .release_held(&held.parse().unwrap())
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.drain_to_rest().await.retrying, 2);
    for id in [&refused, &held] {
        let d = app.delivery(id).await;
        assert_eq!(
            (d.status.as_str(), d.attempts),
            ("pending", 1),
            "sent once more, then pending for an hour"
        );
    }

    let (code, body) = status(&app).await;
    assert_eq!(body["queue"]["pending"], 2, "{body}");
    let age = body["queue"]["oldest_pending_age_seconds"]
        .as_i64()
        .unwrap();
    assert!(
        age < 600,
        "counted from the retry and the release, not from arrival 2 h ago: {body}"
    );
    assert_eq!(code, 200, "{body}");
    let now = enquiry_relay::storage::now_ms();
    let cutoff = now - 30 * 60 * 1000;
    assert!(
        !app.store
            .open_incident(enquiry_relay::storage::Incident::PendingAge { cutoff }, now)
            .await
            .unwrap(),
        "no pending_age alert"
    );

    // A retryable failure does not restart the clock: the row never stopped
    // waiting. (The 50 ms latency puts the outcome's time after the start.)
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for id in [&refused, &held] {
        let delivery = app.delivery(id).await;
        let attempts = app.store.attempts_of(&delivery.id).await.unwrap();
        let started = attempts.last().unwrap().started_at;
        let (since,): (i64,) = sqlx::query_as("SELECT pending_since FROM deliveries WHERE id = $1")
            .bind(&delivery.id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(
            since <= started,
            "pending since the retry ({since}), not since the 503 after {started}"
        );
    }
    pool.close().await;
    app.stop().await;
}
on_both_databases!(a_staff_retry_or_release_of_an_old_row_does_not_fire_the_pending_age_alarm);
