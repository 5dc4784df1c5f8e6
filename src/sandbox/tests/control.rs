//! The `/_sandbox` routes, the HTML page, and mounting under a prefix.

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::sandbox::Faults;

#[tokio::test]
async fn faults_are_set_and_read_as_json() {
    let running = start().await;
    let response = running
        .client
        .put(format!("{}/_sandbox/faults", running.base))
        .json(&json!({"status": 500, "status_times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        running.sandbox.faults(),
        Faults {
            status: Some(500),
            status_times: Some(1),
            ..Faults::default()
        }
    );
    let shown = running.get_json("/_sandbox/faults").await;
    assert_eq!(shown["status"], 500);
    assert_eq!(running.call(Method::GET, "groups", &[]).await.0, 500);
    assert_eq!(
        running.get_json("/_sandbox/faults").await["status"],
        json!(null)
    );
}

#[tokio::test]
async fn bad_faults_are_refused_with_a_hint() {
    let running = start().await;
    for body in [json!({"status": 200}), json!({"stauts": 500}), json!([1])] {
        let response = running
            .client
            .put(format!("{}/_sandbox/faults", running.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert!(answer["hint"].is_string());
    }
    assert_eq!(running.sandbox.faults(), Faults::default());
}

#[tokio::test]
async fn reset_forgets_everything() {
    let running = start().await;
    running.create_enquiry().await;
    running.sandbox.set_faults(Faults {
        latency_ms: 1,
        ..Faults::default()
    });
    let response = running
        .client
        .post(format!("{}/_sandbox/reset", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(running.sandbox.received_enquiries().is_empty());
    assert_eq!(running.sandbox.faults(), Faults::default());
    assert_eq!(running.sandbox.request_count(), 0);
    assert_eq!(running.get_json("/_sandbox/enquiries").await, json!([]));
}

#[tokio::test]
async fn the_page_lists_enquiries_newest_first_and_escapes_them() {
    let running = start().await;
    running.create_enquiry().await;
    let mut params = valid_enquiry();
    params.retain(|(k, _)| *k != "first_name");
    params.push(("first_name", "<script>alert(1)</script>"));
    let (status, newest) = running.call(Method::PUT, "care-enquiries", &params).await;
    assert_eq!(status, 200);

    let page = running
        .client
        .get(format!("{}/", running.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("local CareHQ sandbox"));
    assert!(page.contains("Nothing leaves this machine"));
    assert!(!page.contains("<script>"), "values are escaped");
    assert!(page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"));
    let newest_at = page.find(newest["_id"].as_str().unwrap()).unwrap();
    let older = &running.sandbox.received_enquiries()[0].id;
    assert!(
        newest_at < page.find(older.as_str()).unwrap(),
        "newest first"
    );
    assert!(page.contains(r#"href="_sandbox/enquiries""#));
}

#[tokio::test]
async fn nested_under_a_prefix_everything_still_works() {
    let running = start_nested().await;
    // The signed path stays /v1/... even though the URL is /sandbox/v1/...
    let id = running.create_enquiry().await;
    let listed = running.get_json("/_sandbox/enquiries").await;
    assert_eq!(listed[0]["id"], id.as_str());
    let page = running
        .client
        .get(&running.base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&id));
    // Served at /sandbox (no slash), links must resolve to /sandbox/_sandbox/...
    assert!(
        page.contains(r#"href="sandbox/_sandbox/enquiries""#),
        "{page}"
    );
}
