//! Staff search without opening the table (issue 30): every enquiry carries
//! keyed hashes of its email, phone and name words in `enquiry_terms`,
//! written and removed with its payload, so a search is a join on them.
//! The staff list route is not wired here: these tests join
//! `enquiry_terms` as it will, with the terms `Store::search_terms` gives.

use std::time::Duration;

use enquiry_relay::storage::{
    Actor, BackfillReport, Correction, DeleteOutcome, EditOutcome, Store, new_key_line, now_ms,
};
use sqlx::AnyPool;

use crate::encryption::{key_file, store_with};
use crate::helpers::{
    AppOptions, Db, TestApp, TestDb, TestSandbox, eventually, insert_enquiry_with,
};
use crate::on_both_databases;

const ZOE: &str = r#"{"first_name":"Zoë","last_name":"O'Brien-Smith","email":"Zoe@Example.com","phone":"+44 1632 960123","care_requirements":"Patient email: gran@example.org"}"#;
const ALF: &str =
    r#"{"first_name":"Alf","last_name":"Smith","email":"alf@example.com","phone":"01632 960123"}"#;
const BEA: &str =
    r#"{"first_name":"Bea","last_name":"Jones","email":"bea@example.com","phone":"07700 900999"}"#;

const ACTOR: Actor<'static> = Actor {
    label: "staff token",
    reason: Some("a test"),
};

async fn pool(db: &TestDb) -> AnyPool {
    AnyPool::connect(&db.url).await.expect("open the database")
}

/// The enquiries a console search for `text` finds, oldest first: those
/// carrying a term of every word, as the staff list joins them.
async fn search(store: &Store, pool: &AnyPool, text: &str) -> Vec<String> {
    let Some(words) = store.search_terms(text) else {
        return Vec::new();
    };
    let mut sql = String::from("SELECT e.id FROM enquiries e WHERE e.payload IS NOT NULL");
    let mut n = 0;
    for word in &words {
        assert!(!word.is_empty(), "a word has its terms");
        let list: Vec<String> = (word.iter())
            .map(|_| {
                n += 1;
                format!("${n}")
            })
            .collect();
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM enquiry_terms t WHERE t.enquiry_id = e.id AND t.term IN ({}))",
            list.join(", ")
        );
    }
    sql += " ORDER BY e.received_at, e.id";
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for term in words.iter().flatten() {
        query = query.bind(term.as_str());
    }
    let found: Vec<(String,)> = query.fetch_all(pool).await.expect("search");
    found.into_iter().map(|(id,)| id).collect()
}

/// The terms stored for `id`.
async fn terms_of(pool: &AnyPool, id: &str) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT term FROM enquiry_terms WHERE enquiry_id = $1 ORDER BY term")
            .bind(id)
            .fetch_all(pool)
            .await
            .expect("read terms");
    rows.into_iter().map(|(t,)| t).collect()
}

async fn set_deliveries(pool: &AnyPool, id: &str, status: &str) {
    sqlx::query("UPDATE deliveries SET status = $1 WHERE enquiry_id = $2")
        .bind(status)
        .bind(id)
        .execute(pool)
        .await
        .expect("set the deliveries' status");
}

/// Take the database back to the previous release's: no terms, every row
/// pending (as migration 0019 leaves rows stored before it).
async fn forget_terms(pool: &AnyPool) {
    sqlx::query("DELETE FROM enquiry_terms")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE enquiries SET terms_pending = 1")
        .execute(pool)
        .await
        .unwrap();
}

