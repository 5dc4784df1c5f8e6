//! The hosted form in a real browser (headless Chromium over WebDriver), plus
//! the form pages' headers, caching and page weight over plain HTTP.
//! Screenshots go to `target/screenshots/`.

mod accessibility;
mod csp;
mod double_click;
mod embed;
mod form_flow;
mod headers;
mod recorder;
mod staff_console;
mod token_refresh;
mod webdriver;

use enquiry_relay::sandbox::seed;

use crate::helpers::{AppOptions, TestApp, TestDb, TestSandbox};

/// The browser tests' own site: intro, consent statement, a relabelled field.
pub const HOME: &str = "rose-lodge";
pub const CONSENT_TEXT: &str =
    "I agree that Rose Lodge may keep these details and contact me about care.";
pub const CONSENT_VERSION: &str = "2026-11";

/// A second `[[sites]]` block; `allowed_origin` may frame its embedded form.
pub fn home_toml(allowed_origin: &str) -> String {
    format!(
        r#"
[[sites]]
slug = "{HOME}"
name = "Rose Lodge"
location = "{location}"
allowed_origins = ["{allowed_origin}"]
intro = "Tell us a little about who needs care and we will call you back within one working day."
consent_text = "{CONSENT_TEXT}"
consent_version = "{CONSENT_VERSION}"

[sites.labels]
care_requirements = "Tell us about the care needed"
"#,
        location = seed::DEMO_LOCATION,
    )
}

pub struct Setup {
    pub app: TestApp,
    pub sandbox: TestSandbox,
    pub _db: TestDb,
}

/// The real application (SQLite; the database plays no part in what a browser
/// sees) delivering to the CareHQ sandbox.
pub async fn setup(allowed_origin: &str) -> Setup {
    setup_with(allowed_origin, "").await
}

/// The same, with more TOML after the home's `[[sites]]` block.
pub async fn setup_with(allowed_origin: &str, more_toml: &str) -> Setup {
    let options = AppOptions::default().config(format!("{}{more_toml}", home_toml(allowed_origin)));
    let (db, sandbox, app) = TestApp::builder(crate::helpers::Db::Sqlite)
        .options(options)
        .spawn_sqlite()
        .await;
    Setup {
        app,
        sandbox,
        _db: db,
    }
}
