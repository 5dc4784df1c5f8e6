//! The form page's Content-Security-Policy for each CAPTCHA provider: never
//! `unsafe-inline`, our own files, and exactly the provider's origins added
//! (from each provider's published CSP guidance), for a site whose
//! `[sites.captcha]` table picks the provider.

use std::collections::BTreeMap;

use enquiry_relay::sandbox::seed;

use crate::helpers::{AppOptions, Db, TestApp};

/// (provider, script-src, frame-src, style-src, connect-src, worker-src)
/// beyond `'self'`.
const PROVIDERS: [(&str, &str, &str, &str, &str, &str); 6] = [
    ("none", "", "", "", "", ""),
    (
        "turnstile",
        "https://challenges.cloudflare.com",
        "https://challenges.cloudflare.com",
        "",
        "",
        "",
    ),
    (
        "recaptcha",
        "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
        "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
        "",
        "",
        "",
    ),
    (
        "hcaptcha",
        "https://hcaptcha.com https://*.hcaptcha.com",
        "https://hcaptcha.com https://*.hcaptcha.com",
        "https://hcaptcha.com https://*.hcaptcha.com",
        "https://hcaptcha.com https://*.hcaptcha.com",
        "",
    ),
    (
        "friendly",
        "https://cdn.jsdelivr.net/npm/@friendlycaptcha/",
        "",
        "",
        "https://global.frcapi.com https://eu.frcapi.com",
        "blob:",
    ),
    (
        "altcha",
        "https://cdn.jsdelivr.net/npm/altcha@3.2.2/",
        "",
        "",
        "",
        "blob:",
    ),
];

/// One site per provider, each choosing it in its own `[sites.captcha]`;
/// there is no global `[captcha]`.
fn sites() -> String {
    PROVIDERS
        .iter()
        .map(|(provider, ..)| {
            let captcha = match *provider {
                "none" => String::new(),
                _ => format!(
                    "[sites.captcha]\nprovider = \"{provider}\"\nsite_key = \"key-{provider}\"\nsecret = \"secret-{provider}\"\n"
                ),
            };
            format!(
                "[[sites]]\nslug = \"with-{provider}\"\nname = \"Home {provider}\"\nlocation = \"{}\"\n{captcha}",
                seed::DEMO_LOCATION
            )
        })
        .collect()
}

/// Directive → its sources.
fn directives(csp: &str) -> BTreeMap<String, String> {
    csp.split(';')
        .filter_map(|d| {
            let d = d.trim();
            let (name, sources) = d.split_once(' ').unwrap_or((d, ""));
            (!name.is_empty()).then(|| (name.to_owned(), sources.trim().to_owned()))
        })
        .collect()
}

fn with_self(extra: &str) -> String {
    format!("'self' {extra}").trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_captcha_provider_adds_only_its_own_origins_to_the_form_csp() {
    let (_db, _sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(AppOptions::default().config(sites()))
        .spawn_sqlite()
        .await;
    for (provider, script, frame, style, connect, worker) in PROVIDERS {
        let response = app
            .http
            .get(format!("{}/forms/with-{provider}", app.address))
            .send()
            .await
            .expect("get form");
        assert_eq!(response.status(), 200, "{provider}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let html = response.text().await.expect("body");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{provider}: {csp}"
        );
        let mut expected = BTreeMap::new();
        for (name, sources) in [
            ("default-src", "'none'".to_owned()),
            ("script-src", with_self(script)),
            ("style-src", with_self(style)),
            ("img-src", "'self' data:".to_owned()),
            ("connect-src", with_self(connect)),
            ("frame-src", frame.to_owned()),
            ("worker-src", worker.to_owned()),
            ("base-uri", "'none'".to_owned()),
            ("form-action", "'self'".to_owned()),
            ("frame-ancestors", "'none'".to_owned()),
        ] {
            if !sources.is_empty() {
                expected.insert(name.to_owned(), sources);
            }
        }
        assert_eq!(directives(&csp), expected, "{provider}: {csp}");
        // The widget's script is on the page, and the policy lets it load.
        let external = external_scripts(&html);
        assert_eq!(
            external.len(),
            usize::from(provider != "none"),
            "{provider}: {external:?}"
        );
        for src in external {
            assert!(
                script.split(' ').any(|source| allows(source, &src)),
                "{provider}: {src} is not allowed by {script}"
            );
        }
    }
    app.stop().await;
}

/// `<script src="https://…">` URLs on the page (our own script is relative).
fn external_scripts(html: &str) -> Vec<String> {
    html.split("<script src=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(src, _)| src.to_owned()))
        .filter(|src| src.starts_with("https://"))
        .collect()
}

/// A CSP host source: `https://*.example.com` matches any subdomain; a source
/// with a path matches URLs under it.
fn allows(source: &str, url: &str) -> bool {
    match source.split_once("://*.") {
        Some((scheme, domain)) => url
            .strip_prefix(&format!("{scheme}://"))
            .and_then(|rest| rest.split('/').next())
            .is_some_and(|host| host.ends_with(&format!(".{domain}"))),
        None => {
            url.starts_with(source)
                && (source.ends_with('/') || url[source.len()..].starts_with('/'))
        }
    }
}
