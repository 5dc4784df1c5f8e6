//! Home visit booking end to end: the slots offered, the 422s, and the visit
//! as a second outbox step after the enquiry (outage, refusal, crash between
//! the steps), against the sandbox on both databases.

use std::time::Duration;

use enquiry_relay::sandbox::{Faults, seed};
use enquiry_relay::storage::{ClaimScope, DeliveryStatus, DeliveryView, Store, now_ms};
use enquiry_relay::sync::DrainReport;

use crate::helpers::{
    AppOptions, BinaryApp, Db, SITE, TestApp, TestDb, TestSandbox, eventually, family, http_client,
    make_due, serve_binary,
};
use crate::on_both_databases;

/// Visits every day 09:00–17:00 in hour slots, one visit per slot; a second
/// site takes only in-person visits, a third books no visits.
pub fn visit_options(retry_schedule: Vec<Duration>) -> AppOptions {
    visit_options_in("Europe/London", retry_schedule)
}

/// The same, with the first site's home in `time_zone`.
fn visit_options_in(time_zone: &str, retry_schedule: Vec<Duration>) -> AppOptions {
    with_visits(
        AppOptions {
            retry_schedule,
            ..AppOptions::default()
        },
        time_zone,
    )
}

/// Every day of the week open 09:00–17:00, as `[sites.visits]` lines.
fn week_days() -> String {
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| format!("{d} = [\"09:00-17:00\"]\n"))
    .collect()
}

/// `options` with visits on the test site (in `time_zone`), a second site
/// offering only in-person visits and a third offering none.
pub fn with_visits(options: AppOptions, time_zone: &str) -> AppOptions {
    let days = week_days();
    let location = seed::DEMO_LOCATION;
    options.site(format!(
        "[visits]\nenabled = true\ntime_zone = \"{time_zone}\"\nslot_length = \"1h\"\nnotice = \"1h\"\n{days}"
    ))
    .config(format!(
        "[[sites]]\nslug = \"in-person-only\"\nname = \"Lea House\"\nlocation = \"{location}\"\n\
         [sites.visits]\nenabled = true\nvisit_types = [\"in_person\"]\n{days}\n\
         [[sites]]\nslug = \"no-visits\"\nname = \"Ash Lodge\"\nlocation = \"{location}\"\n"
    ))
}

/// A day relative to today in the home's zone, at `hour`: (form value, CareHQ form).
pub fn local_slot(days_from_today: i64, hour: i8) -> (String, String) {
    local_slot_in("Europe/London", days_from_today, hour)
}

fn local_slot_in(time_zone: &str, days_from_today: i64, hour: i8) -> (String, String) {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap();
    let today = jiff::Timestamp::now().to_zoned(tz).date();
    let day = today
        .checked_add(jiff::Span::new().days(days_from_today))
        .unwrap();
    (
        format!("{day}T{hour:02}:00"),
        format!("{day} {hour:02}:00:00"),
    )
}

pub fn with_visit(n: usize, value: &str, visit_type: &str) -> serde_json::Value {
    let mut body = family(n);
    body["visit_date_time"] = value.into();
    body["visit_type"] = visit_type.into();
    body
}

