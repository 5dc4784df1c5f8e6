//! A site's `also_send_to` FHIR destination, on the project's FHIR sandbox
//! over loopback: each enquiry is a step of its own beside the CareHQ one,
//! and a failure of either never undoes or holds back the other.

use std::time::Duration;

use enquiry_relay::fhir::IDENTIFIER_SYSTEM;
use enquiry_relay::fhir_sandbox::{
    self, DISCOVERY_PATH, Faults, FhirSandbox, FhirSandboxConfig, OPENID_CONFIGURATION_PATH, seed,
};
use tokio_util::sync::CancellationToken;

use crate::admin::{cli, default_config};
use crate::alerts::receiver;
use crate::helpers::{AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, posted_id};
use crate::on_both_databases;
use crate::status::{TOKEN, status};
use crate::visits::{self, with_visit};

/// A FHIR sandbox on 127.0.0.1:0 and its base URL.
pub(crate) async fn fhir() -> (FhirSandbox, String, CancellationToken) {
    fhir_with(FhirSandboxConfig::default()).await
}

async fn fhir_with(config: FhirSandboxConfig) -> (FhirSandbox, String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = FhirSandbox::new(config);
    let stop = CancellationToken::new();
    tokio::spawn(fhir_sandbox::serve(
        listener,
        sandbox.clone(),
        stop.clone().cancelled_owned(),
    ));
    (sandbox, base, stop)
}

/// CareHQ's sandbox, the FHIR sandbox, and a quiet app sending to both.
struct Both {
    app: TestApp,
    carehq: TestSandbox,
    records: FhirSandbox,
    _stop: CancellationToken,
}

/// The fixture on a database of `kind` (`None`: that kind is not here).
async fn both(kind: Db) -> Option<(TestDb, Both)> {
    let (records, base, _stop) = fhir().await;
    let options = with_destination(&base, seed::CLIENT_SECRET);
    let (db, carehq, app) = TestApp::builder(kind).options(options).spawn().await?;
    let both = Both {
        app,
        carehq,
        records,
        _stop,
    };
    Some((db, both))
}

pub(crate) fn with_destination(base: &str, client_secret: &str) -> AppOptions {
    AppOptions {
        // One retry an hour away: nothing falls due by itself in the test.
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    }
    .site("also_send_to = [\"records\"]")
    .config(format!(
        "[[destinations]]\nname = \"records\"\nkind = \"fhir\"\n\
         discovery_url = \"{base}{DISCOVERY_PATH}\"\nsso_discovery_url = \"{base}{OPENID_CONFIGURATION_PATH}\"\n\
         client_id = \"{}\"\nclient_secret = \"{client_secret}\"\nsite_id = \"{}\"\n",
        seed::CLIENT_ID,
        seed::SITE_ID,
    ))
    .quiet()
}

async fn step(app: &TestApp, id: &str, step: &str) -> (String, i64) {
    let deliveries = app.store.deliveries_of(&id.parse().unwrap()).await.unwrap();
    let d = (deliveries.iter())
        .find(|d| {
            d.step.as_str() == step
                || (step.starts_with("destination") && d.step.as_str() == "destination")
        })
        .unwrap_or_else(|| panic!("no {step} step"));
    (d.status.as_str().to_owned(), d.attempts)
}

