//! Open the form, send it empty, see the error summary, fill it in, land on
//! the thank-you page, and find the enquiry in the CareHQ sandbox — with
//! JavaScript (proved to be the script's JSON path) and without.

use serde_json::json;

use crate::helpers::field;

use super::recorder::Recorder;
use super::webdriver::{Browser, chromedriver_path};
use super::{CONSENT_TEXT, HOME, setup};

const MESSAGE: &str = "Respite care for my mother from March.\nShe needs a ground-floor room.";

pub async fn fill_in(browser: &Browser, n: usize) {
    browser.type_into("#first_name", "Zoë").await;
    browser
        .type_into("#last_name", &format!("O'Brien {n}"))
        .await;
    browser
        .type_into("#email", &format!("family{n}@example.com"))
        .await;
    browser.type_into("#phone", "01632 960123").await;
    browser.type_into("#care_requirements", MESSAGE).await;
    browser
        .click_css("#enquiring_for_self option[value=false]")
        .await;
    browser
        .click_css("#service option[value=nursing_home]")
        .await;
    browser
        .click_css("#funding_type option[value=local_authority]")
        .await;
    browser.click_css("#consent").await;
}

/// The error state after sending the form empty: a summary that has focus
/// and links to each field, and each field marked and described.
async fn expect_error_state(browser: &Browser) {
    let summary = browser.find("#error-summary").await;
    assert!(browser.title().await.starts_with("Error: "));
    assert_eq!(
        browser.active_id().await,
        "error-summary",
        "focus moves to the summary"
    );
    let text = browser.text(&summary).await;
    assert!(text.contains("There is a problem"), "{text}");
    let links = browser.find_all("#error-summary a").await;
    let mut targets = Vec::new();
    for link in &links {
        targets.push(browser.attribute(link, "href").await.unwrap_or_default());
    }
    for wanted in ["#first_name", "#last_name", "#email", "#consent"] {
        assert!(
            targets.iter().any(|t| t.ends_with(wanted)),
            "summary links to {wanted}: {targets:?}"
        );
    }
    let first = browser.find("#first_name").await;
    assert_eq!(
        browser.attribute(&first, "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        browser
            .attribute(&first, "aria-describedby")
            .await
            .as_deref(),
        Some("first_name-error")
    );
    let email = browser.find("#email").await;
    assert_eq!(
        browser
            .attribute(&email, "aria-describedby")
            .await
            .as_deref(),
        Some("email-hint email-error")
    );
    assert!(!browser.find_all("#consent-error").await.is_empty());

    // Focus goes to the summary (GOV.UK pattern: it is announced, and lists
    // every problem); its first link leads to the first field in error.
    let invalid = browser.find_all("form [aria-invalid=true]").await;
    let first_invalid = match invalid.first() {
        Some(e) => browser.attribute(e, "id").await.unwrap_or_default(),
        None => panic!("no field is marked invalid"),
    };
    assert_eq!(first_invalid, "first_name");
    assert!(
        targets[0].ends_with(&format!("#{first_invalid}")),
        "the first link points at the first invalid field: {targets:?}"
    );
    browser.click(&links[0]).await;
    assert_eq!(
        browser.active_id().await,
        first_invalid,
        "following the link puts the cursor in that field"
    );
}

async fn full_journey(javascript: bool) {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    // The browser talks to the service through a recorder, which shows
    // whether each submission was the script's JSON or a plain form post.
    let proxy = Recorder::start(&s.app.address).await;
    let (suffix, encoding, stored) = match javascript {
        true => ("js", "application/json", 201),
        false => ("nojs", "application/x-www-form-urlencoded", 303),
    };
    let browser = Browser::start(&driver, javascript, 1000).await;
    browser
        .goto(&format!("{}/forms/{HOME}", proxy.address))
        .await;
    let html = browser.find("html").await;
    let classes = browser.attribute(&html, "class").await.unwrap_or_default();
    assert_eq!(
        classes.contains("js"),
        javascript,
        "the script ran only when JavaScript is on (class={classes:?})"
    );
    let consent_label = browser
        .text(&browser.find("label[for=consent]").await)
        .await;
    assert!(consent_label.contains(CONSENT_TEXT), "{consent_label}");
    browser.screenshot(&format!("form-{suffix}")).await;

    if javascript {
        // A page load (a broken script falling back to a plain post) would lose it.
        browser
            .execute("window.relayMarker = 'same page'; return true;")
            .await;
    }
    browser.click_css("button[type=submit]").await;
    browser.find("#error-summary").await;
    browser.screenshot(&format!("errors-{suffix}")).await;
    let posts = proxy.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].status, 422, "{posts:?}");
    assert!(posts[0].content_type.starts_with(encoding), "{posts:?}");
    if javascript {
        assert_eq!(
            browser
                .execute("return window.relayMarker === undefined ? null : window.relayMarker;")
                .await,
            json!("same page"),
            "the script showed the errors without reloading the page"
        );
    }
    expect_error_state(&browser).await;

    fill_in(&browser, 1).await;
    browser.click_css("button[type=submit]").await;
    browser.wait_for_url(&format!("/forms/{HOME}/thanks")).await;
    let heading = browser.text(&browser.find("h1").await).await;
    assert_eq!(heading, "Thank you");
    browser.screenshot(&format!("thanks-{suffix}")).await;
    let posts = proxy.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert_eq!(posts[1].status, stored, "{posts:?}");
    assert!(posts[1].content_type.starts_with(encoding), "{posts:?}");

    let received = s.sandbox.wait_for(1).await;
    let got = &received[0];
    assert_eq!(field(got, "first_name"), Some("Zoë"));
    assert_eq!(field(got, "last_name"), Some("O'Brien 1"));
    assert_eq!(field(got, "email"), Some("family1@example.com"));
    assert_eq!(field(got, "phone"), Some("01632 960123"));
    assert_eq!(field(got, "care_requirements"), Some(MESSAGE));
    assert_eq!(field(got, "enquiring_for_self"), Some("false"));
    assert_eq!(field(got, "service"), Some("nursing_home"));
    assert_eq!(field(got, "funding_type"), Some("local_authority"));
    assert_eq!(received.len(), 1);
    drop(browser);
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_javascript_errors_then_thank_you_and_delivery() {
    full_journey(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_errors_then_thank_you_and_delivery() {
    full_journey(false).await;
}

/// With the server gone, the family is told plainly and keeps what they typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_failure_says_so_and_keeps_what_was_typed() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let browser = Browser::start(&driver, true, 1000).await;
    browser
        .goto(&format!("{}/forms/{HOME}", s.app.address))
        .await;
    fill_in(&browser, 3).await;
    s.app.stop().await;
    browser.click_css("button[type=submit]").await;
    let status = browser.find("#form-status.problem").await;
    let text = browser.text(&status).await;
    assert!(text.contains("has not been sent"), "{text}");
    assert_eq!(browser.active_id().await, "form-status");
    let first = browser.find("#first_name").await;
    assert_eq!(
        browser.property(&first, "value").await,
        "Zoë",
        "what was typed is still there"
    );
    let button = browser.find("button[type=submit]").await;
    assert_eq!(
        browser.attribute(&button, "disabled").await,
        None,
        "the family can press Send again"
    );
    browser.screenshot("network-failure").await;
    assert!(s.sandbox.received().is_empty());
}
