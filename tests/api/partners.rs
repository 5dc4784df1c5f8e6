//! Partner intake at the storage level (issue 17): an enrollment's repeats,
//! concurrent ones included, store one enquiry; user actions land against
//! the enrollment, once each.

use std::time::Duration;

use enquiry_relay::storage::{
    ActionOutcome, DeliveryStatus, EnquiryId, InsertOutcome, NewEnquiry, PartnerEventKey, Store,
};

use crate::helpers::{Db, SITE, TestDb};
use crate::on_both_databases;

const ENROLLMENT: &str = "HelpAround.Patient.CompleteEnrollment";

fn key(event_name: &str, sent_at_ms: i64) -> PartnerEventKey {
    PartnerEventKey {
        partner: "helparound".into(),
        program_id: "78ef982b-00ea-39c2-a875-f549c40e92ad".into(),
        patient_id: "ha61236024160af".into(),
        event_name: event_name.into(),
        sent_at_ms,
    }
}

fn enrollment(key: PartnerEventKey) -> NewEnquiry {
    NewEnquiry {
        id: EnquiryId::generate(),
        site: SITE.into(),
        payload: "{}".into(),
        spam_verdict: enquiry_relay::spam::SpamVerdict::Partner,
        idempotency_key: None,
        fingerprint: None,
        held: false,
        consent: None,
        partner_event: Some(key),
        destinations: Vec::new(),
        intake: None,
    }
}

async fn ten_concurrent_repeats_of_an_enrollment_store_one_enquiry(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = Store::connect(&db.url, 8).await.unwrap();
    store.migrate().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            let new = enrollment(key(ENROLLMENT, 1_629_708_324_000));
            let id = new.id.clone();
            (id, store.insert_enquiry(new).await.unwrap())
        });
    }
    let outcomes = tasks.join_all().await;
    let created: Vec<&EnquiryId> = (outcomes.iter())
        .filter(|(_, o)| *o == InsertOutcome::Created)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(created.len(), 1, "one enquiry stored: {outcomes:?}");
    for (_, outcome) in &outcomes {
        match outcome {
            InsertOutcome::Created => {}
            InsertOutcome::Duplicate { enquiry_id } => {
                assert_eq!(enquiry_id, created[0], "every repeat names the stored one")
            }
            InsertOutcome::Conflict => panic!("a partner repeat is never a conflict"),
        }
    }
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (enquiries,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enquiries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(enquiries, 1);

    // The same patient's next enrollment (another sendDate) is another event.
    let later = store
        .insert_enquiry(enrollment(key(ENROLLMENT, 1_629_708_999_000)))
        .await
        .unwrap();
    assert_eq!(later, InsertOutcome::Created);
    pool.close().await;
}
on_both_databases!(ten_concurrent_repeats_of_an_enrollment_store_one_enquiry);

async fn a_user_action_is_recorded_once_against_the_latest_enrollment(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = Store::connect(&db.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let action = key(
        "HelpAround.Patient.UserAction.ViewedTracker",
        1_629_709_000_000,
    );
    assert_eq!(
        store
            .record_partner_action(SITE, &action, ENROLLMENT, "userAction=viewedTracker")
            .await
            .unwrap(),
        ActionOutcome::UnknownPatient,
        "no enrollment yet"
    );
    let new = enrollment(key(ENROLLMENT, 1_629_708_324_000));
    let enquiry_id = new.id.clone();
    store.insert_enquiry(new).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            store
                .record_partner_action(SITE, &action, ENROLLMENT, "userAction=viewedTracker")
                .await
                .unwrap(),
            ActionOutcome::Recorded {
                enquiry_id: enquiry_id.clone()
            }
        );
    }
    let events = store.partner_events_of(&enquiry_id).await.unwrap();
    let actions: Vec<Option<&str>> = events.iter().map(|e| e.action.as_deref()).collect();
    assert_eq!(
        actions,
        [None, Some("userAction=viewedTracker")],
        "the enrollment, then the action once"
    );
    assert_eq!(
        store
            .record_partner_action(
                "another-site",
                &action,
                ENROLLMENT,
                "userAction=viewedTracker"
            )
            .await
            .unwrap(),
        ActionOutcome::UnknownPatient,
        "an enrollment belongs to its site"
    );
}
on_both_databases!(a_user_action_is_recorded_once_against_the_latest_enrollment);

// --- The webhooks over HTTP, as HelpAround would send them. ---

use enquiry_relay::config::PartnerAuth;
use enquiry_relay::partners::webhook_auth::sign;
use enquiry_relay::sandbox::Faults;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{AppOptions, TestApp, TestSandbox, field};

