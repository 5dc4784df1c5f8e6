//! Alerts to a webhook receiver and an SMTP sink on loopback: one message per
//! incident and one when it clears, also with two instances on one database,
//! with both destinations at once, with one destination down for a while, and
//! with a mail server that stalls (shutdown does not wait on it). The sink
//! lives here, so `Mailer::send` is tried against its modes here too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use enquiry_relay::config::Settings;
use enquiry_relay::mail::{MailFailure, Mailer};
use enquiry_relay::sandbox::Faults;
use enquiry_relay::sync::{DrainReport, fallback_mailer};
use lettre::Message;

use enquiry_relay::storage::DeliveryStatus;

use crate::helpers::{AppOptions, Db, TestApp, TestDb, eventually, offline_settings};
use crate::on_both_databases;
use crate::status::posted_id;

pub(crate) type Inbox = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver: its URL and what it received.
pub(crate) async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(inbox): State<Inbox>, Json(body): Json<Value>| async move {
                    inbox.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(Arc::clone(&inbox));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

/// Email alerts over the SMTP sink listening on `port`, from the relay to `to`.
pub fn email_alerts(s: &mut Settings, port: u16, to: &str) {
    s.alerts.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
    s.alerts.email_from = Some("Relay <relay@example.net>".parse().unwrap());
    s.alerts.email_to = vec![to.parse().unwrap()];
}

/// Webhook alerts to `url`, checked every 100 ms.
fn options(url: &str, details: bool) -> AppOptions {
    let url = SecretString::from(url.to_owned());
    AppOptions::default().with(move |s| {
        s.alerts.webhook_url = Some(url.clone());
        s.alerts.check_interval = Duration::from_millis(100);
        s.alerts.include_details = details;
    })
}

/// `checks` alert checks of a quiet app, as the loop would make while an
/// incident lasts (or after it cleared).
async fn check_alerts_times(app: &TestApp, checks: usize) {
    for _ in 0..checks {
        app.check_alerts().await;
    }
}

fn count(inbox: &Inbox, kind: &str, event: &str) -> usize {
    inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind && m["event"] == event)
        .count()
}

async fn a_failed_enquiry_alerts_once_and_clears_once(db: Db) {
    let (url, inbox) = receiver().await;
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .options(options(&url, false).quiet())
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(Faults::once(400));
    let id = posted_id(&app, 1).await;
    assert_eq!(app.drain_to_rest().await.failed, 1);
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    app.check_alerts().await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    // Several more checks run while the incident lasts; none repeats it.
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    let message = inbox.lock().unwrap()[0].clone();
    assert_eq!(message["waiting"]["failed"], 1);
    assert!(
        message["text"].as_str().unwrap().contains("enquiries show"),
        "{message}"
    );
    assert!(
        !message.to_string().contains("example.com"),
        "no personal data: {message}"
    );
    assert!(message.get("details").is_none());

    app.store.retry_failed(&id.parse().unwrap()).await.unwrap();
    assert_eq!(app.drain_to_rest().await.synced, 1);
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Synced);
    app.check_alerts().await;
    assert_eq!(count(&inbox, "failed", "cleared"), 1);
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "failed", "cleared"), 1);
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    app.stop().await;
}
on_both_databases!(a_failed_enquiry_alerts_once_and_clears_once);

