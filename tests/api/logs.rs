//! The real binary's log at the default level (RUST_LOG unset) carries request
//! ids but none of a family's details, in text and in JSON format.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{
    AppOptions, BinaryApp, Db, SITE, TestDb, TestSandbox, eventually, free_port, http_client,
    write_config,
};

const EMAIL: &str = "zebedee.quintrell@example.org";
const PHONE: &str = "07700 900462";
const SURNAME: &str = "Quintrell";
const MESSAGE: &str = "Mum needs nursing care after her fall";

/// How the log is asked for: text, or JSON through the config file or the environment.
#[derive(Clone, Copy, PartialEq)]
enum Format {
    Text,
    JsonFromFile,
    JsonFromEnv,
}

/// The real binary with `options`, its log (stdout and stderr) in a file,
/// at the default level; started and answering.
pub async fn start_logged_binary(
    db: &TestDb,
    sandbox: &TestSandbox,
    options: &AppOptions,
    json_env: bool,
) -> BinaryApp {
    let port = free_port();
    let config = write_config(db.dir.path(), &db.url, &sandbox.url, port, options);
    let log = db.dir.path().join("relay.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_enquiry-relay"));
    command
        .arg("--config")
        .arg(&config)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    if json_env {
        command.env("ENQUIRY_RELAY_LOG_FORMAT", "json");
    } else {
        command.env_remove("ENQUIRY_RELAY_LOG_FORMAT");
    }
    let app = BinaryApp {
        child: command.spawn().unwrap(),
        address: format!("http://127.0.0.1:{port}"),
        log,
        config,
        port,
    };
    let client = http_client();
    eventually(Duration::from_secs(30), || async {
        client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .ok()
            .map(|_| ())
    })
    .await
    .expect("binary starts");
    app
}

/// The whole log once the delivery line has landed (it is written after
/// CareHQ answers), with the binary stopped so nothing more is written.
async fn log_once_delivered(app: BinaryApp) -> String {
    let text = eventually(Duration::from_secs(10), || async {
        let text = app.log_text();
        text.contains("enquiry delivered to CareHQ").then_some(text)
    })
    .await
    .unwrap_or_else(|| panic!("delivery never logged:\n{}", app.log_text()));
    app.signal("TERM");
    let _ = app.wait_exit(Duration::from_secs(20)).await;
    text
}

async fn no_personal_data_in_the_log(format: Format) {
    let json = format != Format::Text;
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let options = match format {
        Format::JsonFromFile => AppOptions::default().config("[log]\nformat = \"json\"\n"),
        _ => AppOptions::default(),
    };
    let app = start_logged_binary(&db, &sandbox, &options, format == Format::JsonFromEnv).await;
    let client = http_client();

    let family = serde_json::json!({
        "first_name": "Zebedee", "last_name": SURNAME, "email": EMAIL, "phone": PHONE,
        "care_requirements": MESSAGE,
    });
    let response = client
        .post(format!("{}/forms/{SITE}", app.address))
        .header("X-Request-Id", "req-from-the-proxy-42")
        .json(&family)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "req-from-the-proxy-42");
    sandbox.wait_for(1).await;
    // And one the relay refuses, so the validation path is logged too.
    let mut invalid = family.clone();
    invalid["email"] = serde_json::json!(format!("{EMAIL}@@"));
    invalid["phone"] = serde_json::json!("x");
    let refused = client
        .post(format!("{}/forms/{SITE}", app.address))
        .json(&invalid)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let text = log_once_delivered(app).await;

    assert!(
        text.contains("req-from-the-proxy-42"),
        "request id logged:\n{text}"
    );
    for secret in [EMAIL, PHONE, "07700900462", SURNAME, MESSAGE, "Zebedee"] {
        assert!(
            !text.contains(secret),
            "{secret:?} appears in the log:\n{text}"
        );
    }
    if json {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_log_holds_no_family_details() {
    no_personal_data_in_the_log(Format::Text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_holds_no_family_details() {
    no_personal_data_in_the_log(Format::JsonFromEnv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_format_json_in_the_config_file_gives_json_lines() {
    no_personal_data_in_the_log(Format::JsonFromFile).await;
}

/// Posts shed as spam (a bot trap, the rate limit, a foreign origin) are counted in metrics
/// and leave no line at the default level, so a flood is not a log flood;
/// a family's post keeps its access line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shed_spam_leaves_no_access_line_at_the_default_level() {
    let db = TestDb::new(Db::Sqlite).await.unwrap();
    let sandbox = TestSandbox::start().await;
    let options = AppOptions::default()
        .shipped_spam("[spam]\nmin_fill_time = \"0s\"\n[rate_limit]\nper_ip = \"2/1h\"\n");
    let app = start_logged_binary(&db, &sandbox, &options, false).await;
    let client = http_client();
    let post = |request_id: &'static str, body: serde_json::Value| {
        client
            .post(format!("{}/forms/{SITE}", app.address))
            .header("X-Request-Id", request_id)
            .json(&body)
            .send()
    };
    let family = serde_json::json!({"name": "Sam Taylor", "email": "sam@example.com"});
    let mut bot = family.clone();
    bot["website"] = serde_json::json!("http://spam.example");

    assert_eq!(
        post("family-post-1", family.clone())
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(post("bot-post-2", bot).await.unwrap().status(), 201);
    assert_eq!(
        post("limited-post-3", family.clone())
            .await
            .unwrap()
            .status(),
        429
    );
    let refused = client
        .post(format!("{}/forms/{SITE}", app.address))
        .header("X-Request-Id", "foreign-origin-post-4")
        .header("Origin", "https://elsewhere.example")
        .json(&family)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let text = log_once_delivered(app).await;

    assert!(
        text.lines().any(|l| l.contains("family-post-1")
            && l.contains("finished processing request")
            && l.contains("201")),
        "the family's post has its access line:\n{text}"
    );
    for shed in ["bot-post-2", "limited-post-3", "foreign-origin-post-4"] {
        assert!(
            !text.contains(shed),
            "{shed} logged at the default level:\n{text}"
        );
    }
}