/// A search by a whole email address, a whole phone number in any spacing,
/// or whole name words finds the enquiry through its terms, on a plain
/// database and with `database.encryption_key_file`; part of a word does not.
async fn a_search_finds_enquiries_by_whole_address_number_or_name_words(db: Db) {
    let key = new_key_line("k").unwrap();
    for keys in [vec![], vec![key.as_str()]] {
        let Some(db) = TestDb::new(db).await else {
            return;
        };
        let store = store_with(&db, &keys).await;
        let pool = pool(&db).await;
        let zoe = insert_enquiry_with(&store, ZOE.into()).await;
        let alf = insert_enquiry_with(&store, ALF.into()).await;
        let bea = insert_enquiry_with(&store, BEA.into()).await;
        index(&store).await;
        let (zoe, alf, bea) = (zoe.as_str(), alf.as_str(), bea.as_str());

        let cases: &[(&str, &[&str])] = &[
            ("zoe@EXAMPLE.com", &[zoe]),
            ("01632 960123", &[zoe, alf]),
            ("+44 (1632) 960-123", &[zoe, alf]),
            ("01632960123", &[zoe, alf]),
            ("smith", &[zoe, alf]),
            ("O'Brien", &[zoe]),
            ("smith zoë", &[zoe]),
            ("JONES bea", &[bea]),
            ("smi", &[]),
            ("zoe@example", &[]),
            ("960123", &[]),
            ("smith jones", &[]),
            ("gran@example.org", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(
                search(&store, &pool, text).await,
                *expected,
                "{text} (keys: {})",
                keys.len()
            );
        }
        assert_eq!(store.search_terms("  "), None);
        // One row per term: email, phone, the name words.
        assert_eq!(terms_of(&pool, alf).await.len(), 4);
        // The export's own lookup also finds a person named elsewhere in
        // the enquiry (a partner's labelled line), by their terms too.
        assert_eq!(
            by_contact(&store, Some("GRAN@example.org"), None).await,
            [zoe]
        );
        store.close().await;
        pool.close().await;
    }
}
on_both_databases!(a_search_finds_enquiries_by_whole_address_number_or_name_words);

/// A retention scrub, a console delete and an erasure each remove the
/// enquiry's terms with its payload; other enquiries keep theirs.
async fn terms_go_with_the_payload(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_with(&db, &[]).await;
    let pool = pool(&db).await;
    let scrubbed = insert_enquiry_with(&store, ZOE.into()).await;
    let deleted = insert_enquiry_with(&store, ZOE.into()).await;
    let erased = insert_enquiry_with(&store, ZOE.into()).await;
    let kept = insert_enquiry_with(&store, ALF.into()).await;
    index(&store).await;
    for id in [&scrubbed, &deleted, &erased, &kept] {
        assert!(!terms_of(&pool, id).await.is_empty());
    }

    set_deliveries(&pool, &scrubbed, "synced").await;
    let report = store.purge(now_ms() + 1, 0, 0, 0).await.unwrap();
    assert_eq!(report.synced_scrubbed, 1);
    assert_eq!(
        store
            .staff_delete(&deleted.parse().unwrap(), &ACTOR)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store
            .erase_enquiry(&erased.parse().unwrap(), &ACTOR)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );

    for id in [&scrubbed, &deleted, &erased] {
        assert_eq!(terms_of(&pool, id).await, Vec::<String>::new(), "{id}");
    }
    assert_eq!(terms_of(&pool, &kept).await.len(), 4);
    assert_eq!(search(&store, &pool, "smith").await, [kept.as_str()]);
    assert_eq!(
        by_contact(&store, Some("zoe@example.com"), None).await,
        Vec::<String>::new()
    );
    store.close().await;
    pool.close().await;
}
on_both_databases!(terms_go_with_the_payload);

/// A staff correction replaces the terms: the console finds the corrected
/// name and address, not the refused ones; export and erase still find the
/// person by what the family first wrote.
async fn an_edit_replaces_the_terms(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let store = store_with(&db, &[new_key_line("k").unwrap().as_str()]).await;
    let pool = pool(&db).await;
    let id = insert_enquiry_with(&store, ALF.into()).await;
    set_deliveries(&pool, &id, "failed").await;
    let corrected = ALF
        .replace("\"Smith\"", "\"Smyth\"")
        .replace("alf@example.com", "alf.smyth@example.com");
    let fields = ["last_name".to_owned(), "email".to_owned()];
    let correction = Correction {
        read: ALF,
        corrected: &corrected,
        fields: &fields,
    };
    let outcome = store
        .staff_edit(&id.parse().unwrap(), &ACTOR, &correction)
        .await
        .unwrap();
    assert!(matches!(outcome, EditOutcome::Edited { .. }), "{outcome:?}");

    assert_eq!(search(&store, &pool, "smyth").await, [id.as_str()]);
    assert_eq!(
        search(&store, &pool, "alf.smyth@example.com").await,
        [id.as_str()]
    );
    assert_eq!(search(&store, &pool, "smith").await, Vec::<String>::new());
    assert_eq!(
        search(&store, &pool, "alf@example.com").await,
        Vec::<String>::new()
    );
    assert_eq!(
        search(&store, &pool, "alf 01632 960123").await,
        Vec::<String>::new(),
        "a number is a whole query"
    );
    assert_eq!(search(&store, &pool, "01632 960123").await, [id.as_str()]);
    for email in ["alf@example.com", "alf.smyth@example.com"] {
        assert_eq!(
            by_contact(&store, Some(email), None).await,
            [id.as_str()],
            "{email}"
        );
    }
    store.close().await;
    pool.close().await;
}
on_both_databases!(an_edit_replaces_the_terms);

/// Terms are written under the newest key only. With keys b then a, a
/// search still finds rows stored under a (its words are looked up under
/// every key) until `rekey` rewrites their terms under b; a store holding
/// only b then finds them too.
async fn rekey_rewrites_the_terms_under_the_newest_key(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let (a, b) = (new_key_line("a").unwrap(), new_key_line("b").unwrap());
    let only_a = store_with(&db, &[&a]).await;
    only_a.check_encryption().await.unwrap();
    let old = insert_enquiry_with(&only_a, ALF.into()).await;
    index(&only_a).await;
    only_a.close().await;
    let b_then_a = store_with(&db, &[&b, &a]).await;
    b_then_a.check_encryption().await.unwrap();
    let new = insert_enquiry_with(&b_then_a, ZOE.into()).await;
    index(&b_then_a).await;
    let only_b = store_with(&db, &[&b]).await;
    let pool = pool(&db).await;
    let before = terms_of(&pool, &old).await;

    assert_eq!(
        search(&b_then_a, &pool, "smith").await,
        [old.clone(), new.clone()],
        "an old key's terms are found before rekey"
    );
    assert_eq!(
        search(&only_b, &pool, "smith").await,
        [new.as_str()],
        "not yet under b"
    );

    let report = b_then_a.rekey(1).await.unwrap();
    assert_eq!(report.enquiries, 1, "{report:?}");
    let after = terms_of(&pool, &old).await;
    assert_eq!(after.len(), before.len());
    assert!(
        after.iter().all(|t| !before.contains(t)),
        "every term rewritten"
    );
    for text in ["smith", "alf@example.com", "01632 960123"] {
        assert!(search(&only_b, &pool, text).await.contains(&old), "{text}");
    }
    assert_eq!(
        b_then_a.rekey(1).await.unwrap().enquiries,
        0,
        "a second run finds every row current"
    );
    for store in [b_then_a, only_b] {
        store.close().await;
    }
    pool.close().await;
}
on_both_databases!(rekey_rewrites_the_terms_under_the_newest_key);

/// Enquiries stored before their terms existed (the previous release, or
/// migration 0019's rows) are found by export meanwhile, and the backfill,
/// run by hand or by the service at start-up, gives them their terms.
async fn the_backfill_gives_older_enquiries_their_terms(db: Db) {
    let Some(db) = TestDb::new(db).await else {
        return;
    };
    let key = new_key_line("k").unwrap();
    let store = store_with(&db, &[&key]).await;
    let pool = pool(&db).await;
    let zoe = insert_enquiry_with(&store, ZOE.into()).await;
    let alf = insert_enquiry_with(&store, ALF.into()).await;
    let bea = insert_enquiry_with(&store, BEA.into()).await;
    let scrubbed = insert_enquiry_with(&store, BEA.into()).await;
    // Intake leaves the terms to the indexer, after the acknowledgement.
    assert!(terms_of(&pool, &zoe).await.is_empty());
    index(&store).await;
    store
        .staff_delete(&scrubbed.parse().unwrap(), &ACTOR)
        .await
        .unwrap();
    let written = [
        terms_of(&pool, &zoe).await,
        terms_of(&pool, &alf).await,
        terms_of(&pool, &bea).await,
    ];

    forget_terms(&pool).await;
    assert_eq!(search(&store, &pool, "smith").await, Vec::<String>::new());
    assert_eq!(
        by_contact(&store, Some("gran@example.org"), Some("07700 900999")).await,
        {
            let mut ids = vec![zoe.clone(), bea.clone()];
            ids.sort();
            ids
        },
        "export opens rows still pending"
    );
    let report = store.fill_search_terms(2).await.unwrap();
    assert_eq!(
        report,
        BackfillReport {
            filled: 3,
            ..BackfillReport::default()
        },
        "the scrubbed row has nothing to index"
    );
    let filled = [
        terms_of(&pool, &zoe).await,
        terms_of(&pool, &alf).await,
        terms_of(&pool, &bea).await,
    ];
    assert_eq!(filled, written, "the same terms as the first indexing");
    assert_eq!(
        search(&store, &pool, "smith").await,
        [zoe.clone(), alf.clone()]
    );
    assert_eq!(
        store.fill_search_terms(2).await.unwrap(),
        BackfillReport::default(),
        "nothing left"
    );
    assert!(terms_of(&pool, &scrubbed).await.is_empty());

    // The service runs the same pass in the background from start-up.
    forget_terms(&pool).await;
    store.close().await;
    let sandbox = TestSandbox::start().await;
    let options = AppOptions::default()
        .config(format!(
            "[database]\nencryption_key_file = \"{}\"",
            key_file(db.dir.path(), "keys", &[&key]).display()
        ))
        .quiet();
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
    let reader = &pool;
    let filled = eventually(Duration::from_secs(10), || async move {
        let (pending,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM enquiries WHERE terms_pending = 1 AND payload IS NOT NULL",
        )
        .fetch_one(reader)
        .await
        .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    assert!(filled.is_some(), "the start-up backfill ran");
    assert_eq!(search(&app.store, &pool, "smith").await, [zoe, alf]);
    app.stop().await;
    pool.close().await;
}
on_both_databases!(the_backfill_gives_older_enquiries_their_terms);

/// The service writes a posted enquiry's terms after acknowledging it, not
/// only at start-up: a post to the running service is found by a search
/// once its indexer has run.
async fn the_service_indexes_each_enquiry_after_its_acknowledgement(db: Db) {
    let Some((db, _sandbox, app)) = TestApp::builder(db)
        .options(AppOptions::default().quiet())
        .spawn()
        .await
    else {
        return;
    };
    let pool = pool(&db).await;
    let body: serde_json::Value = serde_json::from_str(ALF).unwrap();
    let answer = app.post_json(crate::helpers::SITE, &body).await;
    assert_eq!(answer.status(), 201);
    let answer: serde_json::Value = answer.json().await.unwrap();
    let id = answer["id"].as_str().unwrap().to_owned();
    let (store, reader) = (&app.store, &pool);
    let found = eventually(Duration::from_secs(10), || async move {
        let found = search(store, reader, "alf@example.com").await;
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(
        found,
        Some(vec![id.clone()]),
        "the indexer ran after the post"
    );
    let (pending,): (i64,) = sqlx::query_as("SELECT terms_pending FROM enquiries WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    app.stop().await;
    pool.close().await;
}
on_both_databases!(the_service_indexes_each_enquiry_after_its_acknowledgement);

/// What the service's indexer does after each acknowledgement
/// (`ops::search_index`), run here to its end.
async fn index(store: &Store) {
    store
        .fill_search_terms(500)
        .await
        .expect("write the search terms");
}

/// The Ids `enquiries_by_contact` finds, as text.
async fn by_contact(store: &Store, email: Option<&str>, phone: Option<&str>) -> Vec<String> {
    let found = store.enquiries_by_contact(email, phone).await.unwrap();
    found.iter().map(ToString::to_string).collect()
}
