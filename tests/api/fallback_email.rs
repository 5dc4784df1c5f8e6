//! The human fallback: CareHQ down past `sync.fallback_after` → the enquiry
//! is emailed once to the home's `fallback_email` at a real SMTP listener on
//! loopback, then delivered to CareHQ once it is back; with the mail server
//! down too, the email is retried, not lost. "Past fallback_after" is made
//! by moving the enquiry's arrival back, not by waiting.

use std::time::Duration;

use enquiry_relay::sandbox::Faults;

use enquiry_relay::storage::{DeliveryStatus, Step};

use crate::admin::{cli, default_config};
use crate::alerts::{SinkMode, SmtpSink, email_alerts, mail_body};
use crate::helpers::{AppOptions, Db, TestApp, TestDb, eventually, posted_id};
use crate::on_both_databases;

fn with_fallback(smtp_port: u16) -> AppOptions {
    AppOptions {
        // One retry an hour away: nothing falls due by itself during the test.
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    }
    .with(move |s| {
        s.sync.fallback_after = Duration::from_secs(2);
        s.sites[0].fallback_email = Some("Upton manager <manager@upton.example>".parse().unwrap());
        email_alerts(s, smtp_port, "ops@example.net");
    })
    .quiet()
}

/// The enquiry arrived `minutes` earlier than it did.
async fn arrived_earlier(db: &TestDb, id: &str, minutes: i64) {
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE enquiries SET received_at = received_at - $1 WHERE id = $2")
        .bind(minutes * 60_000)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn step_status(app: &TestApp, id: &str, step: &str) -> Option<String> {
    let deliveries = app.store.deliveries_of(&id.parse().unwrap()).await.unwrap();
    (deliveries.iter())
        .find(|d| d.step_name == step)
        .map(|d| d.status.as_str().to_owned())
}

async fn carehq_down_past_fallback_after_emails_the_home_once(db: Db) {
    let sink = SmtpSink::start().await;
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(with_fallback(sink.port))
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    let id = posted_id(&app, 1).await;
    app.drain().await;
    assert_eq!(
        step_status(&app, &id, "enquiry").await.as_deref(),
        Some("pending")
    );
    assert_eq!(
        step_status(&app, &id, "fallback_email").await,
        None,
        "not yet due"
    );
    assert!(sink.mails().is_empty());

    arrived_earlier(&db, &id, 5).await;
    let report = app.drain().await;
    assert_eq!(report.synced, 1, "the email went: {report:?}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("manager@upton.example"), "{}", mails[0]);
    let subject = (mails[0].lines())
        .find(|line| line.starts_with("Subject:"))
        .unwrap_or_default();
    assert!(subject.contains("Upton"), "{subject}");
    assert!(
        !subject.contains("Brien"),
        "no name in the subject: {subject}"
    );
    let body = mail_body(&mails[0]);
    for wanted in [
        "Zoë O'Brien 1",
        "family1@example.com",
        "Respite care from 1 March",
        "do not enter it",
    ] {
        assert!(body.contains(wanted), "{wanted:?} missing from:\n{body}");
    }
    assert_eq!(
        step_status(&app, &id, "fallback_email").await.as_deref(),
        Some("synced")
    );

    // A second pass sends nothing more; CareHQ back: delivered once.
    assert_eq!(app.drain().await.synced, 0);
    sandbox.set_faults(Faults::default());
    app.make_pending_due().await;
    assert_eq!(app.drain_to_rest().await.synced, 1);
    assert_eq!(sandbox.received().len(), 1);
    assert_eq!(sink.mails().len(), 1, "never emailed twice");
    assert_eq!(
        step_status(&app, &id, "enquiry").await.as_deref(),
        Some("synced")
    );

    // Staff see both.
    let config = default_config(&db, &sandbox.url);
    let (code, shown, _) = cli(&config, &["enquiries", "show", &id]).await;
    assert_eq!(code, 0);
    assert!(shown.contains("(enquiry): synced"), "{shown}");
    assert!(shown.contains("(fallback_email): synced"), "{shown}");
    assert!(shown.contains("sent by email"), "{shown}");
    app.stop().await;
}
on_both_databases!(carehq_down_past_fallback_after_emails_the_home_once);

async fn with_the_mail_server_down_too_the_email_is_retried(db: Db) {
    let sink = SmtpSink::start().await;
    sink.set_up(false);
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(with_fallback(sink.port))
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    let id = posted_id(&app, 2).await;
    arrived_earlier(&db, &id, 5).await;
    let report = app.drain().await;
    assert_eq!(report.synced, 0, "{report:?}");
    assert_eq!(
        step_status(&app, &id, "fallback_email").await.as_deref(),
        Some("pending")
    );
    let deliveries = app.store.deliveries_of(&id.parse().unwrap()).await.unwrap();
    let email = deliveries
        .iter()
        .find(|d| d.step == Step::FallbackEmail)
        .unwrap();
    assert_eq!(email.attempts, 1, "the refused try is counted");

    sink.set_up(true);
    app.make_pending_due().await;
    app.drain().await;
    assert_eq!(sink.mails().len(), 1);
    assert_eq!(
        step_status(&app, &id, "fallback_email").await.as_deref(),
        Some("synced")
    );
    app.make_pending_due().await;
    app.drain().await;
    assert_eq!(sink.mails().len(), 1, "sent once");
    app.stop().await;
}
on_both_databases!(with_the_mail_server_down_too_the_email_is_retried);

/// The email's step is made while the mail server is down too; CareHQ
/// comes back first. Before, the email went out once the mail server was
/// back, telling the home an enquiry "has not reached CareHQ" that had.
async fn no_fallback_email_goes_once_carehq_has_the_enquiry(db: Db) {
    let sink = SmtpSink::start().await;
    sink.set_up(false);
    // Retries to spare: the email step outlasts the mail server's outage.
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600); 3],
        ..with_fallback(sink.port)
    };
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    sandbox.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    let id = posted_id(&app, 3).await;
    arrived_earlier(&db, &id, 5).await;
    app.drain().await;
    assert_eq!(
        step_status(&app, &id, "fallback_email").await.as_deref(),
        Some("pending"),
        "made, and waiting for the mail server"
    );

    sandbox.set_faults(Faults::default());
    app.make_pending_due().await;
    app.drain().await;
    assert_eq!(
        step_status(&app, &id, "enquiry").await.as_deref(),
        Some("synced")
    );
    sink.set_up(true);
    app.make_pending_due().await;
    app.drain_to_rest().await;
    assert!(sink.mails().is_empty(), "emailed although CareHQ has it");
    let deliveries = app.store.deliveries_of(&id.parse().unwrap()).await.unwrap();
    let email = (deliveries.iter())
        .find(|d| d.step == Step::FallbackEmail)
        .unwrap();
    assert_eq!(email.status.as_str(), "synced", "closed, not left waiting");
    let attempts = app.store.attempts_of(&email.id).await.unwrap();
    let last = attempts.last().expect("an attempt");
    assert_eq!(last.outcome, "not_needed", "{attempts:?}");
    app.stop().await;
}
on_both_databases!(no_fallback_email_goes_once_carehq_has_the_enquiry);

