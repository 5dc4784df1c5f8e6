//! Pressing "Send" twice makes one enquiry. A recorder between browser and
//! service counts the posts that really arrive.
//!
//! - With JavaScript the script disables the button while it sends: a double
//!   click during the send posts nothing more.
//! - Without JavaScript, Chromium itself folds a quick double click into one
//!   post (observed: one post arrives). A family pressing again while the
//!   first post is still loading does send the form twice; the page's
//!   idempotency key `_k` makes the second post a replay of the first (the
//!   same 303, nothing new stored).

use std::time::Duration;

use crate::helpers::eventually;

use super::form_flow::fill_in;
use super::recorder::{Recorder, Seen};
use super::webdriver::{Browser, ENTER, chromedriver_path};
use super::{HOME, Setup, setup};

/// The posts that reached the service, once `n` have arrived.
async fn wait_for_posts(proxy: &Recorder, n: usize) -> Vec<Seen> {
    eventually(Duration::from_secs(20), || async {
        let posts = proxy.posts();
        (posts.len() >= n).then_some(posts)
    })
    .await
    .unwrap_or_else(|| panic!("{n} posts never arrived: {:?}", proxy.posts()))
}

/// The posts once every one has been answered.
async fn answered_posts(proxy: &Recorder) -> Vec<Seen> {
    eventually(Duration::from_secs(20), || async {
        let posts = proxy.posts();
        posts.iter().all(|p| p.status != 0).then_some(posts)
    })
    .await
    .expect("every post is answered")
}

/// Every stored enquiry has one delivery row: count them once all are synced.
async fn stored_enquiries(s: &Setup) -> Option<i64> {
    eventually(Duration::from_secs(10), || async {
        let counts = s.app.store.count_by_status().await.ok()?;
        let total: i64 = counts.iter().map(|(_, n)| n).sum();
        let synced = counts
            .iter()
            .find(|(status, _)| *status == enquiry_relay::storage::DeliveryStatus::Synced)
            .map_or(0, |(_, n)| *n);
        (synced == total).then_some(total)
    })
    .await
}

async fn thank_you_and_one_enquiry(s: &Setup, browser: &Browser) {
    browser.wait_for_url(&format!("/forms/{HOME}/thanks")).await;
    s.sandbox.wait_for(1).await;
    assert_eq!(stored_enquiries(s).await, Some(1), "one enquiry stored");
    assert_eq!(s.sandbox.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_click_with_javascript_makes_one_enquiry() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let proxy = Recorder::start(&s.app.address).await;
    let browser = Browser::start_not_waiting(&driver, true, 1000).await;
    browser
        .goto(&format!("{}/forms/{HOME}", proxy.address))
        .await;
    browser.find("html.js").await;
    fill_in(&browser, 7).await;
    proxy.hold_answers();
    let button = browser.find("button[type=submit]").await;
    browser.double_click(&button).await;
    wait_for_posts(&proxy, 1).await;
    // While the post is in flight the button is disabled; clicks meet nothing.
    assert!(
        browser.attribute(&button, "disabled").await.is_some(),
        "the script disables Send while sending"
    );
    browser.double_click(&button).await;
    let more = eventually(Duration::from_secs(2), || async {
        (proxy.posts().len() > 1).then_some(())
    })
    .await;
    assert!(more.is_none(), "a second post arrived: {:?}", proxy.posts());
    proxy.release_answers();
    thank_you_and_one_enquiry(&s, &browser).await;
    let posts = answered_posts(&proxy).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].content_type.starts_with("application/json"),
        "{posts:?}"
    );
    assert_eq!((posts[0].status, posts[0].replayed), (201, false));
    drop(browser);
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_click_without_javascript_makes_one_enquiry() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let proxy = Recorder::start(&s.app.address).await;
    let browser = Browser::start(&driver, false, 1000).await;
    browser
        .goto(&format!("{}/forms/{HOME}", proxy.address))
        .await;
    fill_in(&browser, 8).await;
    let button = browser.find("button[type=submit]").await;
    browser.double_click(&button).await;
    thank_you_and_one_enquiry(&s, &browser).await;
    // Chromium may fold the two clicks into one post; each that arrives is a 303.
    let posts = answered_posts(&proxy).await;
    assert!(!posts.is_empty() && posts.len() <= 2, "{posts:?}");
    assert!(posts.iter().all(|p| p.status == 303), "{posts:?}");
    drop(browser);
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_send_again_while_loading_without_javascript_posts_twice_and_stores_once() {
    let Some(driver) = chromedriver_path() else {
        return;
    };
    let s = setup("https://example-care.co.uk").await;
    let proxy = Recorder::start(&s.app.address).await;
    let browser = Browser::start_not_waiting(&driver, false, 1000).await;
    browser
        .goto(&format!("{}/forms/{HOME}", proxy.address))
        .await;
    fill_in(&browser, 9).await;
    proxy.hold_answers();
    browser.click_css("button[type=submit]").await;
    wait_for_posts(&proxy, 1).await;
    // The first answer is held back: the form is still on screen, the button
    // has focus. Press it again, from the keyboard (while a page is loading
    // chromedriver finds no elements, but keys still go to the page).
    browser.press_key(ENTER).await;
    wait_for_posts(&proxy, 2).await;
    proxy.release_answers();
    thank_you_and_one_enquiry(&s, &browser).await;
    let posts = answered_posts(&proxy).await;
    assert_eq!(
        posts.len(),
        2,
        "both presses reached the service: {posts:?}"
    );
    for post in &posts {
        assert!(
            post.content_type
                .starts_with("application/x-www-form-urlencoded"),
            "{posts:?}"
        );
        assert_eq!(post.status, 303, "{posts:?}");
        assert_eq!(post.path, format!("/forms/{HOME}"), "{posts:?}");
    }
    assert_eq!(posts[0].location, posts[1].location, "{posts:?}");
    assert_eq!(
        posts.iter().filter(|p| p.replayed).count(),
        1,
        "the second is answered as a replay of the first: {posts:?}"
    );
    drop(browser);
    s.app.stop().await;
}