const EXAMPLE: &str = include_str!("../../src/partners/helparound/examples/enrollment.json");
const ACTION: &str = include_str!("../../src/partners/helparound/examples/user_action.json");
const TOKEN: &str = "helparound-token-for-tests-0123456789";
/// The Standard Webhooks specification's example secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The site takes HelpAround's webhooks, authenticated as `auth` says.
fn helparound(auth: PartnerAuth) -> AppOptions {
    AppOptions::default().with(move |s| s.sites[0].partners.helparound = Some(auth.clone()))
}

fn bearer_options() -> AppOptions {
    let token = Some(SecretString::from(TOKEN));
    AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..helparound(PartnerAuth {
            token,
            signing_secret: None,
        })
    }
    .quiet()
}

fn url(app: &TestApp, route: &str) -> String {
    format!("{}/partners/helparound/{SITE}/{route}", app.address)
}

async fn post(app: &TestApp, route: &str, body: &str) -> (u16, Value) {
    let answer = (app.http.post(url(app, route)))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn the_documents_enrollment_becomes_a_care_enquiry_with_the_caregiver_enquiring(db: Db) {
    let options = crate::status::with_token(bearer_options(), "");
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    // CareHQ is down when it arrives: the answer is still 200 (stored).
    sandbox.set_faults(Faults::once(503));
    let (status, body) = post(&app, "user-enrollment", EXAMPLE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(
        body["data"]["supportProgramId"],
        "78ef982b-00ea-39c2-a875-f549c40e92ad"
    );
    assert_eq!(body["data"]["patientId"], "ha61236024160af");
    let id = body["data"]["externalId"]
        .as_str()
        .expect("our enquiry id")
        .to_owned();
    assert_eq!(app.drain().await.retrying, 1, "CareHQ was down");
    app.make_pending_due().await;
    assert_eq!(app.drain_to_rest().await.synced, 1, "delivered later");

    let received = sandbox.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(field(sent, "first_name"), Some("test"));
    assert_eq!(field(sent, "last_name"), Some("(caregiver of John Doe)"));
    assert_eq!(field(sent, "email"), Some("test@gmail.com"));
    let text = field(sent, "care_requirements").unwrap_or_default();
    for line in [
        "Patient: John Doe",
        "Caregiver relationship: Parent",
        "Best time to call: Morning",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(
        !text.contains("ds43") && !text.contains("85219935"),
        "insurance or signature sent:\n{text}"
    );

    // The same event again: the same answer, nothing new stored.
    let (status, again) = post(&app, "user-enrollment", EXAMPLE).await;
    assert_eq!(
        (status, again["data"]["externalId"].as_str()),
        (200, Some(id.as_str()))
    );
    assert_eq!(app.drain().await, Default::default(), "nothing new to send");

    // The user action (patient beside event) is recorded against it.
    let (status, body) = post(&app, "user-action", ACTION).await;
    assert_eq!(
        (status, body["data"]["externalId"].as_str()),
        (200, Some(id.as_str())),
        "{body}"
    );
    let events = app
        .store
        .partner_events_of(&id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        events.last().and_then(|e| e.action.as_deref()),
        Some("userAction=viewedTracker")
    );
    // Staff see both in the console.
    let staff = crate::staff::Staff::sign_in(&app).await;
    let page = staff.page(&format!("/staff/enquiries/{id}")).await;
    assert!(
        page.contains("HelpAround.Patient.CompleteEnrollment")
            && page
                .contains("HelpAround.Patient.UserAction.ViewedTracker (userAction=viewedTracker)"),
        "{page}"
    );
    app.stop().await;
}
on_both_databases!(the_documents_enrollment_becomes_a_care_enquiry_with_the_caregiver_enquiring);

async fn ten_concurrent_posts_of_one_enrollment_are_one_enquiry_and_share_phi_false_is_held(
    db: Db,
) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db).options(bearer_options()).spawn().await
    else {
        return;
    };
    let refused_phi = EXAMPLE.replacen(
        "\"name\": \"sharePHI\",\n          \"value\": true",
        "\"name\": \"sharePHI\",\n          \"value\": false",
        1,
    );
    assert_ne!(refused_phi, EXAMPLE);
    let posts = (0..10).map(|_| post(&app, "user-enrollment", &refused_phi));
    let answers = futures_util::future::join_all(posts).await;
    let ids: std::collections::HashSet<String> = (answers.iter())
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["data"]["externalId"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one enquiry for ten posts");
    let id = ids.into_iter().next().unwrap();
    let held = app.delivery(&id).await;
    assert_eq!(
        held.status,
        DeliveryStatus::Held,
        "sharePHI refused: a person decides"
    );
    assert_eq!(app.drain().await, Default::default(), "nothing is sent");
    app.stop().await;
}
on_both_databases!(
    ten_concurrent_posts_of_one_enrollment_are_one_enquiry_and_share_phi_false_is_held
);

#[tokio::test]
async fn bad_input_and_bad_credentials_get_the_partners_shapes() {
    let (_db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(bearer_options())
        .spawn_sqlite()
        .await;

    let missing = r#"{"event": {"sendDate": "2021-08-23T08:45:24.000Z", "eventName": "HelpAround.Patient.CompleteEnrollment",
        "patient": {"id": "ha1", "phoneNumber": "+12027953213"}}}"#;
    let (status, body) = post(&app, "user-enrollment", missing).await;
    assert_eq!(status, 400);
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("event.supportProgramId") && message.contains("event.patient.firstName"),
        "{body}"
    );
    assert_eq!(body["data"]["patientId"], "ha1");
    let (status, body) = post(
        &app,
        "user-action",
        ACTION.replace("ha61236024160af", "ha-unknown").as_str(),
    )
    .await;
    assert_eq!(status, 400, "an action for a patient never enrolled");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("enrollment"),
        "{body}"
    );

    let wrong = |path: String, token: &'static str| {
        let http = app.http.clone();
        async move {
            let answer = http
                .post(path)
                .bearer_auth(token)
                .body(EXAMPLE)
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, body) = wrong(url(&app, "user-enrollment"), "not-the-token").await;
    assert_eq!(status, 401);
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("unauthorized"),
        "{body}"
    );
    // An unknown site answers exactly as a wrong token: nothing to probe.
    let (status, unknown) = wrong(
        format!(
            "{}/partners/helparound/no-such-home/user-enrollment",
            app.address
        ),
        TOKEN,
    )
    .await;
    assert_eq!((status, &unknown), (401, &body));
    assert!(sandbox.received().is_empty() && app.drain().await == Default::default());
    app.stop().await;
}