async fn each_enquiry_reaches_carehq_and_the_fhir_destination_apart(db: Db) {
    let Some((
        _db,
        Both {
            app,
            carehq,
            records,
            _stop,
        },
    )) = both(db).await
    else {
        return;
    };

    let first = posted_id(&app, 1).await;
    assert_eq!(
        app.drain().await.synced,
        2,
        "the CareHQ step and the destination step"
    );
    assert_eq!(carehq.received().len(), 1);
    assert_eq!(records.enquiry_count(), 1);
    let bundle = records.accepted_bundles()[0].bundle.to_string();
    assert!(
        bundle.contains("O'Brien 1") && bundle.contains(&first),
        "{bundle}"
    );
    assert_eq!(step(&app, &first, "destination:records").await.0, "synced");

    // The destination is down: CareHQ still gets the next enquiry, and the
    // destination's step waits for its own retry.
    records.set_faults(Faults {
        status: Some(503),
        status_path: Some("care-enquiries".into()),
        ..Faults::default()
    });
    let second = posted_id(&app, 2).await;
    let report = app.drain().await;
    assert_eq!((report.synced, report.retrying), (1, 1), "{report:?}");
    assert_eq!(carehq.received().len(), 2);
    assert_eq!(step(&app, &second, "enquiry").await.0, "synced");
    assert_eq!(
        step(&app, &second, "destination:records").await,
        ("pending".to_owned(), 1)
    );
    records.set_faults(Faults::default());
    app.make_pending_due().await;
    assert_eq!(app.drain().await.synced, 1);
    assert_eq!(records.enquiry_count(), 2);
    assert_eq!(
        carehq.received().len(),
        2,
        "CareHQ is not sent the enquiry again"
    );
    assert_eq!(records.tokens_issued(), 1, "the token is reused");
    app.stop().await;
}
on_both_databases!(each_enquiry_reaches_carehq_and_the_fhir_destination_apart);

async fn refused_destination_credentials_pause_only_that_destination(db: Db) {
    let carehq = TestSandbox::start().await;
    let (records, base, _stop) = fhir().await;
    let (hook, inbox) = receiver().await;
    let options = with_destination(&base, "not-the-secret").config(format!(
        "[staff]\ntoken = \"{TOKEN}\"\n[alerts]\nwebhook_url = \"{hook}\"\n"
    ));
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&carehq.url)
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 3).await;
    app.drain().await;
    assert_eq!(carehq.received().len(), 1, "CareHQ is delivered to");
    assert_eq!(step(&app, &id, "enquiry").await.0, "synced");
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("pending".to_owned(), 0),
        "paused, no attempt spent"
    );
    let state = app
        .store
        .delivery_state("destination:records")
        .await
        .unwrap();
    assert!(state.is_paused(), "{state:?}");
    assert!(state.paused_reason.unwrap().contains("client_secret"));
    assert!(
        !app.store
            .delivery_state("default")
            .await
            .unwrap()
            .is_paused()
    );
    assert_eq!(records.enquiry_count(), 0);

    // Staff see it: /status names the destination, an alert says so.
    let (code, body) = status(&app).await;
    assert_eq!(code, 503);
    assert_eq!(body["destinations"]["records"]["paused"]["paused"], true);
    assert_eq!(body["accounts"]["default"]["paused"]["paused"], false);
    let problems = body["problems"].to_string();
    assert!(
        problems.contains("delivery to destination records is paused"),
        "{problems}"
    );
    app.check_alerts().await;
    let alerts = inbox.lock().unwrap().clone();
    let paused: Vec<_> = alerts.iter().filter(|m| m["kind"] == "paused").collect();
    assert_eq!(paused.len(), 1, "{alerts:?}");
    assert_eq!(paused[0]["destination"], "records");
    assert_eq!(
        paused[0]["title"],
        "Delivery to destination records is paused"
    );
    app.stop().await;
}
on_both_databases!(refused_destination_credentials_pause_only_that_destination);

/// Tokens: one for many sends; fetched again when it is about to expire
/// (here it lives shorter than the client's one-minute margin); a 401
/// (revoked early) renews it once and the Bundle goes through.
async fn tokens_are_reused_renewed_near_expiry_and_after_a_401(db: Db) {
    let carehq = TestSandbox::start().await;
    let short = FhirSandboxConfig {
        token_expires_in: std::time::Duration::from_secs(30),
        ..FhirSandboxConfig::default()
    };
    let (records, base, _stop) = fhir_with(short).await;
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .carehq(carehq.url.clone())
        .options(with_destination(&base, seed::CLIENT_SECRET))
        .spawn()
        .await
    else {
        return;
    };
    posted_id(&app, 1).await;
    posted_id(&app, 2).await;
    app.drain().await;
    assert_eq!(records.enquiry_count(), 2);
    assert_eq!(
        records.tokens_issued(),
        2,
        "a token near its end is not used again"
    );
    app.stop().await;

    let (records, base, _stop) = fhir().await;
    let app = TestApp::spawn(
        &db,
        &carehq.url,
        &with_destination(&base, seed::CLIENT_SECRET),
    )
    .await;
    posted_id(&app, 3).await;
    app.drain().await;
    assert_eq!(records.tokens_issued(), 1);
    records.revoke_tokens();
    let before = records.request_count();
    let id = posted_id(&app, 4).await;
    app.drain().await;
    assert_eq!(records.enquiry_count(), 2);
    assert_eq!(records.tokens_issued(), 2, "one renewal after the 401");
    assert_eq!(
        records.request_count() - before,
        3,
        "the refused post, one new token, the post that went through"
    );
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("synced".to_owned(), 1)
    );
    app.stop().await;
}
on_both_databases!(tokens_are_reused_renewed_near_expiry_and_after_a_401);

