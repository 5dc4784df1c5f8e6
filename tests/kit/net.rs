//! Loopback ports, unique file names and polling.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago, for a child process that
/// binds it itself (a listener in this process binds port 0 instead).
/// Another process may take it before the child binds:
/// [`crate::kit::BinaryApp::serve`] starts again on another port when that
/// happens, so use it rather than this where it can.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// `dir/<stem>-<unique>.<ext>`: a file name no other start shares. Not
/// derived from a port, which two starts may be given one after the other.
pub fn unique_file(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    dir.join(format!("{stem}-{}.{ext}", uuid::Uuid::now_v7().simple()))
}

/// An HTTP client that does not follow redirects.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Poll `check` every 25 ms until it gives a value or `limit` passes.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