#[tokio::test]
async fn a_signed_webhook_is_checked_on_its_raw_bytes_and_its_time() {
    let signing_secret = Some(SecretString::from(SECRET));
    let options = helparound(PartnerAuth {
        token: None,
        signing_secret,
    })
    .quiet();
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;
    let key =
        enquiry_relay::partners::webhook_auth::signing_key(&SECRET.to_owned().into()).unwrap();
    let now = enquiry_relay::storage::now_ms() / 1000;
    let send = |body: String, timestamp: i64, signed_body: String| {
        let http = app.http.clone();
        let signature = sign(&key, "msg_1", timestamp, signed_body.as_bytes());
        let to = url(&app, "user-enrollment");
        async move {
            let answer = http
                .post(to)
                .header("webhook-id", "msg_1")
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    // The body exactly as signed (its own spacing), then re-serialised JSON
    // (same data, other bytes), then an old signature.
    let (status, body) = send(EXAMPLE.into(), now, EXAMPLE.into()).await;
    assert_eq!(status, 200, "{body}");
    let compact = serde_json::to_string(&serde_json::from_str::<Value>(EXAMPLE).unwrap()).unwrap();
    let (status, _) = send(compact, now, EXAMPLE.into()).await;
    assert_eq!(status, 401, "the signature is over the bytes as sent");
    let (status, body) = send(EXAMPLE.into(), now - 301, EXAMPLE.into()).await;
    assert_eq!(status, 401);
    assert!(
        body["errorMessage"].as_str().unwrap().contains("5 minutes"),
        "{body}"
    );
    app.stop().await;
}

/// Review T3-18: an enrollment re-sent under the same event key with other
/// details (a correction) is answered 409, never as a repeat, and stores
/// nothing; the same event sent again is still a repeat. The old code
/// answered the correction 200 with the first enquiry's id and dropped it.
async fn a_corrected_resend_of_an_enrollment_is_refused_with_409(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db).options(bearer_options()).spawn().await
    else {
        return;
    };
    let (status, first) = post(&app, "user-enrollment", EXAMPLE).await;
    assert_eq!(status, 200, "{first}");
    let id = first["data"]["externalId"].as_str().unwrap().to_owned();
    // The same event with other spacing: the same details, a repeat.
    let compact = serde_json::to_string(&serde_json::from_str::<Value>(EXAMPLE).unwrap()).unwrap();
    let (status, again) = post(&app, "user-enrollment", &compact).await;
    assert_eq!(
        (status, again["data"]["externalId"].as_str()),
        (200, Some(id.as_str()))
    );

    let corrected = EXAMPLE.replacen("\"firstName\": \"John\"", "\"firstName\": \"Jon\"", 1);
    assert_ne!(corrected, EXAMPLE);
    let (status, body) = post(&app, "user-enrollment", &corrected).await;
    assert_eq!(status, 409, "{body}");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("other details") && message.contains("sendDate"),
        "{body}"
    );
    assert_eq!(body["data"]["patientId"], "ha61236024160af");
    // Nothing was stored for it: one enquiry, still saying John.
    let report = app.drain_to_rest().await;
    assert_eq!(report.synced, 1);
    let (status, again) = post(&app, "user-enrollment", EXAMPLE).await;
    assert_eq!(
        (status, again["data"]["externalId"].as_str()),
        (200, Some(id.as_str()))
    );
    app.stop().await;
}
on_both_databases!(a_corrected_resend_of_an_enrollment_is_refused_with_409);

