//! Personal data encrypted at rest (issue 18, item 4): with
//! `database.encryption_key_file` no column of any table holds a posted
//! name, email, phone or message; erase and export still find the person;
//! a sealed database will not start without its key; `enquiries rekey`
//! moves every value to the newest key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use enquiry_relay::domain::{Enquiry, IntakeRules, RawSubmission};
use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::{
    Actor, DeleteOutcome, KeyRing, Page, Place, Sealing, StaffFilter, Store, StoreError,
    new_key_line,
};
use sqlx::Row;

use crate::admin::cli;
use crate::data_protection::columns_holding;
use crate::helpers::{
    AppOptions, Db, TestApp, TestDb, TestSandbox, family, free_port, write_config,
};
use crate::on_both_databases;

/// A key file in `dir` holding `lines` (newest first).
pub(crate) fn key_file(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the key file");
    path
}

pub(crate) fn encrypted(options: AppOptions, file: &Path) -> AppOptions {
    options.config(format!(
        "[database]\nencryption_key_file = \"{}\"",
        file.display()
    ))
}

/// Every `table.column` whose values, opened with `sealing` where sealed,
/// contain `needle`: what a reader with the key could still find.
pub(crate) async fn columns_holding_opened(
    url: &str,
    sealing: &Sealing,
    needle: &str,
) -> Vec<String> {
    let pool = sqlx::AnyPool::connect(url)
        .await
        .expect("open the database");
    let columns_sql = if url.starts_with("sqlite") {
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table'"
    } else {
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns \
         WHERE table_schema = 'public'"
    };
    let columns = sqlx::query(columns_sql)
        .fetch_all(&pool)
        .await
        .expect("list the columns");
    let mut holding = Vec::new();
    for row in columns {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        if table.starts_with("_sqlx") {
            // sqlx's own bookkeeping (a binary checksum), none of ours.
            continue;
        }
        // Names come from the database's own catalogue, quoted as identifiers.
        // A sealed value opens only at its place (table, column, row id):
        // read with the row's id where the table has one.
        let with_id = format!(
            "SELECT CAST(id AS TEXT), CAST(\"{column}\" AS TEXT) FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"
        );
        let values: Vec<(String, String)> = match sqlx::query_as(sqlx::AssertSqlSafe(with_id))
            .fetch_all(&pool)
            .await
        {
            Ok(values) => values,
            Err(_) => {
                let sql = format!(
                    "SELECT '', CAST(\"{column}\" AS TEXT) FROM \"{table}\" WHERE \"{column}\" IS NOT NULL"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&pool)
                    .await
                    .expect("read a column")
            }
        };
        // Place names are 'static: these few, from the catalogue, live as
        // long as the test.
        let (table_name, column_name): (&'static str, &'static str) = (
            Box::leak(table.clone().into_boxed_str()),
            Box::leak(column.clone().into_boxed_str()),
        );
        let found = values.into_iter().any(|(id, value)| {
            let place = Place::new(table_name, column_name, &id);
            let opened = sealing.open(value.clone(), place).unwrap_or(value);
            opened.contains(needle)
        });
        if found {
            holding.push(format!("{table}.{column}"));
        }
    }
    pool.close().await;
    holding.sort();
    holding
}

