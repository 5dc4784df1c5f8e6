//! Keyboard use, visible focus, and the layout at 320 px and at 200 % zoom.

use serde_json::Value;

use super::webdriver::{Browser, TAB, chromedriver_path};
use super::{HOME, setup};

/// The focused element: id (or tag), and its outline and box shadow as drawn.
const FOCUSED: &str = "var e = document.activeElement, c = getComputedStyle(e);
    return [e.id || e.tagName, c.outlineStyle + ' ' + c.outlineWidth, c.boxShadow];";

/// Every control a person can tab to, in page order, with its unfocused style.
const CONTROLS: &str = "var out = [];
    document.querySelectorAll('a[href], input, select, textarea, button').forEach(function (e) {
      if (e.type === 'hidden' || e.tabIndex < 0 || e.disabled) { return; }
      var c = getComputedStyle(e);
      out.push([e.id || e.tagName, c.outlineStyle + ' ' + c.outlineWidth, c.boxShadow]);
    });
    return out;";

fn texts(row: &Value) -> Vec<String> {
    row.as_array()
        .map(|r| {
            r.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_reaches_every_field_in_order_with_a_visible_focus() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let browser = Browser::start(&driver, true, 1000).await;
    browser
        .goto(&format!("{}/forms/{HOME}", s.app.address))
        .await;
    browser.find("#first_name").await;
    let controls: Vec<Vec<String>> = browser
        .execute(CONTROLS)
        .await
        .as_array()
        .map(|rows| rows.iter().map(texts).collect())
        .unwrap_or_default();
    let order: Vec<&str> = controls.iter().map(|c| c[0].as_str()).collect();
    // The skip link, every field of the form, then the button; the honeypot
    // (tabindex -1) is not among them.
    assert_eq!(
        order,
        [
            "A",
            "first_name",
            "last_name",
            "email",
            "phone",
            "care_requirements",
            "enquiring_for_self",
            "service",
            "funding_type",
            "consent",
            "BUTTON"
        ]
    );

    for unfocused in &controls {
        browser.press_key(TAB).await;
        let focused = texts(&browser.execute(FOCUSED).await);
        assert_eq!(focused[0], unfocused[0], "Tab moves on in page order");
        let outlined = !focused[1].starts_with("none") && !focused[1].ends_with(" 0px");
        let shadowed = focused[2] != "none";
        assert!(
            outlined || shadowed,
            "{}: focus is visible ({focused:?})",
            focused[0]
        );
        assert_ne!(
            (&focused[1], &focused[2]),
            (&unfocused[1], &unfocused[2]),
            "{}: focus looks different from no focus",
            focused[0]
        );
        if focused[0] == "consent" {
            browser.screenshot("keyboard-focus").await;
        }
    }
    drop(browser);
    s.app.stop().await;
}

/// `[document width, viewport width, device pixel ratio]` after the form loads.
async fn widths(browser: &Browser, url: &str) -> (u64, u64, f64) {
    browser.goto(url).await;
    browser.find("#first_name").await;
    let w = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth, window.devicePixelRatio];",
        )
        .await;
    (
        w[0].as_u64().unwrap_or(u64::MAX),
        w[1].as_u64().unwrap_or(0),
        w[2].as_f64().unwrap_or(0.0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fits_a_320_px_screen_without_sideways_scrolling() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let browser = Browser::start(&driver, true, 320).await;
    let (scroll, inner, _) = widths(&browser, &format!("{}/forms/{HOME}", s.app.address)).await;
    assert!(inner > 0 && inner <= 340, "viewport {inner}");
    assert!(
        scroll <= inner,
        "content {scroll} wider than viewport {inner}"
    );
    browser.full_screenshot("form-320px", 320).await;
    drop(browser);
    s.app.stop().await;
}

/// 200 % zoom on a 1280 px wide screen: 640 CSS px at two device pixels each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fits_a_1280_px_screen_zoomed_to_200_percent_without_sideways_scrolling() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let browser = Browser::start_zoomed(&driver, 640, 2).await;
    let (scroll, inner, ratio) = widths(&browser, &format!("{}/forms/{HOME}", s.app.address)).await;
    assert_eq!(ratio, 2.0, "two device pixels per CSS pixel");
    assert!((600..=660).contains(&inner), "viewport {inner}");
    assert!(
        scroll <= inner,
        "content {scroll} wider than viewport {inner}"
    );
    browser.full_screenshot("form-200-percent-zoom", 640).await;
    drop(browser);
    s.app.stop().await;
}