async fn two_instances_send_each_alert_once(db: Db) {
    let (url, inbox) = receiver().await;
    let wrong = AppOptions {
        api_secret: "not-the-secret".into(),
        ..options(&url, true)
    }
    .quiet();
    let Some((db, sandbox, first)) = TestApp::builder(db).options(wrong.clone()).spawn().await
    else {
        return;
    };
    let second = TestApp::spawn(&db, &sandbox.url, &wrong).await;
    posted_id(&first, 1).await;
    first.drain().await;
    assert!(
        first
            .store
            .delivery_state("default")
            .await
            .unwrap()
            .paused_reason
            .is_some(),
        "a 401 pauses delivery"
    );
    // Both instances check at the same moment, several times over: the
    // incident is announced once.
    for _ in 0..4 {
        tokio::join!(first.check_alerts(), second.check_alerts());
    }
    assert_eq!(
        count(&inbox, "paused", "incident"),
        1,
        "{:?}",
        inbox.lock().unwrap()
    );
    let message = inbox.lock().unwrap()[0].clone();
    assert!(
        message["text"].as_str().unwrap().contains("Reason:"),
        "{message}"
    );
    first.stop().await;
    second.stop().await;

    // Fixed credentials: the restarted instances deliver, the pause clears once.
    let fixed = options(&url, true).quiet();
    let first = TestApp::spawn(&db, &sandbox.url, &fixed).await;
    let second = TestApp::spawn(&db, &sandbox.url, &fixed).await;
    assert_eq!(first.drain().await.synced, 1, "the probe delivers");
    assert_eq!(second.drain().await, DrainReport::default());
    assert!(
        first
            .store
            .delivery_state("default")
            .await
            .unwrap()
            .paused_reason
            .is_none(),
        "delivery resumed"
    );
    for _ in 0..4 {
        tokio::join!(first.check_alerts(), second.check_alerts());
    }
    assert_eq!(count(&inbox, "paused", "cleared"), 1);
    assert_eq!(count(&inbox, "paused", "incident"), 1);
    first.stop().await;
    second.stop().await;
}
on_both_databases!(two_instances_send_each_alert_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_details_names_the_families_to_call_back() {
    let (url, inbox) = receiver().await;
    let (_db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options(&url, true).quiet())
        .spawn_sqlite()
        .await;
    sandbox.set_faults(Faults::once(400));
    let id = posted_id(&app, 7).await;
    assert_eq!(app.drain_to_rest().await.failed, 1);
    app.check_alerts().await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    let message = inbox.lock().unwrap()[0].clone();
    assert_eq!(message["details"][0]["id"], id.as_str());
    assert_eq!(message["details"][0]["email"], "family7@example.com");
    app.stop().await;
}

/// A minimal SMTP sink on loopback: accepts every message, keeps its DATA.
pub(crate) async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let sink = SmtpSink::start().await;
    (sink.port, sink.mails)
}

/// How the SMTP sink answers the connections it accepts from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SinkMode {
    /// Takes every message.
    Up,
    /// Greets with `421` (service not available) and hangs up.
    Down,
    /// Greets with `220`, then never answers again (reads and drops what it
    /// is sent until the client hangs up): an overloaded server, a tarpit.
    StallAfterGreeting,
    /// Takes the message's DATA (kept in `mails`), then never answers the
    /// final dot: the one moment the message may or may not have been taken.
    StallAfterData,
    /// Takes the message's DATA (kept in `mails`), then hangs up without
    /// answering the final dot.
    HangUpAfterData,
    /// Answers `RCPT TO` with a `550` that quotes the address, as real
    /// servers do.
    Refuse,
}

