//! The real binary as a process: the quick start, signals, crashes, and two
//! instances sharing one PostgreSQL database.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enquiry_relay::sandbox::{Faults, seed};

use crate::helpers::{
    AppOptions, BinaryApp, Db, SITE, TestDb, TestSandbox, eventually, family, field, free_port,
    http_client, serve_binary, write_config,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_start_runs_in_sandbox_mode_and_the_enquiry_arrives() {
    // A fresh directory with no config: built-in sandbox defaults.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("quick-start.log");
    let out = std::fs::File::create(&log).unwrap();
    let spawned = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
        .current_dir(dir.path())
        .env_remove("ENQUIRY_RELAY_CONFIG")
        .env("ENQUIRY_RELAY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        // A long poll: only the wake-up after the commit can deliver in time.
        .env("ENQUIRY_RELAY_SYNC__POLL_INTERVAL", "10m")
        // A person takes longer than spam.min_fill_time (3 s) to fill the
        // form in; the test need not wait that long to be one.
        .env("ENQUIRY_RELAY_SPAM__MIN_FILL_TIME", "0s")
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let app = BinaryApp {
        child,
        address: format!("http://127.0.0.1:{port}"),
        log,
        config: std::path::PathBuf::new(),
        port,
    };
    let client = http_client();
    eventually(Duration::from_secs(30), || async {
        client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await
    .expect("the service starts with no config at all");
    assert!(
        app.log_text()
            .contains(&format!("http://127.0.0.1:{port}/forms/demo")),
        "prints the form URL:\n{}",
        app.log_text()
    );

    // As a person would: open the form (it carries the time token), fill it
    // in, send it.
    let page = client
        .get(format!("{}/forms/demo", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split_once(r#"name="_t" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(t, _)| t.to_owned())
        .expect("the form carries a time token");
    let response = client
        .post(format!("{}/forms/demo", app.address))
        .form(&[
            ("_t", token.as_str()),
            ("name", "Sam Taylor"),
            ("email", "sam@example.com"),
            ("message", "Hello"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    // The worker sleeps at most 30 s between polls, so a worker that only
    // polled would deliver no sooner than 30 s after start. A correct one is
    // woken by the commit and delivers at once; 5 s after the post is slack.
    let first_poll = spawned + Duration::from_secs(30);
    let limit = first_poll
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(5));
    let arrived = eventually(limit, || async {
        let list: serde_json::Value = client
            .get(format!("{}/sandbox/_sandbox/enquiries", app.address))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        list.as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await
    .expect("the enquiry shows up in the sandbox, woken by the commit rather than a poll");
    assert!(arrived[0].to_string().contains("sam@example.com"));
    // The demo home also sends to a FHIR destination: the in-process FHIR sandbox.
    let bundles = format!("{}/fhir-sandbox/_sandbox/bundles", app.address);
    eventually(Duration::from_secs(20), || async {
        let list: serde_json::Value = client.get(&bundles).send().await.ok()?.json().await.ok()?;
        list.to_string().contains("Taylor").then_some(())
    })
    .await
    .expect("the demo home's enquiry reaches the FHIR sandbox too");
    assert!(dir.path().join("data").is_dir(), "SQLite under ./data/");
    // The page the log points at lists it too (the address ends in a slash).
    let page_url = app
        .log_text()
        .lines()
        .find_map(|l| l.split("url=").nth(1).filter(|u| u.contains("/sandbox")))
        .map(|u| u.trim().to_owned())
        .expect("the log gives the sandbox page's address");
    let page = reqwest::Client::new().get(&page_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "{page_url}");
    let page = page.text().await.unwrap();
    assert!(page.contains("sam@example.com"), "{page}");

    // The second demo home belongs to the second demo account: its enquiry
    // reaches that account's own sandbox, and only that one.
    let response = client
        .post(format!("{}/forms/{}", app.address, seed::PARTNER_SLUG))
        .json(&serde_json::json!({"first_name": "Ali", "last_name": "Khan", "email": "ali@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let partner = format!(
        "{}/sandbox-accounts/{}/_sandbox/enquiries",
        app.address,
        seed::PARTNER_ACCOUNT
    );
    let arrived = eventually(Duration::from_secs(20), || async {
        let list: serde_json::Value = client.get(&partner).send().await.ok()?.json().await.ok()?;
        list.as_array().filter(|a| !a.is_empty()).cloned()
    })
    .await
    .expect("the partner home's enquiry reaches the partner account's sandbox");
    assert!(arrived[0].to_string().contains("ali@example.com"));
    let default: serde_json::Value = client
        .get(format!("{}/sandbox/_sandbox/enquiries", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !default.to_string().contains("ali@example.com"),
        "{default}"
    );
}

/// Deliveries in each state, read from the database after the process exited.
async fn statuses(db: &TestDb) -> HashMap<String, i64> {
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let counts = store.count_by_status().await.unwrap();
    store.close().await;
    counts
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), n))
        .collect()
}

/// Three enquiries, one send at a time, CareHQ slow: `signal` lands while the
/// first is in flight. It finishes; the other two are left pending.
async fn a_signal_finishes_in_flight_sends_and_leaves_the_rest_pending(db: Db, signal: &str) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        latency_ms: 1_500,
        ..Faults::default()
    });
    let options = AppOptions::default().config("[sync]\nconcurrency = 1");
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let port = app.port;
    let client = http_client();
    for n in 0..3 {
        let response = client
            .post(format!("{}/forms/{SITE}", app.address))
            .json(&family(n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // Wait until the send is in flight (the sandbox is sleeping on it).
    eventually(Duration::from_secs(10), || async {
        (sandbox.sandbox.request_count() > 0).then_some(())
    })
    .await
    .expect("send started");

    app.signal(signal);
    let status = app.wait_exit(Duration::from_secs(15)).await;

    assert!(status.success(), "clean exit on SIG{signal}: {status:?}");
    assert_eq!(
        sandbox.received().len(),
        1,
        "the in-flight send finished before exit, and no other began"
    );
    let counts = statuses(&db).await;
    assert_eq!(counts["synced"], 1, "the outcome was recorded: {counts:?}");
    assert_eq!(
        counts["pending"], 2,
        "the queued rest stay pending: {counts:?}"
    );
    assert_eq!(counts["sending"], 0, "no lease left behind: {counts:?}");
    assert!(
        client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}

async fn sigterm_finishes_in_flight_sends_and_exits_cleanly(db: Db) {
    a_signal_finishes_in_flight_sends_and_leaves_the_rest_pending(db, "TERM").await;
}
crate::on_both_databases!(sigterm_finishes_in_flight_sends_and_exits_cleanly);

async fn sigint_finishes_in_flight_sends_like_sigterm(db: Db) {
    a_signal_finishes_in_flight_sends_and_leaves_the_rest_pending(db, "INT").await;
}
crate::on_both_databases!(sigint_finishes_in_flight_sends_like_sigterm);

async fn a_send_longer_than_the_grace_is_cut_off_and_sent_once_after_restart(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    // CareHQ takes 4 s (inside carehq.timeout, 5 s); shutdown waits only 1 s.
    sandbox.set_faults(Faults {
        latency_ms: 4_000,
        ..Faults::default()
    });
    let options = AppOptions {
        shutdown_grace: Some(Duration::from_secs(1)),
        lease: Duration::from_secs(10),
        ..AppOptions::default()
    };
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let (config, port) = (app.config.clone(), app.port);
    let client = http_client();
    let response = client
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&family(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), || async {
        (sandbox.sandbox.request_count() > 0).then_some(())
    })
    .await
    .expect("send started");

    app.signal("TERM");
    let status = app.wait_exit(Duration::from_secs(15)).await;

    assert!(status.success(), "clean exit after the grace: {status:?}");
    let counts = statuses(&db).await;
    assert_eq!(
        counts["sending"], 1,
        "the cut-off send keeps its lease: {counts:?}"
    );
    assert!(
        sandbox.received().is_empty(),
        "the cut-off send created nothing"
    );

    sandbox.set_faults(Faults::default());
    let mut app = BinaryApp::start(&config, port, db.dir.path()).await;
    sandbox.wait_for(1).await;
    let synced = eventually(Duration::from_secs(10), || async {
        let counts = statuses(&db).await;
        (counts["synced"] == 1).then_some(counts)
    })
    .await
    .expect("recorded as synced");
    assert_eq!(synced["sending"] + synced["pending"], 0, "{synced:?}");
    app.stop().await;
    assert_eq!(sandbox.received().len(), 1, "sent once after the restart");
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let delivery = store
        .deliveries_of(&id.parse().unwrap())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        delivery.ambiguous, 1,
        "the cut-off send is counted as ambiguous"
    );
    store.close().await;
    drop(app);
}
crate::on_both_databases!(a_send_longer_than_the_grace_is_cut_off_and_sent_once_after_restart);

/// SIGTERM while CareHQ (which has already created the enquiry) takes 11 s to
/// answer, with `sync.shutdown_grace` left at its default. The default waits
/// as long as `carehq.timeout` (12 s here) and a little more, so the answer is
/// recorded and nothing is sent twice; the old fixed 10 s cut it off, and the
/// re-send after the lease made a second record in CareHQ.
async fn sigterm_mid_send_waits_for_the_answer_with_the_default_grace(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        answer_delay_ms: 11_000,
        after_create_times: Some(1),
        ..Faults::default()
    });
    let options = AppOptions {
        carehq_timeout: Duration::from_secs(12),
        lease: Duration::from_secs(20),
        shutdown_grace: None,
        ..AppOptions::default()
    };
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let response = http_client()
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&family(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // CareHQ has the record; its answer is still 11 s away.
    sandbox.wait_for(1).await;

    app.signal("TERM");
    let status = app.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "clean exit: {status:?}");
    let counts = statuses(&db).await;
    assert_eq!(counts["synced"], 1, "the answer was waited for: {counts:?}");
    assert_eq!(counts["sending"], 0, "no send cut off: {counts:?}");
    assert_eq!(sandbox.received().len(), 1, "no duplicate");
}
crate::on_both_databases!(sigterm_mid_send_waits_for_the_answer_with_the_default_grace);

async fn sigkill_while_posts_stream_in_loses_no_acknowledged_enquiry(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    // CareHQ is slow, so many enquiries are still queued (or mid-send) at the kill.
    sandbox.set_faults(Faults {
        latency_ms: 100,
        ..Faults::default()
    });
    let options = AppOptions {
        retry_schedule: vec![Duration::from_millis(200); 5],
        ..AppOptions::default()
    };
    let app = serve_binary(&db, &sandbox.url, &options).await;
    let (config, port) = (app.config.clone(), app.port);

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut posters = Vec::new();
    for worker in 0..4 {
        let acked = Arc::clone(&acknowledged);
        let url = format!("{}/forms/{SITE}", app.address);
        posters.push(tokio::spawn(async move {
            let client = http_client();
            for i in 0..10_000 {
                let n = worker * 100_000 + i;
                match client.post(&url).json(&family(n)).send().await {
                    Ok(r) if r.status() == 201 => {
                        acked.lock().unwrap().push(format!("family{n}@example.com"))
                    }
                    _ => break, // the server is gone
                }
            }
        }));
    }
    eventually(Duration::from_secs(30), || async {
        (acknowledged.lock().unwrap().len() >= 60).then_some(())
    })
    .await
    .expect("posts acknowledged");
    app.signal("KILL");
    let _ = app.wait_exit(Duration::from_secs(10)).await;
    for poster in posters {
        poster.await.unwrap();
    }
    let acked: Vec<String> = acknowledged.lock().unwrap().clone();
    let delivered_before = sandbox.received().len();
    assert!(
        delivered_before < acked.len(),
        "the kill must land while enquiries are still queued"
    );

    sandbox.set_faults(Faults::default());
    let app = BinaryApp::start(&config, port, db.dir.path()).await;
    let received = eventually(Duration::from_secs(60), || async {
        let emails: HashSet<String> = sandbox
            .received()
            .iter()
            .filter_map(|r| field(r, "email").map(str::to_owned))
            .collect();
        acked.iter().all(|e| emails.contains(e)).then_some(emails)
    })
    .await;
    let received = received.unwrap_or_else(|| {
        let emails: HashSet<String> = sandbox
            .received()
            .iter()
            .filter_map(|r| field(r, "email").map(str::to_owned))
            .collect();
        let missing: Vec<_> = acked.iter().filter(|e| !emails.contains(*e)).collect();
        panic!(
            "{} of {} acknowledged enquiries never reached CareHQ: {missing:?}\n{}",
            missing.len(),
            acked.len(),
            app.log_text()
        )
    });
    assert!(received.len() >= acked.len());
    drop(app);
}
crate::on_both_databases!(sigkill_while_posts_stream_in_loses_no_acknowledged_enquiry);

/// The referrer instance B sends instead of A's, so the sandbox shows which
/// instance sent each enquiry.
const B_REFERRER: &str = "640f0f17f9b7e9ec6079fa17";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database_send_every_enquiry_exactly_once() {
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    // A slow CareHQ and two sends at a time: A alone would need seconds for the
    // queue, so B (which only polls; it is not woken by A's commits) must
    // claim rows from it while A is claiming too.
    sandbox.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let options = AppOptions::default().config("[sync]\nconcurrency = 2");
    let (port_a, port_b) = (free_port(), free_port());
    let config_a = write_config(db.dir.path(), &db.url, &sandbox.url, port_a, &options);
    let config_b = write_config(db.dir.path(), &db.url, &sandbox.url, port_b, &options);
    let b_toml = std::fs::read_to_string(&config_b)
        .unwrap()
        .replace("640f0f17f9b7e9ec6079fa16", B_REFERRER);
    std::fs::write(&config_b, b_toml).unwrap();
    let mut a = BinaryApp::start(&config_a, port_a, db.dir.path()).await;
    let mut b = BinaryApp::start(&config_b, port_b, db.dir.path()).await;

    let client = http_client();
    let total = 40;
    for n in 0..total {
        let response = client
            .post(format!("{}/forms/{SITE}", a.address))
            .json(&family(n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    sandbox.wait_for(total).await;
    a.stop().await;
    b.stop().await;
    let received = sandbox.received();
    assert_eq!(received.len(), total, "no enquiry sent twice");
    let emails: HashSet<&str> = received.iter().filter_map(|r| field(r, "email")).collect();
    assert_eq!(emails.len(), total, "every enquiry sent once");
    let by_b = received
        .iter()
        .filter(|r| field(r, "referrer") == Some(B_REFERRER))
        .count();
    assert!(
        by_b > 0 && by_b < total,
        "both instances sent some: B sent {by_b} of {total}\nA:\n{}\nB:\n{}",
        a.log_text(),
        b.log_text()
    );
}