/// Endpoints come from the discovery documents: moved there, the old one
/// answers 404, the step waits for its retry, and the retry finds the new one.
async fn a_moved_endpoint_is_found_again_in_the_discovery_document(db: Db) {
    let Some((
        _db,
        Both {
            app,
            carehq: _carehq,
            records,
            _stop,
        },
    )) = both(db).await
    else {
        return;
    };
    posted_id(&app, 1).await;
    app.drain().await;
    records.set_faults(Faults {
        move_endpoints: true,
        ..Faults::default()
    });
    let id = posted_id(&app, 2).await;
    app.drain().await;
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("pending".to_owned(), 1)
    );
    app.make_pending_due().await;
    app.drain().await;
    assert_eq!(step(&app, &id, "destination:records").await.0, "synced");
    assert_eq!(records.enquiry_count(), 2);
    app.stop().await;
}
on_both_databases!(a_moved_endpoint_is_found_again_in_the_discovery_document);

/// A Bundle the server refuses (an OperationOutcome) fails the FHIR step
/// only, its diagnostics kept for staff; CareHQ being down does not hold the
/// FHIR step back.
async fn a_refused_bundle_fails_only_its_step_and_carehq_down_holds_nothing_back(db: Db) {
    let Some((
        db,
        Both {
            app,
            carehq,
            records,
            _stop,
        },
    )) = both(db).await
    else {
        return;
    };
    records.set_faults(Faults {
        status: Some(422),
        status_path: Some("care-enquiries".into()),
        status_times: Some(1),
        ..Faults::default()
    });
    let refused = posted_id(&app, 1).await;
    app.drain().await;
    assert_eq!(
        step(&app, &refused, "destination:records").await.0,
        "failed"
    );
    assert_eq!(step(&app, &refused, "enquiry").await.0, "synced");
    let config = default_config(&db, &carehq.url);
    let (code, shown, _) = cli(&config, &["enquiries", "show", &refused]).await;
    assert_eq!(code, 0);
    assert!(shown.contains("(destination:records): failed"), "{shown}");
    assert!(shown.contains("422"), "{shown}");

    carehq.set_faults(enquiry_relay::sandbox::Faults {
        status: Some(503),
        ..enquiry_relay::sandbox::Faults::default()
    });
    let id = posted_id(&app, 2).await;
    app.drain().await;
    assert_eq!(step(&app, &id, "destination:records").await.0, "synced");
    assert_eq!(step(&app, &id, "enquiry").await.0, "pending");
    app.stop().await;
}
on_both_databases!(a_refused_bundle_fails_only_its_step_and_carehq_down_holds_nothing_back);