/// The SMTP sink with a switch (`set_mode`, `set_up`), counting the
/// connections it accepts.
pub(crate) struct SmtpSink {
    pub(crate) port: u16,
    mails: Arc<Mutex<Vec<String>>>,
    mode: Arc<Mutex<SinkMode>>,
    connections: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub(crate) async fn start() -> SmtpSink {
        let mails: Arc<Mutex<Vec<String>>> = Arc::default();
        let mode = Arc::new(Mutex::new(SinkMode::Up));
        let connections = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (kept, current, counted) = (
            Arc::clone(&mails),
            Arc::clone(&mode),
            Arc::clone(&connections),
        );
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let mode = *current.lock().unwrap();
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_smtp(socket, mode, Arc::clone(&kept)));
            }
        });
        SmtpSink {
            port,
            mails,
            mode,
            connections,
        }
    }

    /// `Up` or `Down`.
    pub(crate) fn set_up(&self, up: bool) {
        self.set_mode(if up { SinkMode::Up } else { SinkMode::Down });
    }

    pub(crate) fn set_mode(&self, mode: SinkMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub(crate) fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }

    /// Connections accepted so far (a stalled one counts once it is open).
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// One SMTP conversation in `mode`.
async fn serve_smtp(socket: tokio::net::TcpStream, mode: SinkMode, kept: Arc<Mutex<Vec<String>>>) {
    let (read, mut write) = socket.into_split();
    if mode == SinkMode::Down {
        let _ = write.write_all(b"421 sink down\r\n").await;
        return;
    }
    let mut lines = BufReader::new(read).lines();
    if write.write_all(b"220 sink ready\r\n").await.is_err() {
        return;
    }
    if mode == SinkMode::StallAfterGreeting {
        while let Ok(Some(_)) = lines.next_line().await {}
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "RCPT" if mode == SinkMode::Refuse => {
                let to = line.split_once(':').map_or("", |(_, to)| to.trim());
                let refusal = format!("550 5.1.1 {to}: no such mailbox here\r\n");
                if write.write_all(refusal.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            "DATA" => {
                if write.write_all(b"354 end with .\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                kept.lock().unwrap().push(data);
                match mode {
                    SinkMode::StallAfterData => {
                        while let Ok(Some(_)) = lines.next_line().await {}
                        return;
                    }
                    SinkMode::HangUpAfterData => return,
                    _ => {}
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// The text of a mail's body, undoing the transfer encoding lettre chose
/// (quoted-printable or base64 once the text is not plain ASCII).
pub(crate) fn mail_body(mail: &str) -> String {
    let (headers, body) = mail.split_once("\n\n").unwrap_or((mail, ""));
    let headers = headers.to_ascii_lowercase();
    if headers.contains("content-transfer-encoding: base64") {
        use base64::Engine as _;
        let joined: String = body.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(joined)
            .expect("base64 body");
        return String::from_utf8(bytes).expect("utf-8 body");
    }
    if headers.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\n", "");
        let mut bytes = Vec::new();
        let mut rest = joined.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            match (b, tail.get(..2)) {
                (b'=', Some(hex)) => {
                    let hex = std::str::from_utf8(hex).unwrap();
                    bytes.push(u8::from_str_radix(hex, 16).expect("=XX"));
                    rest = &tail[2..];
                }
                _ => {
                    bytes.push(b);
                    rest = tail;
                }
            }
        }
        return String::from_utf8(bytes).expect("utf-8 body");
    }
    body.to_owned()
}

#[test]
fn mail_body_undoes_both_transfer_encodings() {
    let qp = "Subject: x\nContent-Transfer-Encoding: quoted-printable\n\nZo=C3=AB fam=\nily@example.com\n";
    assert_eq!(mail_body(qp), "Zoë family@example.com\n");
    let b64 = "Content-Transfer-Encoding: base64\n\nWm/DqyBm\nYW1pbHk=\n";
    assert_eq!(mail_body(b64), "Zoë family");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_alerts_reach_an_smtp_server_once_per_incident_and_on_clear() {
    let (port, mails) = smtp_sink().await;
    let options = AppOptions::default()
        .with(move |s| {
            email_alerts(s, port, "manager@example.net");
            s.alerts.check_interval = Duration::from_millis(100);
        })
        .quiet();
    let (_db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;
    sandbox.set_faults(Faults::once(400));
    let id = posted_id(&app, 1).await;
    assert_eq!(app.drain_to_rest().await.failed, 1);
    let sent = || mails.lock().unwrap().clone();
    app.check_alerts().await;
    assert_eq!(sent().len(), 1, "an alert email arrives");
    check_alerts_times(&app, 3).await;
    assert_eq!(sent().len(), 1, "once per incident");
    let mail = &sent()[0];
    assert!(
        mail.contains("Subject: [enquiry-relay] 1 enquiry could not be delivered"),
        "{mail}"
    );
    assert!(mail.contains("manager@example.net"), "{mail}");
    assert!(
        mail.contains("enquiries show"),
        "says where to find the details:\n{mail}"
    );
    assert!(
        !mail.contains("family1@example.com"),
        "no personal data by default:\n{mail}"
    );

    app.store.retry_failed(&id.parse().unwrap()).await.unwrap();
    assert_eq!(app.drain_to_rest().await.synced, 1);
    app.check_alerts().await;
    assert_eq!(sent().len(), 2, "an all-clear email arrives");
    check_alerts_times(&app, 3).await;
    assert_eq!(sent().len(), 2);
    assert!(
        sent()[1].contains("No failed enquiries remain"),
        "{}",
        sent()[1]
    );
    app.stop().await;
}

/// Age the pending deliveries as if they had waited an hour longer.
async fn age_pending_by_an_hour(db: &TestDb) {
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query(
        "UPDATE deliveries SET created_at = created_at - 3600000, \
         pending_since = pending_since - 3600000",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

async fn a_pending_enquiry_waiting_too_long_alerts_once_and_clears_once(db: Db) {
    let (url, inbox) = receiver().await;
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..options(&url, false)
    }
    .quiet();
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            status: Some(503),
            ..Faults::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    assert_eq!(app.drain_to_rest().await.retrying, 1);
    let d = app.delivery(&id).await;
    assert_eq!(
        (d.status.as_str(), d.attempts),
        ("pending", 1),
        "first attempt made; next one in an hour"
    );
    // Young: several checks pass without an alert.
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "pending_age", "incident"), 0);

    age_pending_by_an_hour(&db).await;
    app.check_alerts().await;
    assert_eq!(count(&inbox, "pending_age", "incident"), 1);
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "pending_age", "incident"), 1);
    let message = inbox
        .lock()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "pending_age")
        .cloned()
        .unwrap();
    assert_eq!(message["waiting"]["pending"], 1, "{message}");
    assert!(
        message["text"].as_str().unwrap().contains("/status"),
        "{message}"
    );
    assert!(!message.to_string().contains("example.com"), "{message}");

    // CareHQ answers again and the row falls due: delivered, all clear once.
    sandbox.set_faults(Faults::default());
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE deliveries SET next_attempt_at = 0")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(app.drain_to_rest().await.synced, 1);
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Synced);
    app.check_alerts().await;
    assert_eq!(count(&inbox, "pending_age", "cleared"), 1);
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "pending_age", "cleared"), 1);
    assert_eq!(count(&inbox, "pending_age", "incident"), 1);
    assert_eq!(count(&inbox, "failed", "incident"), 0, "nothing failed");
    app.stop().await;
}
on_both_databases!(a_pending_enquiry_waiting_too_long_alerts_once_and_clears_once);

