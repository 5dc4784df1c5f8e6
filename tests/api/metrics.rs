//! `/metrics`: Prometheus text that a small parser of the exposition format
//! accepts, with the figures we promise, and the optional staff-token guard.

use enquiry_relay::storage::DeliveryStatus;

use crate::helpers::{AppOptions, Db, TestApp};
use crate::on_both_databases;
use crate::status::{TOKEN, posted_id, with_token};

/// One sample: name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// Parse Prometheus text format 0.0.4; panics naming the first bad line.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.split_whitespace().collect();
            if words.first() == Some(&"TYPE") {
                assert!(
                    matches!(
                        words.get(2).copied(),
                        Some("counter" | "gauge" | "histogram" | "summary" | "untyped")
                    ),
                    "bad TYPE line: {line}"
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let labels = body
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair
                            .split_once('=')
                            .unwrap_or_else(|| panic!("bad label: {line}"));
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or_else(|| panic!("unquoted label value: {line}"));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                (name, labels)
            }
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name: {line}"
        );
        samples.push((name.to_owned(), labels, value));
    }
    samples
}

fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| {
            n == name && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| *v)
}

#[test]
fn the_parser_rejects_what_is_not_prometheus_text() {
    assert_eq!(parse("a_b{x=\"1\"} 2\n# TYPE a_b gauge\n").len(), 1);
    for bad in ["a_b", "a-b 1", "a{x=1} 1", "a{x=\"1\" 1", "1a 2", "a one"] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad}");
    }
}

async fn metrics_parse_as_prometheus_text_with_the_promised_series(db: Db) {
    let Some((_db, _sandbox, app)) = TestApp::builder(db)
        .options(with_token(AppOptions::default(), ""))
        .spawn()
        .await
    else {
        return;
    };
    let id = posted_id(&app, 1).await;
    app.wait_for_status(&id, DeliveryStatus::Synced).await;
    let response = app
        .http
        .get(format!("{}/metrics", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let samples = parse(&response.text().await.unwrap());
    // Gauges come from this app's database.
    assert_eq!(
        value(
            &samples,
            "enquiry_relay_enquiries",
            Some(("state", "synced"))
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "enquiry_relay_enquiries",
            Some(("state", "failed"))
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&samples, "enquiry_relay_oldest_pending_age_seconds", None),
        Some(0.0)
    );
    assert!(value(&samples, "enquiry_relay_carehq_rate_limit_remaining", None).is_some());
    // Counters are per process (other tests run here too): present and counting.
    assert!(
        value(
            &samples,
            "enquiry_relay_submissions_total",
            Some(("outcome", "accepted"))
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            &samples,
            "enquiry_relay_delivery_attempts_total",
            Some(("outcome", "synced"))
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            &samples,
            "enquiry_relay_carehq_request_duration_seconds_count",
            None
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            &samples,
            "enquiry_relay_carehq_request_duration_seconds_bucket",
            Some(("le", "+Inf"))
        )
        .is_some(),
        "latency is a histogram"
    );
    app.stop().await;
}
on_both_databases!(metrics_parse_as_prometheus_text_with_the_promised_series);

/// Outside sandbox mode `/metrics` asks for the staff token by default;
/// `metrics.require_token = false` opens it (for a scraper on a private network).
#[tokio::test]
async fn metrics_ask_for_the_staff_token_unless_turned_off() {
    let (db, sandbox, app) = TestApp::builder(Db::Sqlite)
        .options(with_token(AppOptions::default(), ""))
        .spawn_sqlite()
        .await;
    let url = format!("{}/metrics", app.address);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
    let wrong = app
        .http
        .get(&url)
        .bearer_auth(format!("{TOKEN}-not"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401, "a wrong token is refused too");
    let ok = app.http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    parse(&ok.text().await.unwrap());
    app.stop().await;

    let options = with_token(AppOptions::default(), "[metrics]\nrequire_token = false\n");
    let app = TestApp::spawn(&db, &sandbox.url, &options).await;
    let url = format!("{}/metrics", app.address);
    let open = app.http.get(&url).send().await.unwrap();
    assert_eq!(open.status(), 200, "require_token = false still opens it");
    parse(&open.text().await.unwrap());
    app.stop().await;
}
