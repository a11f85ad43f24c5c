//! Security headers on every response.

use http::{HeaderMap, HeaderValue, header};

/// The web app's Content Security Policy: scripts, styles and connections from this origin
/// only — no inline code, no `eval`, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Features the app may use: the microphone (meetings) from this origin only; nothing else.
pub const PERMISSIONS_POLICY: &str =
    "camera=(), geolocation=(), microphone=(self), payment=(), usb=(), interest-cohort=()";

/// Adds the headers every response carries (existing values are kept). `hsts`: the server is
/// reached over HTTPS (a TLS listener, or a public URL that is `https://`).
pub fn apply(h: &mut HeaderMap, hsts: bool) {
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("no-referrer"));
    h.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
    h.entry("permissions-policy").or_insert(HeaderValue::from_static(PERMISSIONS_POLICY));
    h.entry("cross-origin-opener-policy").or_insert(HeaderValue::from_static("same-origin"));
    h.entry("cross-origin-resource-policy").or_insert(HeaderValue::from_static("same-origin"));
    if hsts {
        h.entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
}