/// With a key file, the posted name, email, phone and message are in no
/// column of any table (CareHQ's quoted hint and staff's note included),
/// yet the console search, export and erase by email work; erase leaves
/// nothing of the person even to a reader holding the key (their lookup
/// hashes included), and the tombstone stays.
async fn encrypted_personal_data_is_unreadable_at_rest_and_erasable(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let a = new_key_line("a").unwrap();
    let file = key_file(db.dir.path(), "keys", &[&a]);
    let sealing = Sealing::new(Some(KeyRing::from_file(&file).unwrap()));
    let options = encrypted(
        AppOptions {
            retry_schedule: vec![Duration::from_secs(3600)],
            ..AppOptions::default()
        }
        .quiet(),
        &file,
    );
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
    let (email, name, phone, message) = (
        "family7@example.com",
        "O'Brien 7",
        "960123",
        "Ground-floor room",
    );
    sandbox.set_faults(Faults {
        status_hint: Some(format!("temporary problem storing {email}")),
        ..Faults::once(500)
    });
    let mut ids = Vec::new();
    for body in [family(7), family(7), family(8)] {
        let answer = app.post_json(crate::helpers::SITE, &body).await;
        assert_eq!(answer.status(), 201);
        let answer: serde_json::Value = answer.json().await.unwrap();
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    ids.insert(2, crate::admin::insert(&app, 7, true, "clean").await);
    let actor = enquiry_relay::storage::Actor {
        label: "staff token",
        reason: Some("spoke to Mrs O'Brien 7 on the phone"),
    };
    assert!(
        app.store
            .staff_release(&ids[2].parse().unwrap(), &actor)
            .await
            .unwrap()
    );
    app.drain().await;
    app.make_pending_due().await;
    app.drain_all().await;

    for needle in [
        email,
        name,
        phone,
        message,
        "Zoë",
        "temporary problem storing",
    ] {
        assert_eq!(
            columns_holding(&db.url, needle).await,
            Vec::<String>::new(),
            "`{needle}` is stored readable"
        );
    }
    assert_eq!(
        columns_holding_opened(&db.url, &sealing, name).await,
        ["audit_log.reason", "enquiries.payload"],
        "the key opens the enquiry and the note"
    );
    assert_eq!(
        columns_holding_opened(&db.url, &sealing, "temporary problem storing").await,
        ["delivery_attempts.hint"]
    );

    // The terms are written after the acknowledgement (ops::search_index):
    // finish what the service's indexer may still be doing.
    app.store.fill_search_terms(500).await.unwrap();
    let search = StaffFilter {
        // A whole address, as typed (any case): found through its keyed
        // lookup term, never by opening the sealed rows.
        search: Some("FAMILY7@Example.com".into()),
        ..StaffFilter::default()
    };
    let found = (app.store)
        .staff_enquiries(&search, 10, &Page::Newest)
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        3,
        "the console search reads the sealed enquiries"
    );
    assert!(
        found
            .iter()
            .all(|r| r.payload.as_deref().is_some_and(|p| p.contains(email)))
    );

    let config = write_config(db.dir.path(), &db.url, &sandbox.url, free_port(), &options);
    let (code, out, err) = cli(&config, &["enquiries", "export", "--email", email]).await;
    assert_eq!(code, 0, "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let exported: Vec<&str> = (export["enquiries"].as_array().unwrap().iter())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let family_7 = [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()];
    assert_eq!(
        exported, family_7,
        "every one of family 7's, not family 8's"
    );
    assert_eq!(export["enquiries"][0]["fields"]["email"], email);
    let (code, out, err) = cli(
        &config,
        &["enquiries", "export", "--phone", "+44 1632 960123"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        export["enquiries"].as_array().unwrap().len(),
        4,
        "by phone: all four"
    );

    let (code, out, err) = cli(&config, &["enquiries", "erase", "--email", email, "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("erased 3"), "{out}");
    let hashes = sealing.email_lookups(email);
    for trace in [email, name, "temporary problem storing"]
        .into_iter()
        .chain(hashes.iter().map(String::as_str))
    {
        assert_eq!(
            columns_holding_opened(&db.url, &sealing, trace).await,
            Vec::<String>::new(),
            "{trace}"
        );
    }
    for id in family_7 {
        let tombstone = app
            .store
            .enquiry(&id.parse().unwrap())
            .await
            .unwrap()
            .expect("the row stays");
        assert!(tombstone.payload.is_none());
        let audit = app.store.audit_of(&id.parse().unwrap()).await.unwrap();
        assert_eq!(
            audit.last().map(|a| a.action.as_str()),
            Some("erase"),
            "{audit:?}"
        );
    }
    let other = app
        .store
        .enquiry(&ids[3].parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        other
            .payload
            .is_some_and(|p| p.contains("family8@example.com"))
    );
    app.stop().await;
}
on_both_databases!(encrypted_personal_data_is_unreadable_at_rest_and_erasable);

/// A database with sealed values is refused without the key file, and with
/// a file that lacks its key, with a message naming the setting.
async fn a_sealed_database_will_not_start_without_its_key(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let a = new_key_line("a").unwrap();
    let file = key_file(db.dir.path(), "keys", &[&a]);
    let options = encrypted(AppOptions::default().quiet(), &file);
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
    assert_eq!(
        app.post_json(crate::helpers::SITE, &family(1))
            .await
            .status(),
        201
    );
    app.stop().await;

    let plain = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        free_port(),
        &AppOptions::default(),
    );
    let (code, out, err) = cli(&plain, &["enquiries", "list"]).await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("encrypted") && err.contains("database.encryption_key_file is not set"),
        "{err}"
    );
    let other = key_file(db.dir.path(), "other", &[&new_key_line("b").unwrap()]);
    let wrong = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        free_port(),
        &encrypted(AppOptions::default(), &other),
    );
    let (code, _, err) = cli(&wrong, &["enquiries", "list"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("does not hold key a"), "{err}");
    assert!(
        !err.contains(a.split_once(':').unwrap().1),
        "never the key itself: {err}"
    );

    let short = key_file(db.dir.path(), "short", &["a:AAAA"]);
    let bad = write_config(
        db.dir.path(),
        &db.url,
        &sandbox.url,
        free_port(),
        &encrypted(AppOptions::default(), &short),
    );
    let (code, _, err) = cli(&bad, &["enquiries", "list"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("short") && err.contains("exactly 32"), "{err}");
}
on_both_databases!(a_sealed_database_will_not_start_without_its_key);

/// A plain database is sealed by `enquiries rekey` with key A; with a file
/// holding B then A, rekey moves everything to B, and a second run, meeting
/// nothing sealed with A, stops requiring it; a file holding only B then
/// reads it all, and a further rekey finds nothing to do.
async fn rekey_seals_a_plain_database_then_rotates_a_to_b(db: Db) {
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    }
    .quiet();
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    let email = "family4@example.com";
    // CareHQ's hint quoting the family, and staff's note naming them: the
    // attempt and audit columns rekey seals besides the enquiry.
    sandbox.set_faults(Faults {
        status_hint: Some(format!("temporary problem storing {email}")),
        ..Faults::once(500)
    });
    let answer = app.post_json(crate::helpers::SITE, &family(4)).await;
    assert_eq!(answer.status(), 201);
    let answer: serde_json::Value = answer.json().await.unwrap();
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(app.drain().await.retrying, 1);
    let held = crate::admin::insert(&app, 5, true, "clean").await;
    let actor = enquiry_relay::storage::Actor {
        label: "staff token",
        reason: Some("called Mrs O'Brien 5 back"),
    };
    assert!(
        app.store
            .staff_release(&held.parse().unwrap(), &actor)
            .await
            .unwrap()
    );
    app.stop().await;
    assert_eq!(
        columns_holding(&db.url, email).await,
        ["delivery_attempts.hint", "enquiries.payload"]
    );
    assert_eq!(
        columns_holding(&db.url, "Mrs O'Brien 5").await,
        ["audit_log.reason"]
    );

    let a = new_key_line("a").unwrap();
    let config = |name: &str, lines: &[&str]| {
        let file = key_file(db.dir.path(), name, lines);
        write_config(
            db.dir.path(),
            &db.url,
            &sandbox.url,
            free_port(),
            &encrypted(AppOptions::default(), &file),
        )
    };
    let only_a = config("a", &[&a]);
    let (code, out, err) = cli(&only_a, &["enquiries", "rekey", "--batch", "1"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("key a: 2 enquiries, 1 attempts, 1 audit records sealed again"),
        "{out}"
    );
    for trace in [email, "O'Brien", "temporary problem storing"] {
        assert_eq!(
            columns_holding(&db.url, trace).await,
            Vec::<String>::new(),
            "{trace}"
        );
    }

    // Key B from the command a person would use.
    let (code, out, err) = cli(&only_a, &["keygen", "--id", "b"]).await;
    assert_eq!(code, 0, "{err}");
    let b = out.trim().to_owned();
    assert!(KeyRing::parse(&b).is_ok_and(|k| k.ids() == ["b"]), "{b}");
    let b_then_a = config("ba", &[&b, &a]);
    let (code, out, err) = cli(&b_then_a, &["enquiries", "rekey"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("key b: 2 enquiries, 1 attempts, 1 audit records"),
        "{out}"
    );

    // That run met values sealed with a, so an instance may still seal with
    // it: a stays required until a run meets none (review T3-8 (a)).
    let only_b = config("b", &[&b]);
    let (code, _, err) = cli(&only_b, &["enquiries", "list"]).await;
    assert_ne!(code, 0, "a file of only b is refused after one run");
    assert!(err.contains("does not hold key a"), "{err}");
    let (code, out, err) = cli(&b_then_a, &["enquiries", "rekey"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("0 enquiries, 0 attempts, 0 audit records")
            && out.contains("4 already current"),
        "{out}"
    );

    let (code, out, err) = cli(&only_b, &["enquiries", "show", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(email), "{out}");
    assert!(
        out.contains("temporary problem storing"),
        "CareHQ's hint opens: {out}"
    );
    let audit = (app_store_audit(&db.url, &only_b_keys(&db), &held).await).join(" ");
    assert!(audit.contains("called Mrs O'Brien 5 back"), "{audit}");
    let (code, out, err) = cli(&only_b, &["enquiries", "export", "--email", email]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id), "found by its hash under b: {out}");
    let (code, out, _) = cli(&only_b, &["enquiries", "rekey"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("0 enquiries, 0 attempts, 0 audit records")
            && out.contains("4 already current"),
        "{out}"
    );
    let (code, _, err) = cli(&only_a, &["enquiries", "list"]).await;
    assert_ne!(
        code, 0,
        "a is gone from the database: a file of only a is refused"
    );
    assert!(err.contains("does not hold key b"), "{err}");
}
on_both_databases!(rekey_seals_a_plain_database_then_rotates_a_to_b);

/// The key file named `b` in `db`'s directory (written by the test above).
fn only_b_keys(db: &TestDb) -> Sealing {
    Sealing::new(Some(KeyRing::from_file(&db.dir.path().join("b")).unwrap()))
}

/// The audit reasons of `id`, read through a store holding `sealing`.
async fn app_store_audit(url: &str, sealing: &Sealing, id: &str) -> Vec<String> {
    let store = enquiry_relay::storage::Store::connect(url, 2)
        .await
        .unwrap()
        .with_sealing(sealing.clone());
    let reasons = (store
        .audit_of(&id.parse().unwrap())
        .await
        .unwrap()
        .into_iter())
    .filter_map(|a| a.reason)
    .collect();
    store.close().await;
    reasons
}

/// A store on `db` as a server opens it, sealing with `keys` (newest
/// first; none: a plain database). The encryption check is the caller's.
pub(crate) async fn store_with(db: &TestDb, keys: &[&str]) -> Store {
    let sealing = if keys.is_empty() {
        Sealing::default()
    } else {
        Sealing::new(Some(KeyRing::parse(&keys.join("\n")).expect("key lines")))
    };
    let store = Store::connect(&db.url, 2).await.expect("open the store");
    store.migrate().await.expect("migrate");
    store.with_sealing(sealing)
}

/// Insert family `n`'s enquiry through `store`, as intake would.
async fn insert_through(store: &Store, n: usize) -> String {
    let raw = RawSubmission::from_json(&family(n)).expect("a valid post");
    let rules = IntakeRules {
        allowed_services: &[],
        require_consent: false,
        ignored_fields: &[],
    };
    let payload =
        serde_json::to_string(&Enquiry::parse(&raw, &rules).expect("parses")).expect("serialises");
    crate::helpers::insert_enquiry_with(store, payload).await
}

async fn reasons(store: &Store, id: &str) -> Vec<String> {
    (store
        .audit_of(&id.parse().unwrap())
        .await
        .expect("the audit trail reads")
        .into_iter())
    .filter_map(|entry| entry.reason)
    .collect()
}

/// On a plain database a delete reason typed as "v1: spam" is staff's
/// words, not a sealed value: it reads back as written, still after a key
/// is added, and `enquiries rekey` seals it (review T3-8 (c): the audit
/// read used to fail for good).
async fn a_plain_reason_starting_with_v1_reads_back_as_written(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let plain = store_with(&db, &[]).await;
    plain
        .check_encryption()
        .await
        .expect("a plain database starts");
    let id = insert_through(&plain, 1).await;
    let actor = Actor {
        label: "staff token",
        reason: Some("v1: spam"),
    };
    let deleted = plain
        .staff_delete(&id.parse().unwrap(), &actor)
        .await
        .expect("delete");
    assert!(matches!(deleted, DeleteOutcome::Deleted));
    assert_eq!(reasons(&plain, &id).await, ["v1: spam"]);
    plain.close().await;

    let keyed = store_with(&db, &[&new_key_line("a").unwrap()]).await;
    keyed.check_encryption().await.expect("a key may be added");
    assert_eq!(reasons(&keyed, &id).await, ["v1: spam"], "before rekey");
    let report = keyed.rekey(10).await.expect("rekey");
    assert_eq!(report.audit_records, 1, "{report:?}");
    assert_eq!(
        columns_holding(&db.url, "spam").await,
        Vec::<String>::new(),
        "sealed by rekey"
    );
    assert_eq!(reasons(&keyed, &id).await, ["v1: spam"], "after rekey");
    keyed.close().await;
}
on_both_databases!(a_plain_reason_starting_with_v1_reads_back_as_written);

/// Rotation beside an instance not yet restarted: it still seals with key
/// a after `enquiries rekey` moved everything to b. Key a stays recorded
/// until a rekey run meets no value sealed with it, so a start with a file
/// of only b is refused instead of passing and leaving those rows
/// unreadable (review T3-8 (a)).
async fn rekey_keeps_an_old_key_recorded_until_a_run_finds_it_unused(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let (a, b) = (new_key_line("a").unwrap(), new_key_line("b").unwrap());
    let old = store_with(&db, &[&a]).await;
    old.check_encryption().await.expect("starts with a");
    let first = insert_through(&old, 1).await;
    let rotated = store_with(&db, &[&b, &a]).await;
    rotated
        .check_encryption()
        .await
        .expect("starts with b first");
    let report = rotated.rekey(1).await.expect("rekey");
    assert_eq!(report.enquiries, 1, "{report:?}");
    assert_eq!(report.still_required, ["a"], "it met a value sealed with a");
    // The instance still on a takes an enquiry after the rekey.
    let late = insert_through(&old, 2).await;
    old.close().await;

    let only_b = store_with(&db, &[&b]).await;
    let refused = only_b
        .check_encryption()
        .await
        .expect_err("a is still needed");
    let message = refused.to_string();
    assert!(matches!(refused, StoreError::Keys(_)), "{refused:?}");
    assert!(message.contains("does not hold key a"), "{message}");
    assert!(
        message.contains("enquiries rekey"),
        "says what to do: {message}"
    );
    assert!(!message.contains(a.split_once(':').unwrap().1), "{message}");

    // Every instance now has b first. This run still meets a (the late
    // enquiry), so a stays recorded; the next meets only b.
    let report = rotated.rekey(1).await.expect("rekey");
    assert_eq!(report.enquiries, 1, "{report:?}");
    assert!(only_b.check_encryption().await.is_err(), "a was met again");
    let report = rotated.rekey(1).await.expect("rekey");
    assert_eq!((report.enquiries, report.current), (0, 2), "{report:?}");
    assert!(report.still_required.is_empty(), "{report:?}");
    only_b
        .check_encryption()
        .await
        .expect("nothing needs a now");
    for (id, n) in [(first, 1), (late, 2)] {
        let record = only_b
            .enquiry(&id.parse().unwrap())
            .await
            .expect("reads")
            .expect("stored");
        let email = format!("family{n}@example.com");
        assert!(record.payload.is_some_and(|p| p.contains(&email)));
    }
    rotated.close().await;
    only_b.close().await;
}
on_both_databases!(rekey_keeps_an_old_key_recorded_until_a_run_finds_it_unused);
