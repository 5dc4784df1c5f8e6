//! Provider outages: Turnstile's one retry with the same idempotency key,
//! every hosted provider under each `on_error` policy, and an enquiry
//! accepted unverified during an outage reaching CareHQ (the sandbox).

use serde_json::{Value, json};

use enquiry_relay::storage::DeliveryStatus;

use crate::captcha::{HOST, app, captcha, post};
use crate::fake_captcha::{FakeVerify, Reply};
use crate::helpers::{AppOptions, Db, TestApp, field};
use crate::spam::stored;

#[tokio::test]
async fn turnstile_retries_once_with_the_same_idempotency_key_after_a_5xx_error_or_timeout() {
    for (what, first) in [
        ("503", Reply::Status(503)),
        ("internal-error", Reply::Fail(vec!["internal-error"])),
        ("timeout", Reply::Hang),
    ] {
        let fake = FakeVerify::start(Reply::Then(
            Box::new(first),
            Box::new(Reply::Pass(json!({"hostname": HOST}))),
        ))
        .await;
        // `reject`: had the retry not happened, the outage would answer 503.
        // A longer timeout than the other tests: half of it is the retry's.
        let toml = captcha("turnstile", &fake.url, "on_error = \"reject\"")
            .replace("timeout = \"500ms\"", "timeout = \"4s\"");
        let (db, _sandbox, app) = app(toml).await;

        let response = post(&app, 1, "cf-turnstile-response", "retried").await;

        assert_eq!(response.status(), 201, "{what}");
        let calls = fake.calls();
        assert_eq!(calls.len(), 2, "{what}: one retry");
        assert_eq!(calls[1].fields["response"], "retried", "{what}");
        assert_eq!(
            calls[0].fields["idempotency_key"], calls[1].fields["idempotency_key"],
            "{what}: the retry carries the first call's key"
        );
        let rows = stored(&db).await;
        assert_eq!(rows.len(), 1, "{what}");
        assert_eq!(rows[0].0, "clean", "{what}: verified, not unverified");
        app.stop().await;
    }
}

/// reCAPTCHA, hCaptcha and Friendly Captcha down (5xx, or hanging past the
/// timeout) under each policy. They are asked once: without an idempotency
/// key a retry could be told "duplicate" for a token the first call redeemed.
#[tokio::test]
async fn every_hosted_provider_follows_on_error_when_down() {
    for (provider, field) in [
        ("recaptcha", "g-recaptcha-response"),
        ("hcaptcha", "h-captcha-response"),
        ("friendly", "frc-captcha-response"),
    ] {
        for (policy, expect) in [("accept", 201), ("hold", 201), ("reject", 503)] {
            let fake = FakeVerify::start(Reply::Status(500)).await;
            let (db, _sandbox, app) = app(captcha(
                provider,
                &fake.url,
                &format!("on_error = \"{policy}\""),
            ))
            .await;
            let cases = [
                ("500", Reply::Status(500)),
                ("503", Reply::Status(503)),
                ("timeout", Reply::Hang),
            ];
            for (n, (what, reply)) in cases.into_iter().enumerate() {
                let case = format!("{provider} / {policy} / {what}");
                fake.set(reply);
                let response = post(&app, n, field, &format!("tok-{n}")).await;
                assert_eq!(response.status(), expect, "{case}");
                assert_eq!(fake.calls().len(), n + 1, "{case}: asked once");
                let rows = stored(&db).await;
                if policy == "reject" {
                    let body: Value = response.json().await.unwrap();
                    let message = body["message"].as_str().unwrap_or_default();
                    assert!(message.contains("telephone the home"), "{case}: {body}");
                    assert!(rows.is_empty(), "{case}");
                } else {
                    assert_eq!(rows.len(), n + 1, "{case}");
                    for (verdict, status) in &rows {
                        assert_eq!(verdict, "captcha_unverified", "{case}");
                        assert_eq!(status == "held", policy == "hold", "{case}: {status}");
                    }
                }
            }
            app.stop().await;
        }
    }
}

#[tokio::test]
async fn an_enquiry_accepted_unverified_in_an_outage_is_delivered_to_carehq() {
    let fake = FakeVerify::start(Reply::Status(503)).await;
    let options =
        AppOptions::default().config(captcha("hcaptcha", &fake.url, "on_error = \"accept\""));
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;

    let response = post(&app, 1, "h-captcha-response", "while-down").await;

    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&id, DeliveryStatus::Synced).await;
    let received = sandbox.wait_for(1).await;
    assert_eq!(field(&received[0], "last_name"), Some("O'Brien 1"));
    assert_eq!(
        field(&received[0], "untrusted_source"),
        Some("true"),
        "CareHQ is told the source is untrusted"
    );
    assert_eq!(stored(&db).await[0].0, "captcha_unverified");
    app.stop().await;
}
