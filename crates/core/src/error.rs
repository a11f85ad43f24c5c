//! The one public table of error codes. Every error a client sees carries one of these codes;
//! the HTTP status for each lives here too (as a number, so this crate stays free of HTTP types).

use serde::Serialize;

macro_rules! codes {
    ($($variant:ident => ($code:literal, $status:literal, $msg:literal)),* $(,)?) => {
        /// Stable error codes. Renaming one breaks clients: add, never rename.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant),* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];
            /// The wire code, e.g. `invalid_request`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),* }
            }
            /// The HTTP status this code is sent with.
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status),* }
            }
            /// A generic, safe default message.
            pub const fn default_message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $msg),* }
            }
        }
    };
}

codes! {
    InvalidRequest => ("invalid_request", 400, "The request is invalid."),
    InvalidJson => ("invalid_json", 400, "The request body is not valid JSON for this route."),
    UnsupportedMediaType => ("unsupported_media_type", 415, "Expected Content-Type: application/json."),
    NotAcceptable => ("not_acceptable", 406, "The Accept header must allow application/json."),
    PayloadTooLarge => ("payload_too_large", 413, "The request body is too large."),
    WeakPassword => ("weak_password", 400, "The password does not meet the password policy."),
    AmbiguousCredentials => ("ambiguous_credentials", 400, "Send one credential: either x-api-key or Authorization: Bearer, not both."),
    Unauthorized => ("unauthorized", 401, "Authentication is required."),
    InvalidToken => ("invalid_token", 401, "The credential is invalid or expired."),
    InvalidCredentials => ("invalid_credentials", 401, "Incorrect username or password."),
    InvalidCode => ("invalid_code", 401, "The code is invalid or has already been used."),
    InvalidSession => ("invalid_session", 401, "The challenge session is invalid or expired."),
    WrongPassword => ("wrong_password", 403, "The current password is incorrect."),
    Forbidden => ("forbidden", 403, "You are not allowed to do this."),
    WafBlocked => ("waf_blocked", 403, "The request was blocked by the web application firewall."),
    IpBlocked => ("ip_blocked", 403, "Requests from this address are not allowed."),
    OriginNotVerified => ("origin_not_verified", 403, "The request did not come through the expected origin."),
    CorsRejected => ("cors_rejected", 403, "This origin is not allowed."),
    HeadersTooLarge => ("headers_too_large", 431, "The request headers are too large."),
    UriTooLong => ("uri_too_long", 414, "The request URI is too long."),
    SignupDisabled => ("signup_disabled", 403, "Self sign-up is not enabled."),
    EmailDomainNotAllowed => ("email_domain_not_allowed", 403, "This email domain is not allowed."),
    NotFound => ("not_found", 404, "Not found."),
    MethodNotAllowed => ("method_not_allowed", 405, "Method not allowed."),
    Conflict => ("conflict", 409, "The resource already exists."),
    PreconditionFailed => ("precondition_failed", 412, "It changed since it was read; read it again and retry."),
    LastAdmin => ("last_admin", 409, "The last administrator cannot be removed or demoted."),
    SelfAction => ("self_action", 409, "Administrators cannot do this to their own account."),
    MfaAlreadyEnabled => ("mfa_already_enabled", 409, "MFA is already enabled."),
    MfaNotEnrolled => ("mfa_not_enrolled", 409, "Start MFA enrolment first."),
    BootstrapUnavailable => ("bootstrap_unavailable", 409, "Bootstrap is not available: an administrator exists."),
    TooManyAttempts => ("too_many_attempts", 429, "Too many attempts. Try again later."),
    RateLimited => ("rate_limited", 429, "Too many requests."),
    Internal => ("internal", 500, "Internal server error."),
    UpstreamError => ("upstream_error", 502, "The model provider failed. Try again later."),
    Unavailable => ("unavailable", 503, "The service is temporarily unavailable."),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every crate's error enum says about itself to clients: its stable code (and so the
/// HTTP status) and a message safe to show. Each crate maps its own variants exhaustively; the
/// server turns any of them into the one `{code, message}` response and logs the detail of
/// server errors, never sending it.
pub trait PublicError: std::error::Error {
    fn code(&self) -> ErrorCode;
    /// Specific for a client's mistakes; the code's generic text otherwise (the default).
    fn public_message(&self) -> String {
        self.code().default_message().to_owned()
    }
    /// Seconds a client should wait before trying again (`Retry-After`).
    fn retry_after(&self) -> Option<u64> {
        None
    }
}

/// The one JSON error shape: `{code, message}`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// The causes below `e` (its `source()` chain, not `e` itself), each as `": {cause}"`, at most
/// `max` characters: for log details of a library's error whose own text is too general
/// ("dispatch failure") while its causes name the connection or the bytes. Only for errors whose
/// causes describe transport or parsing, never a request (they may hold what was sent).
pub fn causes(e: &(dyn std::error::Error + 'static), max: usize) -> String {
    let mut out = String::new();
    let mut next = e.source();
    while let Some(c) = next {
        out.push_str(&format!(": {c}"));
        next = c.source();
    }
    out.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn codes_are_unique_and_statuses_valid() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert!((400..600).contains(&c.http_status()));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
