//! The staff console in a real browser, without JavaScript: sign in, see the
//! overview's chart and its text alternative, correct an enquiry CareHQ
//! refused for a named field and find it corrected in the sandbox, release a
//! held one, retry every failed one the list shows; with JavaScript, a form
//! stripped of its CSRF token is refused and a signed-out cookie no longer
//! opens anything; and every page fits 320 px. Screenshots of each page.

use enquiry_relay::sandbox::{Faults, RefusedValue};
use serde_json::json;

use enquiry_relay::storage::DeliveryStatus;

use crate::helpers::{AppOptions, Db, TestApp, TestDb, TestSandbox, field, posted_id};
use crate::staff::{held_enquiry, staff_options};
use crate::status::TOKEN;

use super::webdriver::{Browser, chromedriver_path};

struct Console {
    app: TestApp,
    sandbox: TestSandbox,
    _db: TestDb,
}

async fn console() -> Console {
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(staff_options(AppOptions::default()))
        .spawn()
        .await
        .expect("sqlite test db");
    Console {
        app,
        sandbox,
        _db: db,
    }
}

async fn sign_in(browser: &Browser, app: &TestApp) {
    browser.goto(&format!("{}/staff/login", app.address)).await;
    browser.type_into("#token", TOKEN).await;
    browser.click_css("button[type=submit]").await;
    browser.wait_for_text("h1", "Overview").await;
}

