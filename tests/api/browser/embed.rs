//! Embedding: a care home's page frames `/forms/{site}?embed=1`; the form
//! posts its height to the parent, and `frame-ancestors` is the site's
//! `allowed_origins`.

use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::helpers::{SITE, eventually};

use super::webdriver::{Browser, chromedriver_path};
use super::{HOME, setup};

/// The care home's own website: the copy-paste snippet from docs/hosted-form.md, "Embedding".
fn parent_page(app: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Rose Lodge – contact</title></head>
<body>
<h1>Contact us</h1>
<iframe id="enquiry-form" src="{app}/forms/{HOME}?embed=1" title="Enquiry form"
        style="width:100%;max-width:40rem;border:0;height:40rem" loading="lazy"></iframe>
<script>
window.heights = [];
window.addEventListener("message", function (e) {{
  if (e.origin !== "{app}" || !e.data || e.data.type !== "enquiry-relay:height") return;
  window.heights.push(e.data.height);
  document.getElementById("enquiry-form").style.height = e.data.height + "px";
}});
</script>
</body></html>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_form_sends_its_height_and_may_be_framed_only_by_the_site() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    // The parent site, on its own origin.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind parent");
    let parent = format!("http://{}", listener.local_addr().expect("addr"));
    let s = setup(&parent).await;
    let page = parent_page(&s.app.address);
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let router = axum::Router::new().route("/", get(move || async move { Html(page) }));
        axum::serve(listener, router)
            .with_graceful_shutdown(token.cancelled_owned())
            .await
    });

    // The header: the site's origins may frame its pages, nobody frames others.
    let response = s
        .app
        .http
        .get(format!("{}/forms/{HOME}?embed=1", s.app.address))
        .send()
        .await
        .expect("get embedded form");
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.ends_with(&format!("frame-ancestors {parent}")), "{csp}");
    let other = s
        .app
        .http
        .get(format!("{}/forms/{SITE}?embed=1", s.app.address))
        .send()
        .await
        .expect("get other form");
    let other_csp = other.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(
        other_csp.contains("frame-ancestors 'none'"),
        "a site without allowed_origins cannot be framed: {other_csp}"
    );

    let browser = Browser::start(&driver, true, 900).await;
    browser.goto(&parent).await;
    let heights = eventually(Duration::from_secs(20), || async {
        let got = browser.execute("return window.heights;").await;
        got.as_array()
            .filter(|h| !h.is_empty())
            .map(|h| h.iter().filter_map(|v| v.as_u64()).collect::<Vec<_>>())
    })
    .await
    .expect("the embedded form posts its height to the parent");
    let last = *heights.last().expect("a height");
    assert!(last > 400, "the form is taller than 400 px: {heights:?}");
    let frame_height = browser
        .execute("return document.getElementById('enquiry-form').getBoundingClientRect().height;")
        .await
        .as_f64()
        .unwrap_or_default();
    assert!(
        (frame_height - last as f64).abs() < 2.0,
        "the parent sized the frame to the message: {frame_height} vs {last}"
    );
    browser.full_screenshot("embedded", 900).await;

    // Inside the frame: the form without page chrome.
    let frame = browser.find("#enquiry-form").await;
    browser.frame(Some(&frame)).await;
    browser.find("#first_name").await;
    assert!(
        browser.find_all("footer").await.is_empty(),
        "no chrome when embedded"
    );
    assert!(browser.find_all(".skip-link").await.is_empty());
    assert_eq!(browser.find_all("input[name=_embed]").await.len(), 1);
    drop(browser);
    stop.cancel();
    s.app.stop().await;
}
