//! Pacing (issue 11 item 10): a backlog drained at CareHQ's rate limit with
//! concurrent sends shares one budget, so CareHQ refuses (almost) nothing.

use std::time::Duration;

use enquiry_relay::sandbox::SandboxConfig;

use crate::helpers::{AppOptions, Db, TestApp, posted_id};
use crate::on_both_databases;

/// Enquiries in the backlog: five windows' worth at the sandbox's limit, so
/// the drain crosses several resets and still takes only a few seconds.
const BACKLOG: usize = 50;
/// The sandbox's limit per second (CareHQ's own, per docs/carehq-api.md, "Rate limits").
const LIMIT: u32 = 10;

async fn a_backlog_drains_at_the_limit_without_429s(db: Db) {
    // Eight sends at once (the default is four): more than a window's
    // remainder is often in flight, which is what drew the 429s.
    let options = AppOptions::default().with(|s| s.sync.concurrency = 8);
    let Some((_db, sandbox, app)) = TestApp::builder(db)
        .sandbox(SandboxConfig {
            rate_limit_per_second: LIMIT,
            ..SandboxConfig::default()
        })
        .options(options)
        .spawn()
        .await
    else {
        return;
    };

    // Posting takes well under a second; the worker drains ten a second,
    // so nearly all of these wait in the outbox as a backlog.
    for n in 0..BACKLOG {
        posted_id(&app, n).await;
    }

    // Five windows of ten at best; generous room for a loaded CI machine.
    let received = crate::helpers::eventually(Duration::from_secs(60), || async {
        let got = sandbox.received();
        (got.len() >= BACKLOG).then_some(got)
    })
    .await;
    let refused = sandbox.sandbox.too_many_requests_count();
    assert_eq!(
        received.map(|r| r.len()),
        Some(BACKLOG),
        "every enquiry delivered once ({refused} answers were 429)"
    );
    assert!(
        refused <= 1,
        "{refused} of {} CareHQ requests were refused with 429",
        sandbox.sandbox.request_count()
    );
    app.stop().await;
}
on_both_databases!(a_backlog_drains_at_the_limit_without_429s);
