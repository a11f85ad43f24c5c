//! The web app at `/`: the Vite bundle from `web/dist`, read from disk at run time in debug
//! builds (so `npm run build` shows up without recompiling) and embedded in release builds
//! (`build.rs` makes cargo rebuild this crate when the bundle changes, so a release build never
//! embeds a stale one). A binary without the bundle says so at start ([`warn_when_missing`]).
//!
//! Hashed assets (`/assets/…`) are cached for a year; `index.html` is revalidated every time.
//! Brotli and gzip copies made at build time (`web/scripts/precompress.mjs`) are served when
//! the browser accepts them. Any other GET for a page (no file extension, HTML accepted) gets
//! `index.html` so the app's own router takes over; API paths keep their JSON 404.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Bundle;

/// Whether this binary has the web app: embedded (release builds) or found on disk where the
/// build put it (debug builds).
pub fn bundled() -> bool {
    Bundle::get("index.html").is_some()
}

/// Logs a warning at start when the web app is missing: the API works, `/` answers 503.
pub fn warn_when_missing() {
    if bundled() {
        return;
    }
    if cfg!(debug_assertions) {
        tracing::warn!(
            folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/dist"),
            "the web app is not built (no index.html in web/dist): the API works, / answers 503; run `make web`"
        );
    } else {
        tracing::warn!(
            "this binary has no web app (web/dist was empty when it was built): the API works, / answers 503; \
             build the release binary with `make release`"
        );
    }
}

/// What the bundle serves as files: a path ending so that is missing is a 404, not the app.
const ASSET_EXTENSIONS: &[&str] = &[
    "js",
    "mjs",
    "css",
    "map",
    "html",
    "json",
    "txt",
    "png",
    "svg",
    "ico",
    "jpg",
    "webp",
    "woff",
    "woff2",
    "webmanifest",
    "wasm",
];

/// Paths that belong to the API: never the app.
const API_PREFIXES: &[&str] =
    &["/v1/", "/api/", "/oauth2/", "/.well-known/", "/event", "/openapi.json", "/healthz", "/readyz", "/metrics"];

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn accepts(headers: &HeaderMap, enc: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.split(';').next().is_some_and(|n| n.trim().eq_ignore_ascii_case(enc)))
}

/// The file, its best precompressed copy when accepted.
fn file(path: &str, headers: &HeaderMap, head: bool) -> Option<Response> {
    let plain = Bundle::get(path)?;
    let (data, encoding) = [("br", ".br"), ("gzip", ".gz")]
        .iter()
        .find_map(|(enc, ext)| {
            accepts(headers, enc).then(|| Bundle::get(&format!("{path}{ext}")).map(|f| (f.data, Some(*enc)))).flatten()
        })
        .unwrap_or((plain.data, None));
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Some(e) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    // Embedded files are static: served without copying (debug builds read them from disk).
    let body = match (head, data) {
        (true, _) => axum::body::Body::empty(),
        (false, std::borrow::Cow::Borrowed(b)) => axum::body::Body::from(axum::body::Bytes::from_static(b)),
        (false, std::borrow::Cow::Owned(v)) => axum::body::Body::from(v),
    };
    Some((StatusCode::OK, h, body).into_response())
}

/// The router's fallback: the app for pages and assets, the API's 404 / 405 otherwise.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if !matches!(method, Method::GET | Method::HEAD) || API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return ApiError::not_found().into_response();
    }
    let head = method == Method::HEAD;
    let rel = path.trim_start_matches('/');
    // rust-embed keeps lookups inside the bundle (debug builds check the canonical path).
    if !rel.is_empty()
        && let Some(r) = file(rel, &headers, head)
    {
        return r;
    }
    let last = rel.rsplit('/').next().unwrap_or("");
    // Browsers navigating send `text/html`; API clients (`*/*`, JSON) keep the JSON 404. A
    // missing file of a kind the bundle holds stays a 404; other paths are the app's pages
    // (whose last part may hold dots: a meeting's call id ends in `.mmm`).
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let asset =
        last.rsplit_once('.').is_some_and(|(_, ext)| ASSET_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    if !asset && wants_html {
        if let Some(r) = file("index.html", &headers, head) {
            return r;
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The web app is not built: run `make web` (or `cd web && npm ci && npm run build`).\n",
        )
            .into_response();
    }
    ApiError::not_found().into_response()
}
