//! The CareHQ sandbox served in this process on its own loopback port, as a
//! real CareHQ would be.

use std::time::Duration;

use enquiry_relay::sandbox::{Faults, ReceivedEnquiry, Sandbox, SandboxConfig};
use tokio_util::sync::CancellationToken;

use super::net::eventually;

pub struct TestSandbox {
    pub sandbox: Sandbox,
    /// What the service's `carehq.base_url` is set to.
    pub url: String,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        TestSandbox::start_with(SandboxConfig::default()).await
    }

    /// A sandbox with other limits (e.g. a rate limit of one request a second).
    pub async fn start_with(config: SandboxConfig) -> TestSandbox {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sandbox");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let sandbox = Sandbox::new(config);
        let stop = CancellationToken::new();
        let (serving, token) = (sandbox.clone(), stop.clone());
        let task = tokio::spawn(async move {
            enquiry_relay::sandbox::serve(listener, serving, token.cancelled_owned()).await
        });
        TestSandbox {
            sandbox,
            url,
            stop,
            task: Some(task),
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.sandbox.set_faults(faults);
    }

    pub fn received(&self) -> Vec<ReceivedEnquiry> {
        self.sandbox.received_enquiries()
    }

    /// Wait until at least `n` enquiries have arrived (or panic after 20 s).
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedEnquiry> {
        eventually(Duration::from_secs(20), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "expected {n} enquiries in the sandbox, got {}",
                self.received().len()
            )
        })
    }

    /// Stop serving and wait until it has (dropping only asks it to stop).
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
