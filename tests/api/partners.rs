//! Partner intake at the storage level (issue 17): an enrollment's repeats,
//! concurrent ones included, store one enquiry; user actions land against
//! the enrollment, once each.

use enquiry_relay::storage::{
    ActionOutcome, EnquiryId, InsertOutcome, NewEnquiry, PartnerEventKey, Store,
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
        spam_verdict: "partner".into(),
        idempotency_key: None,
        fingerprint: None,
        held: false,
        consent: None,
        partner_event: Some(key),
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
    let events = store.partner_events_of(enquiry_id.as_str()).await.unwrap();
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
