//! SDK errors as `SpeechError`s: whether a new stream may succeed, and a detail made of the
//! error code and the service's message only (never the SDK's debug output, which can carry
//! the request).

use crate::TranscribeOptions;
use aws_sdk_transcribestreaming as sdk;
use rampart_core::speech::SpeechError;
use sdk::error::{ProvideErrorMetadata, SdkError};
use sdk::operation::start_stream_transcription::StartStreamTranscriptionError;
use sdk::types::error::TranscriptResultStreamError;

/// Codes a new stream may get past: limits, throttling, the service's own failures, and a
/// stream replaced by another with the same session id.
fn retryable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "LimitExceededException"
                | "ThrottlingException"
                | "ServiceUnavailableException"
                | "InternalFailureException"
                | "ConflictException"
        )
    )
}

/// Opening the stream failed.
pub fn operation<R>(e: &SdkError<StartStreamTranscriptionError, R>) -> SpeechError
where
    R: std::fmt::Debug + 'static,
{
    use StartStreamTranscriptionError as E;
    convert(e, |err| match err {
        E::LimitExceededException(_) => Some("LimitExceededException"),
        E::ServiceUnavailableException(_) => Some("ServiceUnavailableException"),
        E::InternalFailureException(_) => Some("InternalFailureException"),
        E::ConflictException(_) => Some("ConflictException"),
        E::BadRequestException(_) => Some("BadRequestException"),
        _ => None,
    })
}

/// The stream failed after it opened (an exception message, or the connection).
pub fn stream<R>(e: &SdkError<TranscriptResultStreamError, R>) -> SpeechError
where
    R: std::fmt::Debug + 'static,
{
    use TranscriptResultStreamError as E;
    convert(e, |err| match err {
        E::LimitExceededException(_) => Some("LimitExceededException"),
        E::ServiceUnavailableException(_) => Some("ServiceUnavailableException"),
        E::InternalFailureException(_) => Some("InternalFailureException"),
        E::ConflictException(_) => Some("ConflictException"),
        E::BadRequestException(_) => Some("BadRequestException"),
        _ => None,
    })
}

/// `modeled` names the modelled exceptions (the SDK's error metadata of an exception message
/// in the stream has no code); other codes come from the metadata. The SDK's enums are
/// non-exhaustive: anything new is judged by its code, and unknown codes are not retried.
fn convert<E, R>(e: &SdkError<E, R>, modeled: fn(&E) -> Option<&'static str>) -> SpeechError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    // Transport and parsing causes describe the connection or the bytes received.
    let cause = || rampart_core::error::causes(e, 300);
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let message: String = err.message().unwrap_or("").chars().take(300).collect();
            let code = modeled(err).or(err.code());
            SpeechError::new(
                retryable_code(code),
                format!("transcribe: {}: {message}", code.unwrap_or("unknown error")),
            )
        }
        SdkError::TimeoutError(_) => SpeechError::new(true, "transcribe: no response in time"),
        SdkError::DispatchFailure(d) => {
            SpeechError::new(d.is_io() || d.is_timeout(), format!("transcribe: could not reach the service{}", cause()))
        }
        SdkError::ResponseError(_) => SpeechError::new(true, format!("transcribe: the stream broke{}", cause())),
        SdkError::ConstructionFailure(_) => SpeechError::new(false, "transcribe: could not build the request"),
        _ => SpeechError::new(false, "transcribe: unclassified SDK error"),
    }
}

/// `detail` without the configured credentials.
pub fn redact(mut detail: String, opts: &TranscribeOptions) -> String {
    let secrets = [Some(&opts.access_key_id), Some(&opts.secret_access_key), opts.session_token.as_ref()];
    for s in secrets.into_iter().flatten() {
        let s = s.expose();
        if !s.is_empty() {
            detail = detail.replace(s.as_str(), "[redacted]");
        }
    }
    detail
}
