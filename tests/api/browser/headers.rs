//! Form pages over plain HTTP: security headers, caching of pages and static
//! files, the consent version stored with the enquiry, and page weight.

use serde_json::json;

use crate::helpers::{SITE, family};

use super::{CONSENT_VERSION, HOME, setup, setup_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_are_not_cached() {
    let s = setup("https://example-care.co.uk").await;
    for path in [
        format!("/forms/{HOME}"),
        format!("/forms/{HOME}/thanks"),
        "/forms/no-such-home".to_owned(),
        "/forms/no-such-home/thanks".to_owned(),
        "/no-such-page".to_owned(),
    ] {
        let response = s
            .app
            .http
            .get(format!("{}{path}", s.app.address))
            .send()
            .await
            .expect("get page");
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
        // Error pages too: a cached "not found" would outlive the fix.
        assert_eq!(
            h.get("cache-control").map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "{path} ({})",
            response.status()
        );
        if path == "/no-such-page" {
            assert_eq!(response.status(), 404);
            let page = response.text().await.expect("body");
            assert!(page.contains("Check the link"), "{page}");
        }
    }
    let form = s
        .app
        .http
        .get(format!("{}/forms/{HOME}", s.app.address))
        .send()
        .await
        .expect("form");
    let csp = form.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.ends_with("frame-ancestors https://example-care.co.uk"),
        "{csp}"
    );
    s.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_fingerprinted_and_cached_for_a_year() {
    let s = setup("https://example-care.co.uk").await;
    let html = s
        .app
        .http
        .get(format!("{}/forms/{SITE}", s.app.address))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("body");
    let links = asset_links(&html);
    let kinds: Vec<&str> = links
        .iter()
        .filter_map(|href| href.rsplit_once('.').map(|(_, ext)| ext))
        .collect();
    assert_eq!(
        kinds,
        ["css", "js"],
        "one stylesheet, one script: {links:?}"
    );
    for href in links {
        assert!(
            regex_like_fingerprint(&href),
            "pages link fingerprinted names: {href}"
        );
        let url = format!("{}{href}", s.app.address);
        let first = s.app.http.get(&url).send().await.expect("asset");
        assert_eq!(first.status(), 200);
        assert_eq!(
            first.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let etag = first.headers()["etag"].clone();
        let again = s
            .app
            .http
            .get(&url)
            .header("if-none-match", etag)
            .send()
            .await
            .expect("revalidate");
        assert_eq!(again.status(), 304);
    }
    // The plain names stay for sites that link them from their own HTML.
    let plain = s
        .app
        .http
        .get(format!("{}/static/form.js", s.app.address))
        .send()
        .await
        .expect("plain name");
    assert_eq!(plain.status(), 200);
    assert!(
        plain.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/javascript")
    );
    let missing = s
        .app
        .http
        .get(format!("{}/static/nope.css", s.app.address))
        .send()
        .await
        .expect("missing");
    assert_eq!(missing.status(), 404);
    s.app.stop().await;
}

/// `/static/form.<12 hex>.css|js`.
fn regex_like_fingerprint(href: &str) -> bool {
    let Some(name) = href.strip_prefix("/static/form.") else {
        return false;
    };
    let Some((hash, ext)) = name.split_once('.') else {
        return false;
    };
    hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && ["css", "js"].contains(&ext)
}

fn asset_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attr in ["href=\"/static/", "src=\"/static/"] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            let start = at + attr.len() - "/static/".len();
            let end = rest[start..].find('"').map_or(rest.len(), |e| start + e);
            links.push(rest[start..end].to_owned());
            rest = &rest[end..];
        }
    }
    links
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_is_required_and_its_version_is_stored() {
    let s = setup("https://example-care.co.uk").await;
    let refused = s.app.post_json(HOME, &family(1)).await;
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert!(body["fields"]["consent"].is_array(), "{body}");

    let mut agreed = family(2);
    agreed["consent"] = json!("yes");
    let created = s.app.post_json(HOME, &agreed).await;
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (_, payload) = s
        .app
        .store
        .enquiry_payload(&id.parse().unwrap())
        .await
        .expect("read payload")
        .expect("stored");
    let payload = payload.expect("payload kept until delivery");
    let stored: serde_json::Value = serde_json::from_str(&payload).expect("payload is JSON");
    assert_eq!(stored["consent"], true, "{payload:?}");
    assert_eq!(stored["consent_version"], CONSENT_VERSION, "{payload:?}");
    s.sandbox.wait_for(1).await;
    s.app.stop().await;
}

