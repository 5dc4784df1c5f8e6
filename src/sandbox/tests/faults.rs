//! Rate limiting and injected faults, over HTTP.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::*;
use crate::sandbox::Faults;

const RATE_HEADERS: [&str; 3] = [
    "x-carehq-ratelimit-limit",
    "x-carehq-ratelimit-remaining",
    "x-carehq-ratelimit-reset",
];

#[tokio::test]
async fn every_answer_carries_the_rate_limit_headers() {
    let running = start().await;
    let ok = running
        .signed(Method::GET, "locations", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-carehq-ratelimit-limit"], "1000");
    let refused = running
        .signed_with(
            Method::GET,
            "locations",
            &[],
            &Sign {
                secret: Some("wrong".into()),
                ..Sign::default()
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    for name in RATE_HEADERS {
        assert!(ok.headers().contains_key(name), "{name} on 200");
        assert!(refused.headers().contains_key(name), "{name} on 401");
    }
    let reset: f64 = ok.headers()["x-carehq-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > now() as f64 - 1.0, "reset {reset} is a unix time");
}

#[tokio::test]
async fn over_the_limit_answers_429_with_nothing_remaining() {
    let running = start_with(SandboxConfig {
        rate_limit_per_second: 1,
        ..SandboxConfig::default()
    })
    .await;
    // One request per one-second window: two quick ones share a window unless a
    // second boundary falls between them, so a few tries always find a 429.
    let mut limited = None;
    for _ in 0..20 {
        let response = running
            .signed(Method::GET, "groups", &[])
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a 429 within 20 quick requests at 1 request per second");
    assert_eq!(limited.headers()["x-carehq-ratelimit-remaining"], "0");
    assert_eq!(limited.headers()["x-carehq-ratelimit-limit"], "1");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["hint"], "Too many requests");
}

#[tokio::test]
async fn a_forced_status_applies_n_times_then_normal_service_resumes() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        status: Some(503),
        status_times: Some(2),
        ..Faults::default()
    });
    for _ in 0..2 {
        let (status, body) = running
            .call(Method::PUT, "care-enquiries", &valid_enquiry())
            .await;
        assert_eq!(status, 503);
        assert!(body["hint"].as_str().unwrap().contains("fault"), "{body}");
    }
    assert!(
        running.sandbox.received_enquiries().is_empty(),
        "nothing created"
    );
    let (status, _) = running
        .call(Method::PUT, "care-enquiries", &valid_enquiry())
        .await;
    assert_eq!(status, 200);
    assert_eq!(running.sandbox.faults(), Faults::default());
}

#[tokio::test]
async fn a_forced_status_without_times_stays_until_cleared() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        status: Some(401),
        ..Faults::default()
    });
    for _ in 0..3 {
        assert_eq!(running.call(Method::GET, "locations", &[]).await.0, 401);
    }
    running.sandbox.set_faults(Faults::default());
    assert_eq!(running.call(Method::GET, "locations", &[]).await.0, 200);
}

#[tokio::test]
async fn the_rate_limited_fault_answers_429_with_reset_ahead() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        rate_limited: true,
        ..Faults::default()
    });
    let before = now() as f64;
    let response = running
        .signed(Method::PUT, "care-enquiries", &valid_enquiry())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-carehq-ratelimit-remaining"], "0");
    let reset: f64 = response.headers()["x-carehq-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > before, "reset {reset} is ahead of {before}");
    assert!(running.sandbox.received_enquiries().is_empty());
}

#[tokio::test]
async fn the_rate_limited_fault_can_put_reset_further_ahead() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        rate_limited: true,
        rate_limit_reset_ms: Some(5_000),
        ..Faults::default()
    });
    let before = now() as f64;
    let response = running
        .signed(Method::PUT, "care-enquiries", &valid_enquiry())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let reset: f64 = response.headers()["x-carehq-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reset >= before + 4.0,
        "reset {reset} is 5 s ahead of {before}"
    );
}

#[tokio::test]
async fn drop_after_create_breaks_the_answer_but_the_enquiry_exists() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        drop_after_create: true,
        ..Faults::default()
    });
    let response = running
        .signed(Method::PUT, "care-enquiries", &valid_enquiry())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "the body must fail to read"
    );
    assert_eq!(running.sandbox.received_enquiries().len(), 1);

    // The sandbox itself keeps serving.
    running.sandbox.set_faults(Faults::default());
    assert_eq!(running.call(Method::GET, "locations", &[]).await.0, 200);
}

#[tokio::test]
async fn latency_holds_the_answer_after_the_request_is_counted() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        latency_ms: 60_000,
        ..Faults::default()
    });
    let request = running.signed(Method::GET, "locations", &[]).send();
    let pending = tokio::spawn(request);
    let mut counted = false;
    for _ in 0..500 {
        if running.sandbox.request_count() == 1 {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(counted, "the request reached the sandbox");
    // A minute of latency: the answer cannot have arrived yet.
    assert!(!pending.is_finished());
    pending.abort();
}

#[tokio::test]
async fn close_after_create_creates_then_closes_with_no_answer_at_all() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        close_after_create: true,
        after_create_times: Some(1),
        ..Faults::default()
    });
    let sent = running
        .signed(Method::PUT, "care-enquiries", &valid_enquiry())
        .send()
        .await;
    // No status line: the client gets an error, not a 200 with a bad body.
    let error = sent.expect_err("no answer");
    assert!(!error.is_timeout() && !error.is_connect(), "{error:?}");
    assert_eq!(
        running.sandbox.received_enquiries().len(),
        1,
        "created all the same"
    );

    // Only once: the next create is answered.
    let (status, _) = running
        .call(Method::PUT, "care-enquiries", &valid_enquiry())
        .await;
    assert_eq!(status, 200);
    assert_eq!(running.sandbox.received_enquiries().len(), 2);
    assert_eq!(running.sandbox.faults(), Faults::default());
}

#[tokio::test]
async fn answer_delay_creates_first_so_a_client_that_gives_up_still_made_the_record() {
    let running = start().await;
    running.sandbox.set_faults(Faults {
        answer_delay_ms: 60_000,
        ..Faults::default()
    });
    let sent = running
        .signed(Method::PUT, "care-enquiries", &valid_enquiry())
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(sent.is_err_and(|e| e.is_timeout()), "the client gave up");
    // Unlike `latency_ms`, the record exists although no answer came.
    assert_eq!(running.sandbox.received_enquiries().len(), 1);
}
