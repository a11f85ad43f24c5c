//! HTTP plumbing shared by the HTTP providers (OpenAI-compatible, Anthropic, HTTP JSON): one
//! client shape, one retry loop, one SSE reader with an idle timeout.
//!
//! Retry policy, the same for every provider: a retryable failure (network error, timeout to
//! the response headers, status 408/409/429/5xx — Anthropic's 529 "overloaded" included) is
//! retried up to `max_retries` times, waiting `Retry-After` when the upstream sends one (at most
//! [`MAX_RETRY_AFTER`]; a longer one is handed to the caller instead) or 250 ms × 2ⁿ. Retries
//! happen only here, before any output: once a response was accepted nothing is resent.

use crate::error::{ProviderError, ProviderErrorKind};
use eventsource_stream::{Event, Eventsource};
use futures::Stream;
use std::pin::Pin;
use std::time::Duration;

/// The longest `Retry-After` we honour before giving up instead.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);

/// A client for one configured upstream: no redirects (the URL is the administrator's, and a
/// redirect could carry the credential elsewhere), `timeout` between reads.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()
        .map_err(|e| ProviderError::new(ProviderErrorKind::Network, false, format!("http client: {e}")))
}

/// `base` (an administrator's URL) with `path` appended, parsed once when a client is built.
pub(crate) fn join(base: &url::Url, path: &str) -> Result<url::Url, ProviderError> {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
        .parse()
        .map_err(|e| ProviderError::new(ProviderErrorKind::Config, false, format!("endpoint URL: {e}")))
}

/// The wait before retry number `attempt + 1`, unless the upstream said how long.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(6))
}

/// `Retry-After` in seconds (the HTTP-date form is not used by model providers).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Replaces every occurrence of a secret in `text` (some upstreams quote the key they refused).
pub(crate) fn redact(text: String, secrets: &[&str]) -> String {
    secrets.iter().filter(|s| s.len() >= 4).fold(text, |t, s| t.replace(s, "[redacted]"))
}

/// Sends the request built by `make` (called once per attempt), retrying retryable failures
/// as the module describes; returns the first successful response. `secrets` are removed from
/// any error detail.
pub(crate) async fn send(
    make: impl Fn() -> reqwest::RequestBuilder,
    timeout: Duration,
    max_retries: u32,
    secrets: &[&str],
) -> Result<reqwest::Response, ProviderError> {
    let mut attempt = 0;
    loop {
        let mut err = match tokio::time::timeout(timeout, make().send()).await {
            Err(_) => ProviderError::new(ProviderErrorKind::Timeout, true, "no response headers in time"),
            Ok(Err(e)) => ProviderError::from_reqwest(&e),
            Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                let retry_after = retry_after(resp.headers());
                let text = match tokio::time::timeout(timeout, resp.text()).await {
                    Ok(Ok(t)) => t,
                    _ => String::new(),
                };
                ProviderError::from_status(status, retry_after, &text)
            }
        };
        err.detail = redact(std::mem::take(&mut err.detail), secrets);
        let wait = err.retry_after.unwrap_or_else(|| backoff(attempt));
        if !err.retryable || attempt >= max_retries || wait > MAX_RETRY_AFTER {
            return Err(err);
        }
        tracing::warn!(attempt, status = ?err.status, kind = ?err.kind, wait_ms = wait.as_millis() as u64, "retrying model provider");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// Server-sent events of a response; an item that takes longer than `idle` ends the stream
/// with a `Timeout` error, a broken body with a `Network` error.
pub(crate) fn sse(
    resp: reqwest::Response,
    idle: Duration,
) -> Pin<Box<dyn Stream<Item = Result<Event, ProviderError>> + Send>> {
    crate::stream::with_idle_timeout(resp.bytes_stream().eventsource(), idle, |e| match e {
        // reqwest's own read timeout can fire before ours: the same stall either way.
        eventsource_stream::EventStreamError::Transport(e) if e.is_timeout() => {
            ProviderError::new(ProviderErrorKind::Timeout, false, "stream stalled")
        }
        e => ProviderError::new(ProviderErrorKind::Network, false, format!("stream broke: {e}")),
    })
}
