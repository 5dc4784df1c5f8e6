//! Personal data is kept only where retention clears it (issue 18): CareHQ's
//! answers can quote what the family typed, so they live in the attempt's
//! `hint`, never in error texts, `/status` or anything retention leaves.

use std::time::Duration;

use enquiry_relay::sandbox::Faults;
use enquiry_relay::storage::now_ms;
use sqlx::Row;

use crate::admin::cli;
use crate::helpers::{AppOptions, Db, TestApp, family, free_port, write_config};
use crate::on_both_databases;
use crate::status::{status, with_token};

/// Every `table.column` of the database whose text contains `needle`.
pub(crate) async fn columns_holding(url: &str, needle: &str) -> Vec<String> {
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
        // Names come from the database's own catalogue, quoted as identifiers.
        let sql =
            format!("SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) LIKE $1");
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(format!("%{needle}%"))
            .fetch_one(&pool)
            .await
            .expect("scan a column");
        if n > 0 {
            holding.push(format!("{table}.{column}"));
        }
    }
    pool.close().await;
    holding.sort();
    holding
}

/// A 500 whose hint quotes the family's address (as a validation hint might):
/// `/status` never shows it, it is kept only in the attempt's hint (and the
/// stored enquiry), and once the synced enquiry is past retention no column
/// of any table holds it.
async fn carehqs_words_about_a_family_stay_out_of_status_and_go_with_retention(db: Db) {
    // The retry falls due only when the test says so (a short delay could
    // pass within the first drain on a busy machine and send it there).
    let options = with_token(
        AppOptions {
            retry_schedule: vec![Duration::from_secs(3600)],
            ..AppOptions::default()
        }
        .quiet(),
        "",
    );
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    let email = "family7@example.com";
    sandbox.set_faults(Faults {
        status_hint: Some(format!("temporary problem storing {email}")),
        ..Faults::once(500)
    });
    let posted = app.post_json(crate::helpers::SITE, &family(7)).await;
    assert_eq!(posted.status(), 201);
    let first = app.drain().await;
    assert_eq!(
        (first.retrying, first.synced),
        (1, 0),
        "the 500 is retried later"
    );

    let (_, body) = status(&app).await;
    let shown = body.to_string();
    assert!(!shown.contains(email), "/status quotes the family: {body}");
    let last_error = body["carehq"]["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("500"), "{body}");
    assert!(
        body["carehq"]["last_hint"]
            .as_str()
            .is_some_and(|h| h.contains("enquiries show")),
        "says where CareHQ's words are: {body}"
    );
    assert_eq!(
        columns_holding(&db.url, email).await,
        ["delivery_attempts.hint", "enquiries.payload"],
        "only the enquiry and CareHQ's hint hold the address before retention"
    );

    app.make_pending_due().await;
    assert_eq!(app.drain_to_rest().await.synced, 1);
    let later = now_ms() + 1_000;
    let report = app.store.purge(later, later, later, 0).await.unwrap();
    assert_eq!(report.synced_scrubbed, 1, "{report:?}");
    assert_eq!(
        columns_holding(&db.url, email).await,
        Vec::<String>::new(),
        "retention leaves no copy of the address"
    );
    assert_eq!(
        columns_holding(&db.url, "temporary problem storing").await,
        Vec::<String>::new(),
        "nor of CareHQ's words"
    );
    app.stop().await;
}
on_both_databases!(carehqs_words_about_a_family_stay_out_of_status_and_go_with_retention);

/// A family who ticked the site's consent statement: the enquiry records
/// which wording (version and SHA-256 of the text), `enquiries show` prints
/// it, and it stays after retention scrubs the enquiry's personal data.
async fn the_consent_agreed_to_is_recorded_and_outlives_the_scrub(db: Db) {
    let wording = "I agree that Upton Court may contact me about this enquiry.";
    let options = AppOptions::default()
        .site(format!(
            "consent_text = \"{wording}\"\nconsent_version = \"2026-11\""
        ))
        .quiet();
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options.clone()).spawn().await
    else {
        return;
    };
    let mut body = family(3);
    body["consent"] = "yes".into();
    let posted = app.post_json(crate::helpers::SITE, &body).await;
    assert_eq!(posted.status(), 201);
    let answer: serde_json::Value = posted.json().await.unwrap();
    let id = answer["id"].as_str().expect("the enquiry's id").to_owned();
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(wording.as_bytes()));

    let config = write_config(db.dir.path(), &db.url, &sandbox.url, free_port(), &options);
    let (code, out, err) = cli(&config, &["enquiries", "show", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "consent   version 2026-11, wording SHA-256 {sha256}"
        )),
        "{out}"
    );

    assert_eq!(app.drain_to_rest().await.synced, 1);
    let later = now_ms() + 1_000;
    app.store.purge(later, later, later, 0).await.unwrap();
    let record = app
        .store
        .enquiry(&id.parse().unwrap())
        .await
        .unwrap()
        .expect("the record stays");
    assert!(record.payload.is_none(), "the personal data is scrubbed");
    let consent = record.consent.expect("the consent record stays");
    assert_eq!(
        (consent.version.as_str(), consent.sha256.as_str()),
        ("2026-11", &*sha256)
    );
    app.stop().await;
}
on_both_databases!(the_consent_agreed_to_is_recorded_and_outlives_the_scrub);

/// `enquiries export` gives everything stored about a person; `enquiries
/// erase` lists first, then removes their data from every column of every
/// table (CareHQ's quoted words and staff's notes included), leaving an
/// anonymous tombstone, an audit record and other families untouched.
async fn a_person_is_exported_then_erased_from_every_table(db: Db) {
    let options = AppOptions {
        retry_schedule: vec![Duration::from_secs(3600)],
        ..AppOptions::default()
    }
    .quiet();
    let Some((db, sandbox, app)) = TestApp::builder(db).options(options.clone()).spawn().await
    else {
        return;
    };
    let (email, name) = ("family7@example.com", "O'Brien 7");
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
    // A held one of family 7's, released by staff with a note naming them.
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
    assert!(
        !columns_holding(&db.url, name).await.is_empty(),
        "the note is stored"
    );
    let config = write_config(db.dir.path(), &db.url, &sandbox.url, free_port(), &options);

    let (code, out, err) = cli(&config, &["enquiries", "export", "--email", email]).await;
    assert_eq!(code, 0, "{err}");
    let export: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let exported: Vec<&str> = (export["enquiries"].as_array().unwrap().iter())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let family_7 = [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()];
    assert_eq!(exported, family_7, "family 7's, not family 8's");
    assert_eq!(export["enquiries"][0]["fields"]["email"], email);
    assert!(export["note"].as_str().unwrap().contains("CareHQ"));

    let (code, out, _) = cli(&config, &["enquiries", "erase", "--email", email]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("would erase 3") && out.contains("--yes"),
        "{out}"
    );
    assert!(
        !columns_holding(&db.url, email).await.is_empty(),
        "a dry run changes nothing"
    );

    let (code, out, err) = cli(&config, &["enquiries", "erase", "--email", email, "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("erased 3"), "{out}");
    assert!(
        out.contains("erase these care enquiries in CareHQ too"),
        "{out}"
    );
    for trace in [email, name, "temporary problem storing"] {
        assert_eq!(
            columns_holding(&db.url, trace).await,
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
    let (code, _, _) = cli(&config, &["enquiries", "erase", "--email", email, "--yes"]).await;
    assert_eq!(code, 1, "nothing left to erase");
    app.stop().await;
}
on_both_databases!(a_person_is_exported_then_erased_from_every_table);