/// The id in a detail page's URL.
fn id_of(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_journey_without_javascript() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let c = console().await;
    // One enquiry CareHQ refuses for its email address; two it refuses once.
    c.sandbox.set_faults(Faults {
        refuse_value: Some(RefusedValue {
            field: "email".into(),
            value: "family1@example.com".into(),
        }),
        ..Faults::default()
    });
    let refused = posted_id(&c.app, 1).await;
    c.app.drain_all().await;
    let first = posted_id(&c.app, 2).await;
    let second = posted_id(&c.app, 3).await;
    c.sandbox.set_faults(Faults {
        status: Some(400),
        status_times: Some(2),
        refuse_value: Some(RefusedValue {
            field: "email".into(),
            value: "family1@example.com".into(),
        }),
        ..Faults::default()
    });
    c.app.drain_all().await;
    let held = held_enquiry(&c.app, 4).await;
    for id in [&refused, &first, &second] {
        assert_eq!(c.app.delivery(id).await.status, DeliveryStatus::Failed);
    }

    let browser = Browser::start(&driver, false, 1000).await;
    browser
        .goto(&format!("{}/staff/login", c.app.address))
        .await;
    browser.screenshot("staff-login").await;
    sign_in(&browser, &c.app).await;

    // The chart: an image with its sentence, and the same as a table.
    let chart = browser.find("figure.chart svg").await;
    assert_eq!(
        browser.attribute(&chart, "role").await.as_deref(),
        Some("img")
    );
    assert_eq!(
        browser
            .attribute(&chart, "aria-labelledby")
            .await
            .as_deref(),
        Some("chart-summary")
    );
    let summary = browser.text(&browser.find("#chart-summary").await).await;
    assert!(
        summary.starts_with("4 enquiries in the last 30 days"),
        "{summary}"
    );
    assert_eq!(browser.find_all("figure.chart rect").await.len(), 30);
    let problems = browser.text(&browser.find("ul.problems").await).await;
    assert!(problems.contains("could not be delivered"), "{problems}");
    browser.full_screenshot("staff-overview", 1000).await;

    // Correct the refused address; only that field is offered.
    browser
        .goto(&format!("{}/staff/enquiries/{refused}", c.app.address))
        .await;
    let reason = browser
        .text(&browser.find("#field_email-reason").await)
        .await;
    assert!(reason.contains("does not accept this value"), "{reason}");
    assert!(browser.find_all("#field_first_name").await.is_empty());
    browser.full_screenshot("staff-failed-enquiry", 720).await;
    browser.clear("#field_email").await;
    browser
        .type_into("#field_email", "family1@example.org")
        .await;
    browser.click_css("form[action$=\"/edit\"] button").await;
    browser.wait_for_url("done=edited").await;
    c.app.drain_all().await;
    let arrived = c.sandbox.received();
    assert_eq!(arrived.len(), 1);
    assert_eq!(field(&arrived[0], "email"), Some("family1@example.org"));
    browser
        .goto(&format!("{}/staff/enquiries/{refused}", c.app.address))
        .await;
    let page = browser.text(&browser.find("main").await).await;
    assert!(page.contains("What the family first wrote"), "{page}");
    assert!(page.contains("family1@example.com"), "{page}");
    browser
        .full_screenshot("staff-corrected-enquiry", 1000)
        .await;

    // Release the held one from the list's Held filter.
    browser
        .goto(&format!("{}/staff/enquiries?state=held", c.app.address))
        .await;
    browser.click_css("tbody a").await;
    browser.wait_for_url(&held).await;
    browser.click_css("form[action$=\"/release\"] button").await;
    let url = browser.wait_for_url("done=released").await;
    assert_eq!(id_of(&url), held);
    c.app.drain_all().await;
    assert_eq!(c.app.delivery(&held).await.status, DeliveryStatus::Synced);
    assert_eq!(c.sandbox.received().len(), 2);

    // Retry every failed one the list shows.
    browser
        .goto(&format!("{}/staff/enquiries?state=failed", c.app.address))
        .await;
    assert_eq!(browser.find_all("tbody tr").await.len(), 2);
    browser.full_screenshot("staff-list-failed", 1000).await;
    browser
        .click_css("form[action=\"/staff/enquiries/retry\"] button")
        .await;
    browser.wait_for_url("retried=2").await;
    let notice = browser.text(&browser.find("p.form-status").await).await;
    assert_eq!(notice, "2 failed enquiries are being sent again.");
    c.app.drain_all().await;
    for id in [&first, &second] {
        assert_eq!(c.app.delivery(id).await.status, DeliveryStatus::Synced);
    }
    assert_eq!(c.sandbox.received().len(), 4);
    drop(browser);
    c.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_forms_without_their_csrf_token_and_signed_out_cookies_are_refused() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let c = console().await;
    c.sandbox.set_faults(Faults::once(400));
    let id = posted_id(&c.app, 1).await;
    c.app.drain_all().await;
    let browser = Browser::start(&driver, true, 1000).await;
    sign_in(&browser, &c.app).await;

    browser
        .goto(&format!("{}/staff/enquiries/{id}", c.app.address))
        .await;
    browser
        .execute("document.querySelector('form[action$=\"/retry\"] input[name=csrf]').remove(); return true;")
        .await;
    browser.click_css("form[action$=\"/retry\"] button").await;
    browser
        .wait_for_text("h1", "This form could not be accepted")
        .await;
    browser.screenshot("staff-csrf-refused").await;
    assert_eq!(c.app.delivery(&id).await.status, DeliveryStatus::Failed);
    assert!(
        c.app
            .store
            .audit_of(&id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    // Keep a copy of the session cookie, sign out, then put the copy back.
    browser.goto(&format!("{}/staff", c.app.address)).await;
    let copy = browser
        .cookie("staff_session")
        .await
        .expect("session cookie");
    assert_eq!(copy["httpOnly"], json!(true));
    assert_eq!(copy["sameSite"], json!("Strict"));
    browser
        .click_css("form[action=\"/staff/logout\"] button")
        .await;
    browser.wait_for_url("/staff/login?signed_out=1").await;
    browser
        .add_cookie(json!({
            "name": "staff_session",
            "value": copy["value"],
            "path": "/staff",
            "httpOnly": true,
        }))
        .await;
    browser
        .goto(&format!("{}/staff/enquiries", c.app.address))
        .await;
    browser.wait_for_url("/staff/login").await;
    assert_eq!(
        browser.text(&browser.find("h1").await).await,
        "Sign in to the staff console"
    );
    drop(browser);
    c.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_pages_fit_a_320_px_screen() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let c = console().await;
    c.sandbox.set_faults(Faults::once(400));
    let id = posted_id(&c.app, 1).await;
    c.app.drain_all().await;
    let browser = Browser::start(&driver, true, 320).await;
    browser
        .goto(&format!("{}/staff/login", c.app.address))
        .await;
    for (path, name) in [
        ("/staff/login".to_owned(), "staff-login-320px"),
        ("/staff".to_owned(), "staff-overview-320px"),
        ("/staff/enquiries".to_owned(), "staff-list-320px"),
        (format!("/staff/enquiries/{id}"), "staff-detail-320px"),
    ] {
        if path == "/staff" {
            sign_in(&browser, &c.app).await;
        }
        browser.goto(&format!("{}{path}", c.app.address)).await;
        browser.find("h1").await;
        let widths = browser
            .execute("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        assert!(
            scroll <= inner,
            "{path} scrolls sideways: {scroll} > {inner}"
        );
        browser.full_screenshot(name, 320).await;
    }
    drop(browser);
    c.app.stop().await;
}