/// A visit booked in Europe/London on each side of the next clock change
/// is sent as an Appointment in UTC: 10:00 local is 10:00Z in winter and
/// 09:00Z in summer, whichever way the clocks go.
async fn a_visit_across_a_clock_change_is_sent_in_utc(db: Db) {
    let london = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let change = london
        .following(jiff::Timestamp::now())
        .next()
        .unwrap()
        .timestamp();
    let change_day = change.to_zoned(london.clone()).date();
    let day = |days: i64| {
        change_day
            .checked_add(jiff::Span::new().days(days))
            .unwrap()
    };
    let (before, after) = (day(-1), day(1));
    // Spring forward: the offset after the change is one hour (BST).
    let spring = london.to_offset(change).seconds() == 3600;
    let (before_utc, after_utc) = match spring {
        true => ("10:00:00Z", "09:00:00Z"),
        false => ("09:00:00Z", "10:00:00Z"),
    };
    let days: String = [
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
    .collect();
    let carehq = TestSandbox::start().await;
    let (records, base, _stop) = fhir().await;
    let options = with_destination(&base, seed::CLIENT_SECRET).site(format!(
        "[visits]\nenabled = true\ntime_zone = \"Europe/London\"\nslot_length = \"1h\"\n\
         notice = \"1h\"\ndays_ahead = 366\n{days}\n"
    ));
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&carehq.url)
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    for (n, date) in [(1, before), (2, after)] {
        let body = with_visit(n, &format!("{date}T10:00"), "in_person");
        visits::posted_id(&app, SITE, &body).await;
    }
    app.drain_to_rest().await;
    let bundles = records.accepted_bundles();
    assert_eq!(bundles.len(), 2);
    let start_of = |n: usize| {
        let bundle = bundles
            .iter()
            .map(|b| &b.bundle)
            .find(|b| b.to_string().contains(&format!("O'Brien {n}")))
            .unwrap();
        let entries = bundle["entry"].as_array().unwrap();
        let appointment = entries
            .iter()
            .map(|e| &e["resource"])
            .find(|r| r["resourceType"] == "Appointment")
            .unwrap_or_else(|| panic!("no Appointment in {bundle}"));
        (
            appointment["start"].as_str().unwrap().to_owned(),
            appointment["end"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(start_of(1).0, format!("{before}T{before_utc}"));
    assert_eq!(start_of(2).0, format!("{after}T{after_utc}"));
    let one_hour_later = |utc: &str| {
        utc.replacen(
            &utc[..2],
            &format!("{:02}", utc[..2].parse::<u8>().unwrap() + 1),
            1,
        )
    };
    assert_eq!(
        start_of(1).1,
        format!("{before}T{}", one_hour_later(before_utc)),
        "slot_length 1h"
    );
    app.stop().await;
}
on_both_databases!(a_visit_across_a_clock_change_is_sent_in_utc);

/// A 429 holds the step back without spending an attempt.
async fn too_many_requests_waits_without_spending_an_attempt(db: Db) {
    let Some((
        _db,
        Both {
            app,
            carehq: _carehq,
            records,
            _stop,
        },
    )) = both(db).await
    else {
        return;
    };
    records.set_faults(Faults {
        status: Some(429),
        status_path: Some("care-enquiries".into()),
        status_times: Some(1),
        ..Faults::default()
    });
    let id = posted_id(&app, 1).await;
    app.drain().await;
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("pending".to_owned(), 0)
    );
    app.make_pending_due().await;
    app.drain().await;
    assert_eq!(step(&app, &id, "destination:records").await.0, "synced");
    app.stop().await;
}
on_both_databases!(too_many_requests_waits_without_spending_an_attempt);

/// Review finding T3-2: the Bundle's answer breaks after the server stored
/// it, and the step is sent again. Every entry is a conditional create on
/// an identifier from the enquiry id, so the records system still holds one
/// Patient and one Appointment for the enquiry, not two. (Once a 2xx with a
/// lost body counts as delivered, the second drain sends nothing; the
/// counts are the same either way.)
async fn a_resend_after_a_broken_answer_makes_no_second_patient_or_appointment(db: Db) {
    let carehq = TestSandbox::start().await;
    let (records, base, _stop) = fhir().await;
    let options = visits::with_visits(
        with_destination(&base, seed::CLIENT_SECRET),
        "Europe/London",
    );
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&carehq.url)
        .options(options)
        .spawn()
        .await
    else {
        return;
    };
    records.set_faults(Faults {
        drop_after_accept: true,
        after_accept_times: Some(1),
        ..Faults::default()
    });
    let (slot, _) = visits::local_slot(2, 11);
    let id = visits::posted_id(&app, SITE, &with_visit(1, &slot, "in_person")).await;
    app.drain().await;
    assert_eq!(records.bundle_posts(), 1, "accepted, its answer broken");
    app.make_pending_due().await;
    app.drain().await;

    for (kind, value) in [
        ("Patient", format!("{id}/patient")),
        ("RelatedPerson", format!("{id}/related-person")),
        ("ServiceRequest", id.clone()),
        ("Appointment", format!("{id}/appointment")),
    ] {
        assert_eq!(records.resources(kind).len(), 1, "one {kind}");
        assert_eq!(
            records.count_with_identifier(kind, IDENTIFIER_SYSTEM, &value),
            1,
            "the {kind} has the enquiry's identifier"
        );
    }
    assert_eq!(step(&app, &id, "destination:records").await.0, "synced");
    app.stop().await;
}
on_both_databases!(a_resend_after_a_broken_answer_makes_no_second_patient_or_appointment);

/// Review T3-11: discovery documents naming plain-http endpoints on another
/// listener get nothing sent there (neither the client secret nor a
/// Bundle): the step waits for its retry and the destination is not
/// paused. The old code posted the client secret to that listener.
async fn http_endpoints_named_by_discovery_get_nothing(db: Db) {
    // A listener that only counts who connects to it.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = elsewhere.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((_connection, _)) = elsewhere.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (records, base, _stop) = fhir_with(FhirSandboxConfig {
        base_url: Some(format!("http://{address}")),
        ..FhirSandboxConfig::default()
    })
    .await;
    let carehq = TestSandbox::start().await;
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&carehq.url)
        .options(with_destination(&base, seed::CLIENT_SECRET))
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    app.drain().await;
    assert_eq!(step(&app, &id, "enquiry").await.0, "synced");
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("pending".to_owned(), 1),
        "waits for its retry"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!((records.tokens_issued(), records.enquiry_count()), (0, 0));
    let state = app
        .store
        .delivery_state("destination:records")
        .await
        .unwrap();
    assert!(!state.is_paused(), "{state:?}");
    let deliveries = app.store.deliveries_of(&id.parse().unwrap()).await.unwrap();
    let copy = (deliveries.iter())
        .find(|d| d.step_name == "destination:records")
        .unwrap();
    let why = copy.last_error.as_deref().unwrap_or_default();
    assert!(why.contains("only to https"), "{why}");
    app.stop().await;
}
on_both_databases!(http_endpoints_named_by_discovery_get_nothing);