/// Visiting hours as in `enquiry-relay.example.toml`: two windows on
/// weekdays, one on Saturdays, 30-minute slots, two weeks ahead.
const VISITS_TOML: &str = r#"
[sites.visits]
enabled = true
monday = ["10:00-12:00", "14:00-16:00"]
tuesday = ["10:00-12:00", "14:00-16:00"]
wednesday = ["10:00-12:00", "14:00-16:00"]
thursday = ["10:00-12:00", "14:00-16:00"]
friday = ["10:00-12:00", "14:00-16:00"]
saturday = ["14:00-16:00"]
slot_length = "30m"
days_ahead = 14
"#;

/// Long visiting hours: 09:00–17:00 every day in 30-minute slots, two weeks
/// ahead (about 240 slots): the heaviest form a home is likely to configure.
const LONG_HOURS_TOML: &str = r#"
[sites.visits]
enabled = true
monday = ["09:00-17:00"]
tuesday = ["09:00-17:00"]
wednesday = ["09:00-17:00"]
thursday = ["09:00-17:00"]
friday = ["09:00-17:00"]
saturday = ["09:00-17:00"]
sunday = ["09:00-17:00"]
slot_length = "30m"
days_ahead = 14
"#;

/// The home again, with visit booking on (the form gains the slot
/// `<select>`): once with the example's hours, once with long hours.
fn home_with_visits() -> String {
    let home_as = |slug: &str, visits: &str| {
        format!(
            "{}{visits}",
            super::home_toml("https://example-care.co.uk")
                .replace(&format!("slug = \"{HOME}\""), &format!("slug = \"{slug}\""))
        )
    };
    home_as("rose-lodge-visits", VISITS_TOML) + &home_as("rose-lodge-long-hours", LONG_HOURS_TOML)
}

/// First visit: the HTML plus every stylesheet and script it links
/// (the CAPTCHA provider's widget excluded), for the form without and with
/// visit booking. BENCHMARKS.md quotes this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_visit_page_weight_is_under_30_kb() {
    let s = setup_with("https://example-care.co.uk", &home_with_visits()).await;
    for site in [HOME, "rose-lodge-visits", "rose-lodge-long-hours"] {
        let html = s
            .app
            .http
            .get(format!("{}/forms/{site}", s.app.address))
            .send()
            .await
            .expect("form")
            .bytes()
            .await
            .expect("body");
        let page = String::from_utf8_lossy(&html);
        let slots = page.matches("<option value=\"20").count();
        if site == "rose-lodge-long-hours" {
            assert!(slots >= 200, "long hours offer many slots: {slots}");
        } else if site != HOME {
            assert!(slots >= 20, "the visit form offers its slots: {slots}");
        }
        let mut total = html.len();
        let mut parts = vec![format!("html {}", html.len())];
        for href in asset_links(&page) {
            let body = s
                .app
                .http
                .get(format!("{}{href}", s.app.address))
                .send()
                .await
                .expect("asset")
                .bytes()
                .await
                .expect("asset body");
            parts.push(format!("{href} {}", body.len()));
            total += body.len();
        }
        println!(
            "page weight of /forms/{site} ({slots} visit slots), uncompressed bytes: {total} = {}",
            parts.join(" + ")
        );
        assert!(
            total < 30 * 1024,
            "{site}: first visit is {total} bytes: {parts:?}"
        );
    }
    s.app.stop().await;
}