pub async fn posted_id(app: &TestApp, site: &str, body: &serde_json::Value) -> String {
    let response = app.post_json(site, body).await;
    assert_eq!(response.status(), 201);
    response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn step(store: &Store, enquiry_id: &str, step: &str) -> DeliveryView {
    store
        .deliveries_of(&enquiry_id.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.step_name == step)
        .unwrap_or_else(|| panic!("no {step} row for {enquiry_id}"))
}

/// Drain a quiet app until a drain claims nothing; then the enquiry's `name`
/// step, which must have reached `status`.
pub async fn drained_to_step(
    app: &TestApp,
    enquiry_id: &str,
    name: &str,
    status: DeliveryStatus,
) -> DeliveryView {
    app.drain_all().await;
    let d = step(&app.store, enquiry_id, name).await;
    assert_eq!(d.status, status, "the {name} step of {enquiry_id}");
    d
}

const TOKYO: &str = "Asia/Tokyo";

pub async fn slot_values(app: &TestApp, site: &str) -> Vec<String> {
    slot_list(app, site, "value").await
}

/// Each slot's ISO 8601 start, with the offset in force then.
async fn slot_starts(app: &TestApp, site: &str) -> Vec<String> {
    slot_list(app, site, "start").await
}

async fn slot_list(app: &TestApp, site: &str, key: &str) -> Vec<String> {
    let answer: serde_json::Value = app
        .http
        .get(format!("{}/forms/{site}/visit-slots", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[key].as_str().unwrap().to_owned())
        .collect()
}

async fn an_enquiry_with_a_visit_arrives_then_the_visit_linked_to_it(db: Db) {
    // A home nine hours ahead of UTC all year: a time sent in UTC (or in the
    // server's zone) instead of the home's wall clock cannot pass unnoticed.
    let options = visit_options_in(TOKYO, vec![Duration::from_millis(200)]);
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(options.quiet()).spawn().await
    else {
        return;
    };
    let (value, carehq_time) = local_slot_in(TOKYO, 1, 10);
    let utc = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &carehq_time)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get(TOKYO).unwrap())
        .unwrap()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_ne!(utc, carehq_time, "the test tells local from UTC");
    assert!(slot_values(&app, SITE).await.contains(&value));
    assert!(
        slot_starts(&app, SITE)
            .await
            .contains(&format!("{value}:00+09:00")),
        "slots state the home's offset"
    );

    let id = posted_id(&app, SITE, &with_visit(1, &value, "virtual")).await;

    let visit_row = drained_to_step(&app, &id, "home_visit", DeliveryStatus::Synced).await;
    let enquiry_row = step(&app.store, &id, "enquiry").await;
    assert_eq!(enquiry_row.status, DeliveryStatus::Synced);
    let enquiries = sandbox.received();
    assert_eq!(enquiries.len(), 1);
    let visits = sandbox.sandbox.received_visits();
    assert_eq!(visits.len(), 1);
    let visit = &visits[0];
    assert_eq!(visit.care_enquiry, enquiries[0].id);
    assert_eq!(
        enquiry_row.remote_id.as_deref(),
        Some(enquiries[0].id.as_str())
    );
    assert_eq!(visit_row.remote_id.as_deref(), Some(visit.id.as_str()));
    assert_eq!(
        visit.date_time, carehq_time,
        "CareHQ gets the home's wall-clock time, not UTC ({utc})"
    );
    assert_eq!(visit.visit_type.as_deref(), Some("virtual"));
    assert_eq!(visit.host.as_deref(), Some("manager"));
    assert!(visit.notes.contains("Respite care from 1 March"));
    assert!(
        !enquiries[0]
            .fields
            .iter()
            .any(|(_, v)| v.contains(&value) || v.contains("virtual")),
        "the visit fields are not appended to the enquiry's message"
    );
    // The slot is taken (capacity 1): no longer offered, and a second booking is refused.
    assert!(!slot_values(&app, SITE).await.contains(&value));
    let again = app
        .post_json(SITE, &with_visit(2, &value, "in_person"))
        .await;
    assert_eq!(again.status(), 422);
    let body: serde_json::Value = again.json().await.unwrap();
    assert!(body["fields"]["visit_date_time"].is_array(), "{body}");
    app.stop().await;
}
on_both_databases!(an_enquiry_with_a_visit_arrives_then_the_visit_linked_to_it);

