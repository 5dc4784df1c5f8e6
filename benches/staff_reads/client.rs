//! One staff member's HTTP client: signed in to the console (the sign-in
//! page's double-submit code, then the session cookie), the bearer token for
//! `/status` and `/metrics`, a 60 s timeout, no redirects followed, and each
//! answer read to its end (bytes and lines counted) while the clock runs.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};

use crate::html;

/// Longest wait for one answer.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// Bodies kept for reading (the list's HTML); longer ones are only counted.
const KEEP_BYTES: usize = 4 << 20;

/// How a request ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Answered {
        status: u16,
        bytes: usize,
        lines: usize,
    },
    TimedOut,
    Failed(String),
}

/// One timed request.
#[derive(Clone, Debug)]
pub struct Sample {
    pub ms: f64,
    pub outcome: Outcome,
    /// The body, when short enough to keep.
    pub body: Option<String>,
}

/// Which credential a read presents.
#[derive(Clone, Copy, Debug)]
pub enum Auth {
    Bearer,
    Session,
}

pub struct Staff {
    http: reqwest::Client,
    pub base: String,
    token: String,
    session_cookie: String,
}

impl Staff {
    /// Sign in to the console at `base` with the staff token.
    pub async fn sign_in(base: &str, token: &str) -> anyhow::Result<Staff> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let page = http.get(format!("{base}/staff/login")).send().await?;
        let login_cookie = cookie_pair(&page, "staff_login")
            .context("the sign-in page set no staff_login cookie")?;
        let csrf = html::input_value(&page.text().await?, "csrf")
            .context("the sign-in page has no csrf field")?;
        let signed_in = http
            .post(format!("{base}/staff/login"))
            .header(COOKIE, &login_cookie)
            .form(&[("token", token), ("csrf", csrf.as_str())])
            .send()
            .await?;
        let session_cookie = cookie_pair(&signed_in, "staff_session").with_context(|| {
            format!(
                "signing in answered {} without a session cookie",
                signed_in.status()
            )
        })?;
        Ok(Staff {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
            session_cookie,
        })
    }

    /// GET `path`, timed from sending to the last byte of the answer.
    pub async fn get(&self, path: &str, auth: Auth) -> Sample {
        let started = Instant::now();
        let (outcome, body) = match self.fetch(path, auth).await {
            Ok(done) => done,
            Err(e) if e.is_timeout() => (Outcome::TimedOut, None),
            Err(e) => (Outcome::Failed(e.to_string()), None),
        };
        Sample {
            ms: started.elapsed().as_secs_f64() * 1000.0,
            outcome,
            body,
        }
    }

    /// GET `path` and return its body; an error unless it answered 200.
    pub async fn text(&self, path: &str) -> anyhow::Result<String> {
        let sample = self.get(path, Auth::Session).await;
        match (&sample.outcome, sample.body) {
            (Outcome::Answered { status: 200, .. }, Some(body)) => Ok(body),
            (outcome, _) => anyhow::bail!("GET {path}: {outcome:?}"),
        }
    }

    async fn fetch(
        &self,
        path: &str,
        auth: Auth,
    ) -> Result<(Outcome, Option<String>), reqwest::Error> {
        let request = self.http.get(format!("{}{path}", self.base));
        let request = match auth {
            Auth::Bearer => request.header(AUTHORIZATION, format!("Bearer {}", self.token)),
            Auth::Session => request.header(COOKIE, &self.session_cookie),
        };
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        let (mut bytes, mut lines) = (0, 0);
        let mut kept = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            if kept.len() + chunk.len() <= KEEP_BYTES {
                kept.extend_from_slice(&chunk);
            }
        }
        let body = (kept.len() == bytes).then(|| String::from_utf8_lossy(&kept).into_owned());
        Ok((
            Outcome::Answered {
                status,
                bytes,
                lines,
            },
            body,
        ))
    }
}

/// `name=value` of a `Set-Cookie` of the response.
fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| k == name && !v.is_empty())
        })
        .map(str::to_owned)
}