fn both_destinations(url: &str, smtp_port: u16, details: bool) -> AppOptions {
    let options = options(url, details);
    options
        .with(move |s| email_alerts(s, smtp_port, "manager@example.net"))
        .quiet()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_email_each_get_each_alert_once_and_details_reach_the_email() {
    let (url, inbox) = receiver().await;
    let sink = SmtpSink::start().await;
    let (_db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(both_destinations(&url, sink.port, true))
        .spawn_sqlite()
        .await;
    sandbox.set_faults(Faults::once(400));
    let id = posted_id(&app, 5).await;
    assert_eq!(app.drain_to_rest().await.failed, 1);
    app.check_alerts().await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    assert_eq!(sink.mails().len(), 1, "one email per incident");
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    assert_eq!(sink.mails().len(), 1, "one email per incident");
    let body = mail_body(&sink.mails()[0]);
    assert!(body.contains("Families to call back"), "{body}");
    assert!(
        body.contains("family5@example.com") && body.contains(&id),
        "include_details puts the family's contact in the email:\n{body}"
    );

    app.store.retry_failed(&id.parse().unwrap()).await.unwrap();
    assert_eq!(app.drain_to_rest().await.synced, 1);
    app.check_alerts().await;
    assert_eq!(count(&inbox, "failed", "cleared"), 1);
    assert_eq!(sink.mails().len(), 2);
    check_alerts_times(&app, 3).await;
    assert_eq!(count(&inbox, "failed", "cleared"), 1);
    assert_eq!(inbox.lock().unwrap().len(), 2);
    assert_eq!(sink.mails().len(), 2);
    assert!(
        mail_body(&sink.mails()[1]).contains("No failed enquiries remain"),
        "{}",
        sink.mails()[1]
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_the_mail_server_refused_is_sent_when_it_is_back() {
    let (url, inbox) = receiver().await;
    let sink = SmtpSink::start().await;
    sink.set_up(false);
    let (_db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(both_destinations(&url, sink.port, false))
        .spawn_sqlite()
        .await;
    sandbox.set_faults(Faults::once(400));
    let id = posted_id(&app, 1).await;
    assert_eq!(app.drain_to_rest().await.failed, 1);
    assert_eq!(app.delivery(&id).await.status, DeliveryStatus::Failed);
    // The webhook took it, so the incident is announced; the email is owed.
    app.check_alerts().await;
    assert_eq!(count(&inbox, "failed", "incident"), 1);
    check_alerts_times(&app, 3).await;
    assert!(sink.mails().is_empty());

    sink.set_up(true);
    app.check_alerts().await;
    assert_eq!(
        sink.mails().len(),
        1,
        "the owed email goes out at the next check"
    );
    check_alerts_times(&app, 3).await;
    assert_eq!(sink.mails().len(), 1, "sent once, not once per check");
    assert!(
        sink.mails()[0].contains("could not be delivered"),
        "{}",
        sink.mails()[0]
    );
    assert_eq!(
        count(&inbox, "failed", "incident"),
        1,
        "the webhook is not sent again"
    );
    app.stop().await;
}

/// `app.stop()` within `bound`: `false` when it hung past it. The bound is
/// far above what a stop takes, to tell a hang from a slow machine.
async fn stops_within(app: TestApp, bound: Duration) -> bool {
    tokio::time::timeout(bound, app.stop()).await.is_ok()
}

/// An alert email stuck on a mail server that greets and then says nothing
/// does not hold shutdown, and the alert it was sending is not lost: the
/// incident is given back, and announced by the next check (here after a
/// restart, with the server answering again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_on_an_alert_email_to_a_stalled_mail_server() {
    let sink = SmtpSink::start().await;
    sink.set_mode(SinkMode::StallAfterGreeting);
    let port = sink.port;
    let grace = Duration::from_secs(5);
    // Not quiet: the worker and the alert loop run by themselves.
    let options = AppOptions {
        shutdown_grace: Some(grace),
        ..AppOptions::default()
    }
    .with(move |s| {
        email_alerts(s, port, "manager@example.net");
        s.alerts.check_interval = Duration::from_millis(100);
    });
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options.clone())
        .spawn_sqlite()
        .await;
    sandbox.set_faults(Faults::once(400));
    posted_id(&app, 1).await;
    let stalled = eventually(Duration::from_secs(30), || async {
        (sink.connections() > 0).then_some(())
    })
    .await;
    assert!(stalled.is_some(), "the alert loop never tried to send");

    assert!(
        stops_within(app, grace + Duration::from_secs(10)).await,
        "app.stop() hung on the stalled alert email"
    );
    assert!(sink.mails().is_empty());

    sink.set_mode(SinkMode::Up);
    let options = AppOptions::default()
        .with(move |s| email_alerts(s, port, "manager@example.net"))
        .quiet();
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
    app.check_alerts().await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "the cut alert goes out after the restart");
    assert!(mails[0].contains("could not be delivered"), "{}", mails[0]);
    app.stop().await;
}

/// A fallback mailer on the sink at `port`, every send bounded by `timeout`
/// (`carehq.timeout`).
fn mailer_at(port: u16, timeout: Duration) -> Mailer {
    let options = AppOptions {
        carehq_timeout: timeout,
        ..AppOptions::default()
    };
    let settings = offline_settings(&options, |s| {
        s.sites[0].fallback_email = Some("Upton manager <manager@upton.example>".parse().unwrap());
        email_alerts(s, port, "ops@example.net");
    });
    fallback_mailer(&settings)
        .expect("a usable smtp_url")
        .expect("a site has a fallback_email")
}

fn fallback_message() -> Message {
    Message::builder()
        .from("Relay <relay@example.net>".parse().unwrap())
        .to("Upton manager <manager@upton.example>".parse().unwrap())
        .subject("Enquiry for Upton Court")
        .body("A family is waiting.\n".to_owned())
        .unwrap()
}

/// One `Mailer::send` to the sink in `mode`, as `Ok` or the failure's
/// variant name and detail. The
/// outer bound is far above the 1 s timeout: only a hang reaches it.
async fn send_to(sink: &SmtpSink, mode: SinkMode) -> Result<(), (String, String)> {
    sink.set_mode(mode);
    let mailer = mailer_at(sink.port, Duration::from_secs(1));
    let sent = tokio::time::timeout(Duration::from_secs(30), mailer.send(fallback_message()))
        .await
        .unwrap_or_else(|_| panic!("a send to a sink in {mode:?} hung"));
    sent.map_err(|failure| {
        let variant = match &failure {
            MailFailure::Refused { .. } => "Refused",
            MailFailure::NotSent { .. } => "NotSent",
            MailFailure::MaybeSent { .. } => "MaybeSent",
        };
        (variant.to_owned(), failure.detail().to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_send_that_stalls_ends_as_maybe_sent() {
    let sink = SmtpSink::start().await;
    let (variant, detail) = send_to(&sink, SinkMode::StallAfterGreeting)
        .await
        .unwrap_err();
    assert_eq!(variant, "MaybeSent", "{detail}");
    // The one stall that matters: the server has the whole message, and
    // then says nothing. It may deliver it.
    let (variant, detail) = send_to(&sink, SinkMode::StallAfterData).await.unwrap_err();
    assert_eq!(variant, "MaybeSent", "{detail}");
    assert_eq!(sink.mails().len(), 1, "the server had the message");
}

/// lettre reports this as a broken answer, not a timeout: it used to be
/// retried as "could not be reached", and the email could arrive twice
/// without anyone counting it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_send_cut_off_after_the_message_ends_as_maybe_sent() {
    let sink = SmtpSink::start().await;
    let (variant, detail) = send_to(&sink, SinkMode::HangUpAfterData).await.unwrap_err();
    assert_eq!(variant, "MaybeSent", "{detail}");
    assert_eq!(sink.mails().len(), 1, "the server had the message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_send_says_whether_the_email_certainly_did_not_go() {
    let sink = SmtpSink::start().await;
    assert_eq!(send_to(&sink, SinkMode::Up).await, Ok(()));
    assert_eq!(sink.mails().len(), 1);

    let (variant, detail) = send_to(&sink, SinkMode::Refuse).await.unwrap_err();
    assert_eq!(variant, "Refused", "{detail}");
    assert!(
        detail.contains("550") && detail.contains("manager@upton.example"),
        "the server's words, address and all (why callers seal it): {detail}"
    );
    let (variant, detail) = send_to(&sink, SinkMode::Down).await.unwrap_err();
    assert_eq!(variant, "NotSent", "a 421 greeting: {detail}");

    // Nothing listens on a port just given back.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mailer = mailer_at(port, Duration::from_secs(1));
    let failure = tokio::time::timeout(Duration::from_secs(30), mailer.send(fallback_message()))
        .await
        .expect("a refused connection ends at once")
        .unwrap_err();
    assert!(format!("{failure:?}").starts_with("NotSent"), "{failure:?}");
    assert_eq!(sink.mails().len(), 1, "only the first send got through");
}