async fn visit_requests_outside_the_rules_are_422_naming_the_field(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(visit_options(vec![Duration::from_millis(200)]))
        .spawn()
        .await
    else {
        return;
    };
    let cases = [
        (SITE, local_slot(1, 20).0, "in_person", "visit_date_time"),
        (SITE, local_slot(-1, 10).0, "in_person", "visit_date_time"),
        (
            SITE,
            "next tuesday".to_owned(),
            "in_person",
            "visit_date_time",
        ),
        (SITE, local_slot(1, 10).0, "helicopter", "visit_type"),
        (
            "in-person-only",
            local_slot(1, 10).0,
            "virtual",
            "visit_type",
        ),
        (
            "no-visits",
            local_slot(1, 10).0,
            "in_person",
            "visit_date_time",
        ),
    ];
    for (n, (site, value, visit_type, field)) in cases.into_iter().enumerate() {
        let response = app
            .post_json(site, &with_visit(n, &value, visit_type))
            .await;
        assert_eq!(response.status(), 422, "{site} {value} {visit_type}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["fields"][field].is_array(), "{site} {value}: {body}");
    }
    // A browser gets the form again with the message.
    let page = app
        .post_form(
            SITE,
            &[
                ("name", "Sam Taylor"),
                ("email", "sam@example.com"),
                ("visit_date_time", &local_slot(1, 20).0),
            ],
        )
        .await;
    assert_eq!(page.status(), 422);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("outside visiting hours")
    );
    // The hosted form offers the open slots as a plain select; a site without visits does not.
    let form = |site: &'static str| {
        let http = app.http.clone();
        let url = format!("{}/forms/{site}", app.address);
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let with_slots = form(SITE).await;
    assert!(with_slots.contains(r#"<select id="visit_date_time" name="visit_date_time""#));
    // Grouped by day, each option showing its time alone.
    let tomorrow_10 = local_slot(1, 10).0;
    assert!(
        with_slots.contains(&format!(r#"<option value="{tomorrow_10}">10:00</option>"#)),
        "{with_slots}"
    );
    let tomorrow = jiff::civil::Date::strptime("%Y-%m-%d", &tomorrow_10[..10]).unwrap();
    let day_label = tomorrow.strftime("%A %-d %B %Y").to_string();
    assert!(
        with_slots.contains(&format!(r#"<optgroup label="{day_label}">"#)),
        "{with_slots}"
    );
    assert!(!form("no-visits").await.contains("visit_date_time"));
    let not_offered = app
        .http
        .get(format!("{}/forms/no-visits/visit-slots", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(not_offered.status(), 404);
    assert_eq!(
        app.store
            .count_by_status()
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>(),
        0,
        "nothing was stored"
    );
    // The hosted form always posts its type select: without a time, no visit is booked.
    let no_visit = posted_id(&app, SITE, &with_visit(9, "", "in_person")).await;
    let steps: Vec<&str> = app
        .store
        .deliveries_of(&no_visit.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.step.as_str())
        .collect();
    assert_eq!(steps, ["enquiry"]);
    app.stop().await;
}
on_both_databases!(visit_requests_outside_the_rules_are_422_naming_the_field);

async fn an_outage_between_the_steps_delays_only_the_visit(db: Db) {
    // Retries an hour apart: after each 503 nothing is due until the test
    // makes it so.
    let options = visit_options(vec![Duration::from_secs(3600); 3]).quiet();
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            status: Some(503),
            status_times: Some(2),
            status_path: Some("home-visits".into()),
            ..Faults::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(
        &app,
        SITE,
        &with_visit(3, &local_slot(2, 14).0, "in_person"),
    )
    .await;

    let first = app.drain_all().await;
    assert_eq!((first.synced, first.retrying), (1, 1), "{first:?}");
    for _ in 0..2 {
        assert_eq!(
            step(&app.store, &id, "home_visit").await.status,
            DeliveryStatus::Pending
        );
        app.make_pending_due().await;
        let again = app.drain_all().await;
        assert_eq!(
            again.synced + again.retrying,
            1,
            "only the visit: {again:?}"
        );
    }
    let visit_row = step(&app.store, &id, "home_visit").await;
    assert_eq!(visit_row.status, DeliveryStatus::Synced, "{visit_row:?}");
    assert_eq!(visit_row.attempts, 3, "two 503s, then the visit");
    let enquiry_row = step(&app.store, &id, "enquiry").await;
    assert_eq!(
        (enquiry_row.status.as_str(), enquiry_row.attempts),
        ("synced", 1)
    );
    assert_eq!(sandbox.received().len(), 1);
    assert_eq!(sandbox.sandbox.received_visits().len(), 1);
    app.stop().await;
}
on_both_databases!(an_outage_between_the_steps_delays_only_the_visit);

async fn a_400_on_the_visit_fails_only_the_visit(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            status: Some(400),
            status_path: Some("home-visits".into()),
            ..Faults::default()
        })
        // Retries an hour away: a row falls due only when the test says so.
        .options(visit_options(vec![Duration::from_secs(3600)]).quiet())
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(
        &app,
        SITE,
        &with_visit(4, &local_slot(2, 15).0, "in_person"),
    )
    .await;

    let visit_row = drained_to_step(&app, &id, "home_visit", DeliveryStatus::Failed).await;
    assert!(visit_row.last_error.is_some());
    let attempts = app.store.attempts_of(&visit_row.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].http_status, Some(400));
    let enquiry_row = step(&app.store, &id, "enquiry").await;
    assert_eq!(enquiry_row.status, DeliveryStatus::Synced);
    assert_eq!(sandbox.received().len(), 1);
    assert!(sandbox.sandbox.received_visits().is_empty());
    app.stop().await;
}
on_both_databases!(a_400_on_the_visit_fails_only_the_visit);

/// A key without "Home visits > Create" refuses the visit (403) and pauses
/// delivery; the pause probe then tries another row first, so a family who
/// asked no visit still reaches CareHQ. (The probe used to pick the row that
/// caused the pause, again and again, and nothing else was sent.)
async fn the_pause_probe_tries_another_row_than_the_one_that_caused_it(db: Db) {
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults {
            status: Some(403),
            status_path: Some("home-visits".into()),
            ..Faults::default()
        })
        .options(visit_options(vec![Duration::from_millis(200)]).quiet())
        .spawn()
        .await
    else {
        return;
    };
    let with_a_visit = posted_id(
        &app,
        SITE,
        &with_visit(4, &local_slot(2, 15).0, "in_person"),
    )
    .await;
    // One pass: the enquiry is sent, then its visit, which meets the 403.
    let report = app.drain().await;
    assert_eq!((report.synced, report.deferred), (1, 1), "{report:?}");
    assert_eq!(
        step(&app.store, &with_a_visit, "enquiry").await.status,
        DeliveryStatus::Synced
    );
    let state = app.store.delivery_state("default").await.unwrap();
    assert_eq!(
        state.paused_status,
        Some(403),
        "the visit's 403 pauses delivery"
    );

    // Both due: the next pass's one probe is the plain enquiry, not the
    // refused visit.
    let plain = posted_id(&app, SITE, &crate::helpers::family(5)).await;
    app.make_pending_due().await;
    app.drain().await;
    let plain_row = step(&app.store, &plain, "enquiry").await;
    assert_eq!(plain_row.status, DeliveryStatus::Synced, "{plain_row:?}");
    assert_eq!(sandbox.received().len(), 2);
    let visit_row = step(&app.store, &with_a_visit, "home_visit").await;
    assert_ne!(
        visit_row.status,
        DeliveryStatus::Failed,
        "a 403 never fails a row: {visit_row:?}"
    );
    // The first probe went to the plain enquiry: the refused visit was tried
    // again only after it (once delivery had resumed), never before.
    let sent = app.store.attempts_of(&plain_row.id).await.unwrap();
    let probed_at = sent.last().map(|a| a.started_at).unwrap_or_default();
    let visit_tries = app.store.attempts_of(&visit_row.id).await.unwrap();
    assert!(
        visit_tries.iter().skip(1).all(|a| a.started_at > probed_at),
        "the probe tried the refused visit first: {visit_tries:?} then {sent:?}"
    );
    app.stop().await;
}
on_both_databases!(the_pause_probe_tries_another_row_than_the_one_that_caused_it);

async fn a_crash_between_the_steps_leaves_the_visit_pending_and_it_is_sent_once(db: Db) {
    // The first visit send gets a 503, so the visit is pending (due in ~2 s)
    // when the service stops, with the enquiry already synced.
    let quiet = visit_options(vec![Duration::from_secs(2), Duration::from_secs(2)]).quiet();
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .faults(Faults::once(503).only_on("home-visits"))
        .options(quiet.clone())
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(
        &app,
        SITE,
        &with_visit(5, &local_slot(3, 11).0, "in_person"),
    )
    .await;
    // The enquiry, then its visit (which meets the 503); nothing else is due.
    let mut drained = DrainReport::default();
    while drained.synced + drained.retrying < 2 {
        let report = app.drain().await;
        assert_ne!(report, DrainReport::default(), "stalled at {drained:?}");
        drained.synced += report.synced;
        drained.retrying += report.retrying;
    }
    assert_eq!(app.drain().await, DrainReport::default());
    let pending = step(&app.store, &id, "home_visit").await;
    assert_eq!(pending.status, DeliveryStatus::Pending, "{pending:?}");
    assert_eq!(pending.attempts, 1);
    assert_eq!(
        step(&app.store, &id, "enquiry").await.status,
        DeliveryStatus::Synced
    );
    app.stop().await;

    // The visit's retry falls due; a worker claims it and dies mid-send.
    make_due(&db.url, "pending").await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let claimed = store
        .claim_due(
            "crashed-worker",
            Duration::from_secs(3600),
            10,
            &[],
            ClaimScope::ALL,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "the visit, due once its retry time came");
    assert_eq!(claimed[0].step.as_str(), "home_visit");
    store.close().await;

    let app = TestApp::spawn(&db, &sandbox.url, &quiet).await;
    // While the crashed worker's lease runs, nobody else sends the visit.
    assert_eq!(
        app.drain().await,
        DrainReport::default(),
        "claimed under a live lease"
    );
    // The lease runs out: the visit is claimed again and sent; then a second
    // drain, with every pending row due, claims nothing.
    make_due(&db.url, "sending").await;
    let report = app.drain().await;
    assert_eq!(report.synced, 1, "{report:?}");
    app.make_pending_due().await;
    assert_eq!(app.drain().await, DrainReport::default());
    let visit_row = step(&app.store, &id, "home_visit").await;
    assert_eq!(visit_row.status, DeliveryStatus::Synced, "{visit_row:?}");
    assert!(visit_row.ambiguous >= 1, "the lost send is counted");
    let visits = sandbox.sandbox.received_visits();
    assert_eq!(visits.len(), 1, "sent once");
    assert_eq!(
        sandbox.received().len(),
        1,
        "the enquiry was not sent again"
    );
    assert_eq!(visits[0].care_enquiry, sandbox.received()[0].id);
    app.stop().await;
}
on_both_databases!(a_crash_between_the_steps_leaves_the_visit_pending_and_it_is_sent_once);

/// The real binary is killed (SIGKILL) after the enquiry has synced and
/// before the visit is sent: the first visit send got a 503, so the visit is
/// pending, waiting for its retry, with nothing in flight. After a restart
/// the visit is sent exactly once and the enquiry is not sent again.
async fn sigkill_between_the_steps_then_restart_sends_the_visit_exactly_once(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults::once(503).only_on("home-visits"));
    // The retry falls due 4–6 s after the 503: long after the kill.
    let options = visit_options(vec![Duration::from_secs(5), Duration::from_secs(5)]);
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let (config, port) = (app.config.clone(), app.port);
    let response = http_client()
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&with_visit(6, &local_slot(3, 13).0, "in_person"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = Store::connect(&db.url, 2).await.unwrap();
    eventually(Duration::from_secs(20), || async {
        let d = step(&store, &id, "home_visit").await;
        (d.status == DeliveryStatus::Pending && d.attempts == 1).then_some(())
    })
    .await
    .expect("the visit waits for its retry after the 503");

    app.signal("KILL");
    let _ = app.wait_exit(Duration::from_secs(10)).await;
    let at_kill = step(&store, &id, "home_visit").await;
    assert_eq!((at_kill.status.as_str(), at_kill.attempts), ("pending", 1));
    assert_eq!(
        step(&store, &id, "enquiry").await.status,
        DeliveryStatus::Synced
    );
    assert!(sandbox.sandbox.received_visits().is_empty());

    let mut app = BinaryApp::start(&config, port, db.dir.path()).await;
    let visit_row = eventually(Duration::from_secs(30), || async {
        let d = step(&store, &id, "home_visit").await;
        (d.status == DeliveryStatus::Synced).then_some(d)
    })
    .await
    .unwrap_or_else(|| panic!("the visit was not sent after restart:\n{}", app.log_text()));
    // A 5xx may have created the visit, so the 503 counts as ambiguous; the
    // send after the restart does not (no lease expired: nothing was in flight).
    assert_eq!(
        (visit_row.attempts, visit_row.ambiguous),
        (2, at_kill.ambiguous),
        "the 503, then one send after restart"
    );
    // Stopped, it sends nothing more: a second send would be counted now.
    app.stop().await;
    let visits = sandbox.sandbox.received_visits();
    assert_eq!(visits.len(), 1, "sent exactly once");
    let enquiries = sandbox.received();
    assert_eq!(enquiries.len(), 1, "the enquiry was not sent again");
    assert_eq!(visits[0].care_enquiry, enquiries[0].id);
    assert_eq!(visit_row.remote_id.as_deref(), Some(visits[0].id.as_str()));
    store.close().await;
    drop(app);
}
on_both_databases!(sigkill_between_the_steps_then_restart_sends_the_visit_exactly_once);

async fn concurrent_bookings_never_overfill_a_slot(db: Db) {
    use enquiry_relay::storage::{EnquiryId, InsertOutcome, NewEnquiry, NewVisit, VisitInsert};
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = Store::connect(&db.url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let slot_at = now_ms() + 86_400_000;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            let id = uuid::Uuid::now_v7().to_string();
            let new = NewEnquiry {
                id: EnquiryId::from_stored(id),
                site: SITE.into(),
                payload: "{}".into(),
                spam_verdict: enquiry_relay::spam::SpamVerdict::Clean,
                idempotency_key: None,
                fingerprint: None,
                held: false,
                consent: None,
                partner_event: None,
                destinations: Vec::new(),
                intake: None,
            };
            let visit = NewVisit {
                slot_at,
                local_time: "2030-01-01 10:00:00",
                time_zone: "Europe/London",
                visit_type: "in_person",
                capacity: 3,
            };
            store.insert_enquiry_with_visit(&new, &visit).await.unwrap()
        });
    }
    let outcomes = tasks.join_all().await;
    let stored = outcomes
        .iter()
        .filter(|o| **o == VisitInsert::Stored(InsertOutcome::Created))
        .count();
    let full = outcomes
        .iter()
        .filter(|o| **o == VisitInsert::SlotFull)
        .count();
    assert_eq!((stored, full), (3, 7));
    assert_eq!(
        store.taken_slots(SITE, slot_at, slot_at).await.unwrap(),
        [(slot_at, 3)]
    );
    store.close().await;
}
on_both_databases!(concurrent_bookings_never_overfill_a_slot);

async fn a_visit_whose_time_passed_before_its_enquiry_synced_is_not_sent(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(visit_options(vec![Duration::from_millis(200)]).quiet())
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(Faults::once(400).only_on("care-enquiries"));
    let id = posted_id(
        &app,
        SITE,
        &with_visit(1, &local_slot(2, 15).0, "in_person"),
    )
    .await;
    assert_eq!(app.drain_all().await.failed, 1);
    assert_eq!(
        step(&app.store, &id, "enquiry").await.status,
        DeliveryStatus::Failed
    );

    // Days go by before staff retry the enquiry: the chosen slot is now past.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE visit_requests SET slot_at = $1 WHERE enquiry_id = $2")
        .bind(now_ms() - 60 * 60 * 1000)
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        app.store.retry_failed(&id.parse().unwrap()).await.unwrap(),
        1
    );

    let report = app.drain_all().await;
    assert_eq!((report.synced, report.failed), (1, 1), "{report:?}");
    assert_eq!(
        step(&app.store, &id, "enquiry").await.status,
        DeliveryStatus::Synced
    );
    let visit = step(&app.store, &id, "home_visit").await;
    assert_eq!(visit.status, DeliveryStatus::Failed, "{visit:?}");
    let error = visit.last_error.unwrap_or_default();
    assert!(
        error.contains("the chosen time has passed; call the family"),
        "{error}"
    );
    assert_eq!(sandbox.received().len(), 1, "the enquiry itself went");
    assert!(
        sandbox.sandbox.received_visits().is_empty(),
        "no visit booked in the past"
    );
    app.stop().await;
}
on_both_databases!(a_visit_whose_time_passed_before_its_enquiry_synced_is_not_sent);
