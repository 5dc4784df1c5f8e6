//! The real binary as a process: the quick start, signals, crashes, and two
//! instances sharing one PostgreSQL database.

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enquiry_relay::sandbox::Faults;

use crate::helpers::{
    AppOptions, BinaryApp, Db, SITE, TestDb, TestSandbox, eventually, family, field, free_port,
    http_client, write_config,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_start_runs_in_sandbox_mode_and_the_enquiry_arrives() {
    // A fresh directory with no config: built-in sandbox defaults.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("quick-start.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"))
        .current_dir(dir.path())
        .env_remove("ENQUIRY_RELAY_CONFIG")
        .env("ENQUIRY_RELAY_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let app = BinaryApp {
        child,
        address: format!("http://127.0.0.1:{port}"),
        log,
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

    // As a person would: open the form (it carries the time token), take a
    // few seconds to fill it in, send it.
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
    tokio::time::sleep(Duration::from_millis(3100)).await;
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

    let arrived = eventually(Duration::from_secs(10), || async {
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
    .expect("the enquiry shows up in the sandbox");
    assert!(arrived[0].to_string().contains("sam@example.com"));
    assert!(dir.path().join("data").is_dir(), "SQLite under ./data/");
}

async fn sigterm_finishes_in_flight_sends_and_exits_cleanly(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        latency_ms: 1_500,
        ..Faults::default()
    });
    let port = free_port();
    let config = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        port,
        &AppOptions::default(),
    );
    let app = BinaryApp::start(&config, port, db.dir.path()).await;
    let client = http_client();
    let response = client
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&family(1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // Wait until the send is in flight (the sandbox is sleeping on it).
    eventually(Duration::from_secs(10), || async {
        (sandbox.sandbox.request_count() > 0).then_some(())
    })
    .await
    .expect("send started");

    app.signal("TERM");
    let status = app.wait_exit(Duration::from_secs(15)).await;

    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert_eq!(
        sandbox.received().len(),
        1,
        "the in-flight send finished before exit"
    );
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let counts = store.count_by_status().await.unwrap();
    let synced = counts
        .iter()
        .find(|(s, _)| s.as_str() == "synced")
        .unwrap()
        .1;
    assert_eq!(synced, 1, "the outcome was recorded: {counts:?}");
    assert!(
        client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
    store.close().await;
}
crate::on_both_databases!(sigterm_finishes_in_flight_sends_and_exits_cleanly);

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
    let port = free_port();
    let options = AppOptions {
        retry_schedule: r#"["200ms", "200ms", "200ms", "200ms", "200ms"]"#,
        ..AppOptions::default()
    };
    let config = write_config(db.dir.path(), &db.url, &sandbox.url, port, &options);
    let app = BinaryApp::start(&config, port, db.dir.path()).await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_database_send_every_enquiry_exactly_once() {
    let Some(db) = TestDb::new(Db::Postgres).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    sandbox.set_faults(Faults {
        latency_ms: 20,
        ..Faults::default()
    });
    let (port_a, port_b) = (free_port(), free_port());
    let config_a = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        port_a,
        &AppOptions::default(),
    );
    let config_b = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        port_b,
        &AppOptions::default(),
    );
    let a = BinaryApp::start(&config_a, port_a, db.dir.path()).await;
    let b = BinaryApp::start(&config_b, port_b, db.dir.path()).await;

    let client = http_client();
    let total = 60;
    for n in 0..total {
        let target = if n % 2 == 0 { &a.address } else { &b.address };
        let response = client
            .post(format!("{target}/forms/{SITE}"))
            .json(&family(n))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    let received = sandbox.wait_for(total).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_now = sandbox.received();
    assert_eq!(received_now.len(), total, "no enquiry sent twice");
    let emails: HashSet<&str> = received.iter().filter_map(|r| field(r, "email")).collect();
    assert_eq!(emails.len(), total, "every enquiry sent once");
    let (log_a, log_b) = (a.log_text(), b.log_text());
    assert!(
        log_a.contains("enquiry delivered") && log_b.contains("enquiry delivered"),
        "both instances delivered some"
    );
}
