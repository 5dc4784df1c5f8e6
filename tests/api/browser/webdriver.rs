//! A small W3C WebDriver client over reqwest, driving Debian's headless
//! Chromium through chromedriver (`apt-get install chromium chromium-driver`).
//! Only what the browser tests use: sessions, navigation, elements, keys,
//! clicks, scripts, actions and screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::{eventually, free_port};

/// One browser at a time: Chromium is heavy and CI machines are small.
static ONE_BROWSER: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(1));

/// WebDriver's code for the Tab key.
pub const TAB: &str = "\u{E004}";
/// WebDriver's code for the Enter key.
pub const ENTER: &str = "\u{E007}";

/// The W3C element key in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where screenshots go (docs/development.md, "Browser tests").
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

/// chromedriver's path, or `None` (with a note) when it is not installed
/// outside CI; in CI a missing driver fails the test.
pub fn chromedriver_path() -> Option<PathBuf> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver is missing: apt-get install -y chromium chromium-driver"
        );
        eprintln!("chromedriver not installed: skipping this browser test");
    }
    found
}

/// A chromedriver process and one session in it; both end on drop.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Deleting the session closes Chromium; then end the driver we started.
        // On its own thread with a deadline: a chromedriver that never answers
        // (seen once in CI, blocked past the socket's read timeout) must not
        // hold the one-browser permit, and so every later browser test, forever.
        let session = self.session.clone();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            delete_blocking(&session);
            let _ = done.send(());
        });
        if finished.recv_timeout(Duration::from_secs(20)).is_err() {
            eprintln!("chromedriver did not end the session within 20 s; killing it");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE` over a plain socket: Drop cannot await, and the session URL is
/// always loopback HTTP.
fn delete_blocking(url: &str) {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        return;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    let request = format!(
        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver answers once the session has ended, but keeps the
    // connection open whatever `Connection: close` says: reading to the end
    // would wait out the read timeout (15 s a test). The answer's headers
    // are all we need.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Headless Chromium with JavaScript on or off, at `width` × 900 CSS px.
    pub async fn start(driver_path: &Path, javascript: bool, width: u32) -> Browser {
        Browser::launch(driver_path, javascript, width, 1, "normal").await
    }

    /// The same, but commands return without waiting for a page to load, so
    /// a test can click again while a post is still loading.
    pub async fn start_not_waiting(driver_path: &Path, javascript: bool, width: u32) -> Browser {
        Browser::launch(driver_path, javascript, width, 1, "none").await
    }

    /// A desktop window of `width` CSS px drawn at `scale` device pixels per
    /// CSS px: what browser zoom does (200 % zoom on a 1280 px wide screen is
    /// 640 CSS px at a device pixel ratio of 2). JavaScript on.
    pub async fn start_zoomed(driver_path: &Path, width: u32, scale: u32) -> Browser {
        Browser::launch(driver_path, true, width, scale, "normal").await
    }

    async fn launch(
        driver_path: &Path,
        javascript: bool,
        width: u32,
        scale: u32,
        page_load_strategy: &str,
    ) -> Browser {
        let permit = ONE_BROWSER.acquire().await.expect("semaphore");
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let ready = eventually(Duration::from_secs(20), || async {
            let status = http.get(format!("{base}/status")).send().await.ok()?;
            let body: Value = status.json().await.ok()?;
            body["value"]["ready"].as_bool().filter(|r| *r)
        })
        .await;
        assert!(ready.is_some(), "chromedriver did not become ready");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},900"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false".into());
        }
        if scale != 1 {
            args.push(format!("--force-device-scale-factor={scale}"));
        }
        let mut chrome = json!({"args": args, "binary": "/usr/bin/chromium"});
        // Desktop windows stop at 500 px; narrower screens are emulated.
        if width < 500 {
            chrome["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": 640, "pixelRatio": 1}});
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": page_load_strategy,
            "goog:chromeOptions": chrome,
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session answer");
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Browser {
            http,
            session: format!("{base}/session/{id}"),
            driver,
            _profile: profile,
            _permit: permit,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_call(method, path, body).await {
            Ok(value) => value,
            Err(e) => panic!("{e}"),
        }
    }

    /// As `call`, with WebDriver's error as a value (an element of the page
    /// being left goes stale: a caller waiting for the next page retries).
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("webdriver {path} answer: {e}"));
        if let Some(error) = answer["value"]["error"].as_str() {
            return Err(format!(
                "webdriver {path}: {error}: {}",
                answer["value"]["message"]
            ));
        }
        Ok(answer["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn title(&self) -> String {
        self.get("/title")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Elements matching a CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        found
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting up to 15 s for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        eventually(Duration::from_secs(15), || async {
            self.find_all(css).await.into_iter().next()
        })
        .await
        .unwrap_or_else(|| panic!("no element matches {css} on {}", "the page"))
    }

    pub async fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/text", element.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A DOM property, e.g. an input's current `value`.
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        self.get(&format!("/element/{}/property/{name}", element.0))
            .await
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.get(&format!("/element/{}/attribute/{name}", element.0))
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// The focused element's id (no script needed, so it works with JS off).
    pub async fn active_id(&self) -> String {
        let active = self.get("/element/active").await;
        let element = Element(active[ELEMENT].as_str().unwrap_or_default().to_owned());
        self.attribute(&element, "id").await.unwrap_or_default()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Empty an input or textarea.
    pub async fn clear(&self, css: &str) {
        let element = self.find(css).await;
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .await;
    }

    /// The current page's cookie `name` (HttpOnly ones too), if set.
    pub async fn cookie(&self, name: &str) -> Option<Value> {
        let all = self.get("/cookie").await;
        all.as_array()?.iter().find(|c| c["name"] == name).cloned()
    }

    /// Set a cookie on the current page's site, as a copied cookie would be.
    pub async fn add_cookie(&self, cookie: Value) {
        self.post("/cookie", json!({ "cookie": cookie })).await;
    }

    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    pub async fn click_css(&self, css: &str) {
        let element = self.find(css).await;
        self.click(&element).await;
    }

    /// Two clicks in one gesture, as a person double-clicking the button.
    pub async fn double_click(&self, element: &Element) {
        let origin = json!({ ELEMENT: element.0 });
        self.post(
            "/actions",
            json!({"actions": [{
                "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "origin": origin, "x": 0, "y": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerUp", "button": 0}
                ]
            }]}),
        )
        .await;
    }

    /// Press and release one key on the focused element, e.g. [`TAB`].
    pub async fn press_key(&self, key: &str) {
        self.post(
            "/actions",
            json!({"actions": [{
                "type": "key", "id": "keyboard",
                "actions": [
                    {"type": "keyDown", "value": key},
                    {"type": "keyUp", "value": key}
                ]
            }]}),
        )
        .await;
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Switch into the first `<iframe>` (or back out with `None`).
    pub async fn frame(&self, element: Option<&Element>) {
        let id = match element {
            Some(e) => json!({ ELEMENT: e.0 }),
            None => Value::Null,
        };
        self.post("/frame", json!({ "id": id })).await;
    }

    /// A PNG of the viewport, written under `target/screenshots/`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("write screenshot");
        path
    }

    /// A full-page PNG: the window is made as tall as the page first.
    pub async fn full_screenshot(&self, name: &str, width: u32) -> PathBuf {
        let height = self
            .execute("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(900);
        self.post(
            "/window/rect",
            json!({"width": width, "height": height.clamp(600, 4000) + 140}),
        )
        .await;
        self.screenshot(name).await
    }

    /// Wait up to 15 s until an element matching `css` reads `expected`:
    /// after a click the old page may still be shown, and its elements go
    /// stale as the new one loads.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let seen = eventually(Duration::from_secs(15), || async {
            for element in self.find_all(css).await {
                let path = format!("/element/{}/text", element.0);
                let text = self.try_call(reqwest::Method::GET, &path, None).await;
                if text.ok().as_ref().and_then(Value::as_str) == Some(expected) {
                    return Some(());
                }
            }
            None
        })
        .await;
        if seen.is_none() {
            panic!("no {css} reads {expected:?} on {}", self.url().await);
        }
    }

    pub async fn wait_for_url(&self, suffix: &str) -> String {
        eventually(Duration::from_secs(20), || async {
            let url = self.url().await;
            url.contains(suffix).then_some(url)
        })
        .await
        .unwrap_or_else(|| panic!("the browser never reached …{suffix}"))
    }
}
