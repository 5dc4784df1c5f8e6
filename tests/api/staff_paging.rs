//! The staff list's keyset pages and the streamed CSV, over HTTP: following
//! "Next page" from the first page to the last and "Previous page" back
//! shows every enquiry once, and an export of more rows than one chunk
//! holds each of them once, newest first.

use std::collections::HashSet;

use crate::helpers::{AppOptions, Db, TestApp, insert_bare_enquiry};
use crate::on_both_databases;
use crate::staff::{Staff, staff_options};

/// The `href` of the page's link with `rel`, HTML entities undone.
fn link(html: &str, rel: &str) -> Option<String> {
    let anchor = html
        .split("<a ")
        .find(|a| a.contains(&format!("rel=\"{rel}\"")))?;
    let href = anchor.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

/// The enquiry ids a list page shows, in order.
fn ids(html: &str) -> Vec<String> {
    html.split("href=\"/staff/enquiries/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

async fn pages_link_forward_and_back_and_the_csv_streams_every_row(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
    else {
        return;
    };
    let mut stored = Vec::new();
    for _ in 0..1_120 {
        stored.push(insert_bare_enquiry(&app.store).await);
    }
    stored.reverse(); // newest first, as listed (UUID v7 ids order by time)
    let staff = Staff::sign_in(&app).await;

    let first = staff.page("/staff/enquiries").await;
    assert!(
        link(&first, "prev").is_none(),
        "the newest page has none newer"
    );
    let mut pages = vec![first];
    while let Some(next) = link(pages.last().unwrap(), "next") {
        assert!(next.contains("after="), "{next}");
        pages.push(staff.page(&next).await);
        assert!(pages.len() <= 30, "the pages never end");
    }
    let shown: Vec<String> = pages.iter().flat_map(|p| ids(p)).collect();
    assert_eq!(pages.len(), 23, "1,120 rows, 50 a page");
    let caption = pages[22]
        .split("<caption>")
        .nth(1)
        .unwrap_or_default()
        .split("</caption>")
        .next()
        .unwrap_or_default();
    assert_eq!(caption, "Enquiries, newest first (page 23)");
    assert_eq!(shown.len(), stored.len());
    assert!(shown == stored, "every enquiry once, newest first");

    // And back from the last page to the first, page by page.
    let mut back = vec![pages.pop().unwrap()];
    while let Some(previous) = link(back.last().unwrap(), "prev") {
        assert!(previous.contains("before="), "{previous}");
        back.push(staff.page(&previous).await);
    }
    back.reverse();
    let again: Vec<String> = back.iter().flat_map(|p| ids(p)).collect();
    assert!(again == stored, "the same pages going back");

    let bad = staff.get("/staff/enquiries?after=yesterday").await;
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("page link is not understood")
    );

    // More rows than one chunk (500): streamed, each once, in order.
    let csv = staff.get("/staff/export.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers().get("content-length").is_none(),
        "streamed, not buffered"
    );
    let text = csv.text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let exported: Vec<String> = rows
        .iter()
        .map(|line| line.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        exported.iter().collect::<HashSet<_>>().len(),
        exported.len()
    );
    assert!(exported == stored, "every enquiry once, newest first");
    app.stop().await;
}
on_both_databases!(pages_link_forward_and_back_and_the_csv_streams_every_row);