/// The home's mail server takes the connection and then never answers,
/// while `sync.concurrency` is 1. Before, the stalled email held the one
/// slot every lane shared (lettre bounds only the connect), so CareHQ
/// delivery stopped until a restart; each lane now has its own slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_mail_server_does_not_hold_back_carehq_delivery() {
    let sink = SmtpSink::start().await;
    sink.set_mode(SinkMode::StallAfterGreeting);
    let port = sink.port;
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        // The email stalls for the whole timeout: longer than the wait below.
        carehq_timeout: Duration::from_secs(30),
        lease: Duration::from_secs(40),
        ..AppOptions::default()
    }
    .with(move |s| {
        s.sync.concurrency = 1;
        s.sync.fallback_after = Duration::from_secs(2);
        s.sites[0].fallback_email = Some("Upton manager <manager@upton.example>".parse().unwrap());
        email_alerts(s, port, "ops@example.net");
    });
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;
    sandbox.set_faults(Faults {
        status: Some(503),
        ..Faults::default()
    });
    let first = posted_id(&app, 1).await;
    let tried = eventually(Duration::from_secs(20), || async {
        (app.delivery(&first).await.attempts == 1).then_some(())
    });
    tried.await.expect("CareHQ refused the first enquiry once");
    arrived_earlier(&db, &first, 5).await;
    let stalled = eventually(Duration::from_secs(20), || async {
        let status = step_status(&app, &first, "fallback_email").await;
        (status.as_deref() == Some("sending")).then_some(())
    });
    stalled.await.expect("the email is being sent, and stalls");

    sandbox.set_faults(Faults::default());
    let second = posted_id(&app, 2).await;
    app.wait_for_status(&second, DeliveryStatus::Synced).await;
    assert_eq!(
        step_status(&app, &first, "fallback_email").await.as_deref(),
        Some("sending"),
        "CareHQ delivery went on beside the stalled email, not after it"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_fallback_email_needs_the_smtp_settings() {
    let toml = "[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"A\"\n\
                location = \"6724fbc74f73a2cebf6377fa\"\nfallback_email = \"m@example.com\"\n";
    let errors = enquiry_relay::config::Settings::from_toml_str(toml).unwrap_err();
    let message = &errors.get("sites[0].fallback_email").unwrap().message;
    assert!(message.contains("alerts.smtp_url"), "{message}");
}
