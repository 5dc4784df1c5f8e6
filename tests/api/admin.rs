//! The admin commands, run as the real binary against a populated database
//! (SQLite and PostgreSQL) while the server runs on the same database.

use std::path::{Path, PathBuf};
use std::process::Command;

use enquiry_relay::domain::{Enquiry, IntakeRules, RawSubmission};
use enquiry_relay::sandbox::{Faults, SandboxConfig, seed};
use enquiry_relay::storage::{DeliveryStatus, EnquiryId, NewEnquiry};

use crate::helpers::{
    AppOptions, Db, SITE, TestApp, TestDb, TestSandbox, family, free_port, write_config,
};
use crate::on_both_databases;
use crate::status::posted_id;

/// Run `enquiry-relay --config <config> <args>`: (exit code, stdout, stderr).
/// Runs off the async threads, so the in-process sandbox and app keep serving.
pub async fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env("NO_COLOR", "1");
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run the enquiry-relay binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A config for the admin commands: this test's database and CareHQ, defaults otherwise.
pub fn default_config(db: &TestDb, carehq_url: &str) -> PathBuf {
    write_config(
        db.dir.path(),
        &db.url,
        carehq_url,
        free_port(),
        &AppOptions::default(),
    )
}

/// Store an enquiry directly (held, or with a spam verdict), as intake would.
pub async fn insert(app: &TestApp, n: usize, held: bool, spam_verdict: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let raw = RawSubmission::from_json(&family(n)).unwrap();
    let rules = IntakeRules {
        allowed_services: &[],
        require_consent: false,
        ignored_fields: &[],
    };
    let payload = serde_json::to_string(&Enquiry::parse(&raw, &rules).unwrap()).unwrap();
    app.store
        .insert_enquiry(NewEnquiry {
            id: EnquiryId::from_stored(id.clone()),
            site: SITE.into(),
            payload,
            spam_verdict: spam_verdict.parse().expect("a spam verdict"),
            idempotency_key: None,
            fingerprint: None,
            held,
            consent: None,
            partner_event: None,
            destinations: Vec::new(),
            intake: None,
        })
        .await
        .unwrap();
    id
}

async fn admin_commands_work_beside_a_running_server(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };
    // One refused by CareHQ (failed), one delivered, one held.
    sandbox.set_faults(Faults::once(400));
    let failed = posted_id(&app, 1).await;
    app.drained_to(&failed, DeliveryStatus::Failed).await;
    let synced = posted_id(&app, 2).await;
    app.drained_to(&synced, DeliveryStatus::Synced).await;
    let held = insert(&app, 3, true, "clean").await;
    let config = default_config(&db, &sandbox.url);

    let (code, out, err) = cli(&config, &["enquiries", "list"]).await;
    assert_eq!(code, 0, "{err}");
    for id in [&failed, &synced, &held] {
        assert!(out.contains(id.as_str()), "{out}");
    }
    assert!(
        out.contains("STATUS") && out.contains("3 enquiries"),
        "{out}"
    );
    assert!(
        !out.contains("example.com"),
        "the list shows no personal data:\n{out}"
    );

    let (code, out, _) = cli(
        &config,
        &["enquiries", "list", "--status", "failed", "--since", "1d"],
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        out.contains(&failed) && !out.contains(&synced) && !out.contains(&held),
        "{out}"
    );
    let (_, out, _) = cli(&config, &["enquiries", "list", "--site", "elsewhere"]).await;
    assert!(out.contains("0 enquiries"), "{out}");
    let (code, _, err) = cli(&config, &["enquiries", "list", "--status", "lost"]).await;
    assert_eq!(code, 2, "a bad status is a usage error");
    assert!(err.contains("pending"), "{err}");
    let (code, _, _) = cli(&config, &["enquiries", "list", "--since", "a while"]).await;
    assert_eq!(code, 2);

    let (code, out, err) = cli(&config, &["enquiries", "show", &failed]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("family1@example.com"),
        "staff see the fields:\n{out}"
    );
    assert!(
        out.contains("HTTP 400") && out.contains("CareHQ:"),
        "CareHQ's answer:\n{out}"
    );
    let (code, _, err) = cli(&config, &["enquiries", "show", "no-such-id"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("enquiries list"), "{err}");

    // Retry: the running server sends it again.
    let (code, _, _) = cli(&config, &["enquiries", "retry"]).await;
    assert_eq!(code, 2, "retry needs an Id or --failed");
    let (code, out, err) = cli(&config, &["enquiries", "retry", &failed]).await;
    assert_eq!(code, 0, "{out}{err}");
    let retried = app.drained_to(&failed, DeliveryStatus::Synced).await;
    assert_eq!(
        retried.attempts, 1,
        "a fresh schedule: the counter restarted"
    );
    let attempts = app.store.attempts_of(&retried.id).await.unwrap();
    assert_eq!(attempts.len(), 2, "the refused attempt stays on record");
    let (code, _, err) = cli(&config, &["enquiries", "retry", &failed]).await;
    assert_eq!(code, 1, "nothing failed to retry: {err}");
    let (code, out, _) = cli(&config, &["enquiries", "retry", "--failed"]).await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "no failed delivery to retry");

    // Release: held → pending → delivered by the server.
    let (code, _, _) = cli(&config, &["enquiries", "release", &synced]).await;
    assert_eq!(code, 1, "not held");
    let (code, out, err) = cli(&config, &["enquiries", "release", &held]).await;
    assert_eq!(code, 0, "{out}{err}");
    app.drained_to(&held, DeliveryStatus::Synced).await;
    assert_eq!(sandbox.received().len(), 3);
    app.stop().await;
}
on_both_databases!(admin_commands_work_beside_a_running_server);