/// Review T3-11: the SSO server's outage (503 from the token endpoint) is
/// retried later, not taken for refused credentials: no pause, no alert
/// about credentials, and the copy goes once the SSO server is back. The
/// old code paused the destination ("refused the credentials").
async fn an_sso_outage_is_retried_not_taken_for_refused_credentials(db: Db) {
    let Some((
        _db,
        Both {
            app,
            carehq: _carehq,
            records,
            _stop,
        },
    )) = both(db).await
    else {
        return;
    };
    records.set_faults(Faults {
        token_endpoint_down: true,
        ..Faults::default()
    });
    let id = posted_id(&app, 1).await;
    app.drain().await;
    assert_eq!(
        step(&app, &id, "destination:records").await,
        ("pending".to_owned(), 1),
        "an attempt spent, on the retry schedule"
    );
    let state = app
        .store
        .delivery_state("destination:records")
        .await
        .unwrap();
    assert!(!state.is_paused(), "{state:?}");
    records.set_faults(Faults::default());
    app.make_pending_due().await;
    app.drain().await;
    assert_eq!(step(&app, &id, "destination:records").await.0, "synced");
    assert_eq!(records.enquiry_count(), 1);
    app.stop().await;
}
on_both_databases!(an_sso_outage_is_retried_not_taken_for_refused_credentials);

/// Review T3-11: a token answer without `expires_in` (allowed by RFC 6749)
/// is reused for the next Bundle instead of fetching a new token for every
/// one (the old code took it as already expired).
async fn a_token_without_expires_in_is_reused(db: Db) {
    let carehq = TestSandbox::start().await;
    let (records, base, _stop) = fhir_with(FhirSandboxConfig {
        omit_expires_in: true,
        ..FhirSandboxConfig::default()
    })
    .await;
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .carehq(&carehq.url)
        .options(with_destination(&base, seed::CLIENT_SECRET))
        .spawn()
        .await
    else {
        return;
    };
    posted_id(&app, 1).await;
    posted_id(&app, 2).await;
    app.drain().await;
    assert_eq!(records.enquiry_count(), 2);
    assert_eq!(records.tokens_issued(), 1, "one token for both Bundles");
    app.stop().await;
}
on_both_databases!(a_token_without_expires_in_is_reused);
