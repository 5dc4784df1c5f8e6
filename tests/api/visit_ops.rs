//! The home-visit step as staff see it: `/status` counts it per step, and
//! `enquiries list|show|retry` show and fix a waiting or failed visit.

use std::time::Duration;

use enquiry_relay::sandbox::Faults;

use enquiry_relay::storage::DeliveryStatus;

use crate::admin::cli;
use crate::helpers::{Db, SITE, TestApp, free_port, write_config};
use crate::on_both_databases;
use crate::status::{status, with_token};
use crate::visits::{
    drained_to_step, local_slot, posted_id, slot_values, visit_options, with_visit,
};

async fn staff_see_and_fix_a_failed_and_a_waiting_visit_step(db: Db) {
    let options = with_token(visit_options(vec![Duration::from_millis(200)]), "");
    let Some((db, sandbox, app)) = TestApp::builder(db)
        .options(options.clone().quiet())
        .spawn()
        .await
    else {
        return;
    };

    // CareHQ refuses the visit: the enquiry is synced, the visit failed.
    sandbox.set_faults(Faults::once(400).only_on("home-visits"));
    let visit_failed = posted_id(
        &app,
        SITE,
        &with_visit(1, &local_slot(2, 15).0, "in_person"),
    )
    .await;
    drained_to_step(&app, &visit_failed, "home_visit", DeliveryStatus::Failed).await;
    // CareHQ refuses the enquiry: its visit waits for it.
    sandbox.set_faults(Faults::once(400).only_on("care-enquiries"));
    let visit_waiting =
        posted_id(&app, SITE, &with_visit(2, &local_slot(2, 16).0, "virtual")).await;
    drained_to_step(&app, &visit_waiting, "enquiry", DeliveryStatus::Failed).await;

    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "{body}");
    let visits = &body["steps"]["home_visit"];
    assert_eq!(visits["failed"], 1, "{body}");
    assert_eq!(visits["waiting"], 1, "{body}");
    assert_eq!(body["steps"]["enquiry"]["failed"], 1, "{body}");
    assert_eq!(body["steps"]["enquiry"]["synced"], 1, "{body}");
    assert_eq!(body["queue"]["waiting"], 1, "{body}");
    assert_eq!(body["queue"]["failed"], 2, "{body}");
    // The words staff read name both kinds, not "2 enquiries".
    let problems = body["problems"].to_string();
    assert!(
        problems.contains("1 enquiry and 1 home visit could not be delivered"),
        "{problems}"
    );

    let config = write_config(db.dir.path(), &db.url, &sandbox.url, free_port(), &options);
    let (code, out, err) = cli(&config, &["enquiries", "list", "--status", "waiting"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&visit_waiting) && !out.contains(&visit_failed) && out.contains("VISIT"),
        "{out}"
    );
    let (_, out, _) = cli(&config, &["enquiries", "list", "--status", "failed"]).await;
    assert!(
        out.contains(&visit_waiting) && out.contains(&visit_failed),
        "a failed visit is listed as failed too:\n{out}"
    );
    let (code, _, err) = cli(&config, &["enquiries", "list", "--status", "lost"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("waiting"),
        "the usage names every state: {err}"
    );

    let (code, out, err) = cli(&config, &["enquiries", "show", &visit_failed]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("(home_visit): failed") && out.contains("HTTP 400"),
        "{out}"
    );
    let (_, out, _) = cli(&config, &["enquiries", "show", &visit_waiting]).await;
    assert!(
        out.contains("(enquiry): failed")
            && out.contains("(home_visit): waiting")
            && out.contains("waits for the enquiry step"),
        "{out}"
    );

    // Retry each: the running server sends what was retried.
    let (code, out, err) = cli(&config, &["enquiries", "retry", &visit_failed]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("home_visit pending again"), "{out}");
    drained_to_step(&app, &visit_failed, "home_visit", DeliveryStatus::Synced).await;
    let (code, out, err) = cli(&config, &["enquiries", "retry", &visit_waiting]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": enquiry pending again"), "{out}");
    drained_to_step(&app, &visit_waiting, "home_visit", DeliveryStatus::Synced).await;
    assert_eq!(sandbox.sandbox.received_visits().len(), 2);

    let (code, body) = status(&app).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["steps"]["home_visit"]["synced"], 2, "{body}");
    assert_eq!(body["queue"]["waiting"], 0, "{body}");
    app.stop().await;
}
on_both_databases!(staff_see_and_fix_a_failed_and_a_waiting_visit_step);

async fn a_visit_waiting_on_a_failed_enquiry_shows_in_status_and_frees_its_slot(db: Db) {
    let options = with_token(visit_options(vec![Duration::from_millis(200)]), "").quiet();
    let Some((_db, sandbox, app)) = TestApp::builder(db).options(options).spawn().await else {
        return;
    };
    let slot = local_slot(2, 15).0;

    sandbox.set_faults(Faults::once(400).only_on("care-enquiries"));
    let first = posted_id(&app, SITE, &with_visit(1, &slot, "in_person")).await;
    drained_to_step(&app, &first, "enquiry", DeliveryStatus::Failed).await;
    let (code, body) = status(&app).await;
    assert_eq!(code, 503, "{body}");
    let problems = body["problems"].to_string();
    assert!(
        problems.contains("1 home visit waits for an enquiry that could not be delivered"),
        "{problems}"
    );

    // The slot (one place) is offered again, and another family takes it.
    assert!(
        slot_values(&app, SITE).await.contains(&slot),
        "the failed enquiry's slot is free again"
    );
    let second = posted_id(&app, SITE, &with_visit(2, &slot, "in_person")).await;
    drained_to_step(&app, &second, "home_visit", DeliveryStatus::Synced).await;

    // Staff send the first enquiry again: it goes, but its visit cannot have
    // the slot back, so staff are told to call the family.
    assert_eq!(
        app.store
            .retry_failed(&first.parse().unwrap())
            .await
            .unwrap(),
        1
    );
    drained_to_step(&app, &first, "enquiry", DeliveryStatus::Synced).await;
    let visit = drained_to_step(&app, &first, "home_visit", DeliveryStatus::Failed).await;
    let error = visit.last_error.unwrap_or_default();
    assert!(error.contains("call the family"), "{error}");
    assert_eq!(
        sandbox.sandbox.received_visits().len(),
        1,
        "no double booking"
    );
    app.stop().await;
}
on_both_databases!(a_visit_waiting_on_a_failed_enquiry_shows_in_status_and_frees_its_slot);
