//! Provider errors: where they came from and whether to retry (after how long).

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderErrorKind {
    /// The upstream answered with an error status.
    Upstream,
    /// Could not connect, or the connection broke.
    Network,
    /// No answer in time.
    Timeout,
    /// The upstream answered something that does not follow its protocol.
    Protocol,
    /// The provider's configuration cannot work (found before any request).
    Config,
}

/// An error from a provider. `detail` is for the log (it never contains the API key); users
/// get a generic message.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{kind:?} error from the model provider (status {status:?}, retryable {retryable}): {detail}")]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    pub status: Option<u16>,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    pub detail: String,
}

impl ProviderError {
    pub(crate) fn new(kind: ProviderErrorKind, retryable: bool, detail: impl Into<String>) -> Self {
        Self { kind, status: None, retryable, retry_after: None, detail: detail.into() }
    }

    pub(crate) fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::new(ProviderErrorKind::Timeout, true, "request timed out")
        } else if e.is_decode() {
            Self::new(ProviderErrorKind::Protocol, false, format!("malformed response: {e}"))
        } else {
            // The error text may contain the URL but never headers (no API key).
            Self::new(ProviderErrorKind::Network, true, format!("network: {e}"))
        }
    }

    /// Retryable statuses: 408, 409, 429 and 5xx (as OpenAI's and Anthropic's clients treat them).
    pub(crate) fn from_status(status: u16, retry_after: Option<Duration>, body: &str) -> Self {
        let retryable = matches!(status, 408 | 409 | 429) || status >= 500;
        let snippet: String = body.chars().take(300).collect();
        Self {
            kind: ProviderErrorKind::Upstream,
            status: Some(status),
            retryable,
            retry_after,
            detail: format!("HTTP {status}: {snippet}"),
        }
    }
}