/// A wrong-token post with `n` bytes of body; its status.
async fn unauthenticated(app: &TestApp, n: usize) -> reqwest::Response {
    (app.http.post(url(app, "user-enrollment")))
        .bearer_auth("not-the-partners-token")
        .header("content-type", "application/json")
        .body(vec![b' '; n])
        .send()
        .await
        .unwrap()
}

/// Review T3-18: refusals are judged before the body is read (a body over
/// `server.body_limit` with a wrong token is 401, not 413, which the old
/// code answered having read it), counted, and an address with ten of them
/// is answered 429 with `Retry-After`, the right token too, until the
/// window passes.
#[tokio::test]
async fn unauthenticated_posts_are_refused_unread_counted_and_limited() {
    let options = crate::status::with_token(bearer_options(), "");
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;
    let over_the_limit = unauthenticated(&app, 100 * 1024).await;
    assert_eq!(over_the_limit.status(), 401, "refused before reading");
    for n in 2..=10 {
        assert_eq!(unauthenticated(&app, 10).await.status(), 401, "refusal {n}");
    }
    let limited = unauthenticated(&app, 10).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 600, "{wait}");
    let body: Value = limited.json().await.unwrap();
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("too many unauthorized requests"),
        "{body}"
    );
    let (status, _) = post(&app, "user-enrollment", EXAMPLE).await;
    assert_eq!(status, 429, "shut out whatever it sends");

    let metrics = (app.http.get(format!("{}/metrics", app.address)))
        .bearer_auth(crate::status::TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = crate::metrics::parse(&metrics);
    let counted = |outcome: &str| {
        samples.iter().any(|(name, labels, value)| {
            name == "enquiry_relay_partner_webhooks_total"
                && *value > 0.0
                && [("site", SITE), ("outcome", outcome)]
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    };
    assert!(counted("unauthorized") && counted("throttled"), "{metrics}");
    app.stop().await;
}

/// Review T3-18: a flood of unauthenticated posts leaves no client address
/// and no line per refusal in the real binary's log at the default level:
/// one warning when the address is shut out. The old code wrote a warning
/// with `peer=127.0.0.1` for every refusal.
#[tokio::test]
async fn refused_partner_posts_leave_no_address_and_no_line_each_in_the_log() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let options =
        AppOptions::default().site(format!("[partners.helparound]\ntoken = \"{TOKEN}\"\n"));
    let app = crate::logs::start_logged_binary(&db, &sandbox, &options, false).await;
    let client = crate::helpers::http_client();
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let answer = client
            .post(format!(
                "{}/partners/helparound/{SITE}/user-enrollment",
                app.address
            ))
            .bearer_auth("not-the-partners-token")
            .body(EXAMPLE)
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10..], [429; 5]);
    app.signal("TERM");
    let path = app.log.clone();
    let _ = app.wait_exit(Duration::from_secs(20)).await;
    let log = std::fs::read_to_string(path).unwrap();
    let refusals: Vec<&str> = (log.lines())
        .filter(|l| l.contains("partner") || l.contains("status=401") || l.contains("status=429"))
        .collect();
    assert!(
        refusals
            .iter()
            .all(|l| !l.contains("127.0.0.1") && !l.contains("peer")),
        "{refusals:#?}"
    );
    assert_eq!(refusals.len(), 1, "the one shut-out warning: {refusals:#?}");
    assert!(refusals[0].contains("refused partner webhooks"), "{log}");
}