async fn retry_failed_sends_every_failed_enquiry_again(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(Faults {
        status: Some(400),
        status_times: Some(2),
        ..Faults::default()
    });
    let first = posted_id(&app, 1).await;
    app.drained_to(&first, DeliveryStatus::Failed).await;
    let second = posted_id(&app, 2).await;
    app.drained_to(&second, DeliveryStatus::Failed).await;
    assert!(sandbox.received().is_empty());
    let config = default_config(&db, &sandbox.url);

    let (code, out, err) = cli(&config, &["enquiries", "retry", "--failed"]).await;

    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("2 failed deliveries"), "{out}");
    for id in [&first, &second] {
        assert!(
            out.contains(&format!("  {id}  enquiry")),
            "each is named:\n{out}"
        );
    }
    for id in [&first, &second] {
        let delivered = app.drained_to(id, DeliveryStatus::Synced).await;
        assert_eq!(delivered.attempts, 1, "a fresh schedule");
    }
    assert_eq!(sandbox.received().len(), 2);
    let (_, out, _) = cli(&config, &["enquiries", "list", "--status", "failed"]).await;
    assert!(out.contains("0 enquiries"), "{out}");
    app.stop().await;
}
on_both_databases!(retry_failed_sends_every_failed_enquiry_again);

async fn age(db: &TestDb, days: i64) {
    let ms = days * 24 * 60 * 60 * 1000;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    for sql in [
        "UPDATE enquiries SET received_at = received_at - $1",
        "UPDATE idempotency_keys SET created_at = created_at - $1",
    ] {
        sqlx::query(sql).bind(ms).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

/// Synced after `retention.synced`, spam after `retention.spam`, held after
/// `retention.held` (scrubbed and expired: before quarantine this test
/// asserted held enquiries were never scrubbed); failed never.
async fn retention_scrubs_synced_spam_and_held_and_never_failed(db: Db) {
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };
    sandbox.set_faults(Faults::once(400));
    let failed = posted_id(&app, 1).await;
    app.drained_to(&failed, DeliveryStatus::Failed).await;
    let keyed = app
        .http
        .post(format!("{}/forms/{SITE}", app.address))
        .header("Idempotency-Key", "k-123")
        .json(&family(2))
        .send()
        .await
        .unwrap();
    let synced = keyed.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.drained_to(&synced, DeliveryStatus::Synced).await;
    // Sent, but doubted (marked, not held): kept as long as spam.
    let spam = insert(&app, 3, false, "too_fast").await;
    app.drained_to(&spam, DeliveryStatus::Synced).await;
    let held = insert(&app, 4, true, "clean").await;
    app.stop().await;
    let store = enquiry_relay::storage::Store::connect(&db.url, 2)
        .await
        .unwrap();
    let config = default_config(&db, &sandbox.url);

    // Nothing is old enough yet.
    let (code, out, err) = cli(&config, &["enquiries", "purge"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("scrubbed 0 synced and 0 spam"), "{out}");

    // Ten days on: past spam's 7 days, inside synced's 30.
    age(&db, 10).await;
    let (_, out, _) = cli(&config, &["enquiries", "purge"]).await;
    assert!(
        out.contains("scrubbed 0 synced and 1 spam") && out.contains("deleted 1 idempotency"),
        "{out}"
    );
    let record = store
        .enquiry(&spam.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(record.payload.is_none() && record.scrubbed_at.is_some());
    assert!(
        store
            .enquiry(&synced.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .payload
            .is_some()
    );

    // Forty days on: the synced one goes too, and the held one nobody
    // released (retention.held, 30 days); the failed one keeps everything.
    age(&db, 30).await;
    let (_, out, _) = cli(&config, &["enquiries", "purge"]).await;
    assert!(out.contains("scrubbed 1 synced and 0 spam"), "{out}");
    assert!(out.contains("expired 1 held"), "{out}");
    let expired = store
        .enquiry(&held.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(expired.payload.is_none() && expired.scrubbed_at.is_some());
    assert_eq!(
        store.deliveries_of(&held.parse().unwrap()).await.unwrap()[0].status,
        DeliveryStatus::Expired
    );
    let scrubbed = store
        .enquiry(&synced.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(scrubbed.payload.is_none());
    let delivery = &store.deliveries_of(&synced.parse().unwrap()).await.unwrap()[0];
    assert_eq!(
        delivery.status,
        DeliveryStatus::Synced,
        "the audit record stays"
    );
    assert!(delivery.remote_id.is_some());
    for kept in [&failed] {
        let record = store
            .enquiry(&kept.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(
            record.payload.is_some() && record.scrubbed_at.is_none(),
            "{kept} kept"
        );
    }
    let failed_delivery = &store.deliveries_of(&failed.parse().unwrap()).await.unwrap()[0];
    let hint = &store.attempts_of(&failed_delivery.id).await.unwrap()[0];
    assert!(
        hint.hint.is_some(),
        "CareHQ's answer for a failed enquiry stays"
    );
    let (_, out, _) = cli(&config, &["enquiries", "show", &synced]).await;
    assert!(
        out.contains("scrubbed") && !out.contains("example.com"),
        "{out}"
    );
    store.close().await;
}
on_both_databases!(retention_scrubs_synced_spam_and_held_and_never_failed);

async fn a_running_server_scrubs_an_aged_synced_enquiry_by_itself(db: Db) {
    let options = AppOptions::default()
        .with(|s| s.retention.interval = std::time::Duration::from_millis(200));
    let Some((db, _sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    let old = posted_id(&app, 1).await;
    app.wait_for_status(&old, DeliveryStatus::Synced).await;
    age(&db, 31).await;
    let young = posted_id(&app, 2).await;
    app.wait_for_status(&young, DeliveryStatus::Synced).await;

    // No `enquiries purge`: the server's own pass scrubs it.
    let scrubbed = crate::helpers::eventually(std::time::Duration::from_secs(15), || async {
        let record = app
            .store
            .enquiry(&old.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        record.scrubbed_at.is_some().then_some(record)
    })
    .await
    .expect("the retention job scrubbed the 31-day-old synced enquiry");
    assert!(scrubbed.payload.is_none());
    let kept = app
        .store
        .enquiry(&young.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        kept.payload.is_some() && kept.scrubbed_at.is_none(),
        "a young enquiry keeps its data"
    );
    app.stop().await;
}
on_both_databases!(a_running_server_scrubs_an_aged_synced_enquiry_by_itself);

#[tokio::test]
async fn carehq_lookups_and_check_remote_ask_the_sandbox() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let config = default_config(&db, &sandbox.url);

    let (code, out, err) = cli(&config, &["check", "--remote"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(seed::DEMO_LOCATION) && out.contains("Website"),
        "{out}"
    );
    // Each line shows CareHQ's name for the Id.
    assert!(
        out.contains(&format!("location {} = Upton Court", seed::DEMO_LOCATION)),
        "{out}"
    );
    assert!(
        out.contains("referrer 640f0f17f9b7e9ec6079fa16 = Care Directory"),
        "{out}"
    );
    assert!(
        out.contains("cannot read care enquiries") && !out.contains("warning"),
        "the sandbox's key may not read enquiries: {out}"
    );

    let (code, out, err) = cli(&config, &["carehq", "locations"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("ID") && out.contains(seed::DEMO_LOCATION),
        "{out}"
    );
    let (_, out, _) = cli(&config, &["carehq", "locations", "--toml"]).await;
    assert!(
        out.contains("[[sites]]")
            && out.contains(&format!("location = \"{}\"", seed::DEMO_LOCATION)),
        "{out}"
    );

    let (code, out, _) = cli(&config, &["carehq", "groups", "--type", "referrer"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Care Directory") && !out.contains("Website"),
        "{out}"
    );
    let (_, out, _) = cli(&config, &["carehq", "groups", "--toml"]).await;
    assert!(
        out.contains(&format!("sales_channel = \"{}\"", seed::DEMO_SALES_CHANNEL)),
        "{out}"
    );
    let (code, _, _) = cli(&config, &["carehq", "groups", "--type", "owner"]).await;
    assert_eq!(code, 2);

    // A location CareHQ does not know: exit 1, named.
    let other = db.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let unknown = AppOptions {
        site_location: "6724fbc74f73a2cebf637700".into(),
        ..AppOptions::default()
    };
    let config = write_config(&other, &db.url, &sandbox.url, free_port(), &unknown);
    let (code, out, _) = cli(&config, &["check", "--remote"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT FOUND"), "{out}");
}

/// A key that can read care enquiries passes, with a warning quoting CareHQ's
/// own advice (issue 18): a leaked key would expose every family's enquiry.
#[tokio::test]
async fn check_remote_warns_when_the_key_can_read_care_enquiries() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start_with(SandboxConfig {
        key_can_read_enquiries: true,
        ..SandboxConfig::default()
    })
    .await;
    let config = default_config(&db, &sandbox.url);
    let (code, out, err) = cli(&config, &["check", "--remote"]).await;
    assert_eq!(code, 0, "a warning, not a failure: {out}{err}");
    assert!(
        out.contains("warning: this API key can READ care enquiries")
            && out.contains("only needs to be able to create care enquiries, not read them")
            && out.contains("Care enquiries > Create, Groups > Read and Locations > Read"),
        "{out}"
    );
}

#[tokio::test]
async fn check_remote_names_a_wrong_secret_and_a_group_of_the_wrong_kind() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;

    // A wrong secret: exit 1, and words saying which keys to check.
    let wrong = db.dir.path().join("wrong");
    std::fs::create_dir_all(&wrong).unwrap();
    let bad_secret = AppOptions {
        api_secret: "not-the-secret".into(),
        ..AppOptions::default()
    };
    let config = write_config(&wrong, &db.url, &sandbox.url, free_port(), &bad_secret);
    let (code, out, err) = cli(&config, &["check", "--remote"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("refused the credentials") && err.contains("carehq.api_secret"),
        "{err}"
    );

    // A sales channel given as the referrer: known to CareHQ, but the wrong kind.
    let swapped = db.dir.path().join("swapped.toml");
    let text = std::fs::read_to_string(write_config(
        &wrong,
        &db.url,
        &sandbox.url,
        free_port(),
        &AppOptions::default(),
    ))
    .unwrap()
    .replace(
        r#"referrer = "640f0f17f9b7e9ec6079fa16""#,
        r#"referrer = "6724fbc74f73a2cebf6377eb""#,
    );
    std::fs::write(&swapped, text).unwrap();
    let (code, out, err) = cli(&swapped, &["check", "--remote"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(
            "referrer 6724fbc74f73a2cebf6377eb = Phone is a sales_channel group, NOT a referrer"
        ),
        "{out}"
    );
    assert!(
        out.contains("carehq groups --type"),
        "says what to do: {out}"
    );
}

#[tokio::test]
async fn healthcheck_exits_0_when_ready_and_1_when_not() {
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite).spawn_sqlite().await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    // The default URL comes from server.listen.
    let config = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        port,
        &AppOptions::default(),
    );
    let (code, out, _) = cli(&config, &["healthcheck"]).await;
    assert_eq!(code, 0, "{out}");

    // A server configured to listen on every address is asked on loopback
    // (this app listens on 127.0.0.1 only, so a wrong mapping would fail).
    for (listen, asked) in [
        (
            format!("0.0.0.0:{port}"),
            format!("http://127.0.0.1:{port}/readyz"),
        ),
        (
            format!("[::]:{port}"),
            format!("http://[::1]:{port}/readyz"),
        ),
    ] {
        let dir = db
            .dir
            .path()
            .join(listen.replace([':', '[', ']', '.'], "_"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("relay.toml");
        std::fs::write(
            &path,
            crate::helpers::config_toml(&db.url, &sandbox.url, &listen, &AppOptions::default()),
        )
        .unwrap();
        let (code, out, _) = cli(&path, &["healthcheck"]).await;
        assert!(out.contains(&asked), "{listen} → {asked}: {out}");
        if listen.starts_with("0.0.0.0") {
            assert_eq!(code, 0, "{out}");
        }
    }
    let closed = format!("http://127.0.0.1:{}/readyz", free_port());
    let (code, out, _) = cli(&config, &["healthcheck", "--url", &closed]).await;
    assert_eq!(code, 1, "{out}");
    app.stop().await;
}
