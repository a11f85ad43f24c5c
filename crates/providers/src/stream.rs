//! Turning an upstream's event stream into the port's `Delta…Done` stream (tool calls before
//! `Done` when tools were offered), the same way for
//! every provider: an idle timeout per item, a decoder per wire format, exactly one terminal
//! item (`Done` or an error), and a protocol error when the upstream stops without finishing.

use crate::error::{ProviderError, ProviderErrorKind};
use crate::types::ChatEvent;
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::time::Duration;

/// A streamed reply: `Delta`s, then one `Done`, or an error as the last item.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, ProviderError>> + Send>>;

type Items<T> = Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send>>;

/// One wire format's events → the port's events.
pub(crate) trait Decoder<T>: Send + 'static {
    /// `Ok(None)` for events that carry nothing for the caller (pings, block starts, usage…).
    fn event(&mut self, item: T) -> Result<Option<ChatEvent>, ProviderError>;
    /// The input ended before `Done`: usually a protocol error (the reply may be cut short and
    /// must not look complete), unless the wire format may end that way.
    fn end(&mut self) -> Result<ChatEvent, ProviderError>;
    /// Events the decoder holds back for the caller, taken before the next input item (a wire
    /// event that completes several tool calls at once queues them here).
    fn pending(&mut self) -> Option<ChatEvent> {
        None
    }
}

/// `items` with each item awaited at most `idle`; the first error ends the stream.
pub(crate) fn with_idle_timeout<T: Send + 'static, E>(
    items: impl Stream<Item = Result<T, E>> + Send + 'static,
    idle: Duration,
    map_err: impl Fn(E) -> ProviderError + Send + Sync + 'static,
) -> Items<T> {
    let map_err = std::sync::Arc::new(map_err);
    Box::pin(futures::stream::unfold(Some(Box::pin(items)), move |state| {
        let map_err = map_err.clone();
        async move {
            let mut items = state?;
            match tokio::time::timeout(idle, items.next()).await {
                Err(_) => Some((Err(ProviderError::new(ProviderErrorKind::Timeout, false, "stream stalled")), None)),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((Err(map_err(e)), None)),
                Ok(Some(Ok(v))) => Some((Ok(v), Some(items))),
            }
        }
    }))
}

/// Runs `decoder` over `items` until `Done`, an error, or the end of the input (then
/// `decoder.end()` says what that means).
pub(crate) fn decode<T: Send + 'static>(items: Items<T>, decoder: impl Decoder<T>) -> EventStream {
    Box::pin(futures::stream::unfold(Some((items, decoder)), |state| async move {
        let (mut items, mut decoder) = state?;
        loop {
            let event = match decoder.pending() {
                Some(ev) => ev,
                None => {
                    let item = match items.next().await {
                        None => return Some((decoder.end(), None)),
                        Some(Err(e)) => return Some((Err(e), None)),
                        Some(Ok(item)) => item,
                    };
                    match decoder.event(item) {
                        Err(e) => return Some((Err(e), None)),
                        Ok(None) => continue,
                        Ok(Some(ev)) => ev,
                    }
                }
            };
            return match event {
                done @ ChatEvent::Done { .. } => Some((Ok(done), None)),
                other => Some((Ok(other), Some((items, decoder)))),
            };
        }
    }))
}

impl From<ProviderError> for rampart_core::llm::ModelError {
    fn from(e: ProviderError) -> Self {
        rampart_core::llm::ModelError { retryable: e.retryable, retry_after: e.retry_after, detail: e.to_string() }
    }
}

/// The port's stream type, for `ChatModel` implementations.
pub(crate) fn to_port(s: EventStream) -> rampart_core::llm::EventStream {
    Box::pin(s.map(|r| r.map_err(rampart_core::llm::ModelError::from)))
}

/// A whole reply's events as the port's stream.
pub(crate) fn events_to_port(events: Vec<ChatEvent>) -> rampart_core::llm::EventStream {
    Box::pin(futures::stream::iter(events.into_iter().map(Ok)))
}

/// The future `ChatModel::stream` returns.
pub(crate) type PortFuture<'a> = Pin<
    Box<
        dyn std::future::Future<Output = Result<rampart_core::llm::EventStream, rampart_core::llm::ModelError>>
            + Send
            + 'a,
    >,
>;
