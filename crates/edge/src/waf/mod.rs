//! Request inspection: size and shape limits, then SQL-injection / XSS detection over the
//! parts of a request an application reads — path, query parameters (names and values), form
//! fields, JSON string values and keys, and the `User-Agent`, `Referer` and `Cookie` headers.
//!
//! What is not inspected, by design: multipart bodies (uploaded documents are data), JSON
//! values under keys that hold credentials (`password`, `secret`, `token`, … — a password may
//! well contain `' OR --`), and the parts a route excludes ([`Exclusion`]; chat message text is
//! data, not a query).

pub mod detect;

pub use detect::{Finding, inspect};

use serde_json::Value;
use std::borrow::Cow;

/// `block` refuses, `count` only logs and counts, `off` skips detection (the size limits stay).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Block,
    Count,
    Off,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Block => "block",
            Mode::Count => "count",
            Mode::Off => "off",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "block" => Ok(Mode::Block),
            "count" => Ok(Mode::Count),
            "off" => Ok(Mode::Off),
            other => Err(format!("waf mode must be block, count or off, not {other:?}")),
        }
    }
}

/// Which parts of a request a route does not have inspected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// `None`: every method.
    pub method: Option<http::Method>,
    pub path: PathPattern,
    pub body: bool,
    pub query: bool,
}

impl Exclusion {
    pub fn matches(&self, method: &http::Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        self.path.matches(path)
    }
}

/// A path pattern, split once when the policy is built: segments match literally, `*` matches
/// one segment, `**` matches whatever follows (also nothing). Leading and trailing slashes do
/// not count. Every request is checked against a dozen of these, so the common answer ("no")
/// comes from comparing the literal start with the path's, without splitting the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    segments: Box<[Segment]>,
    /// The literal segments before the first wildcard, joined by `/`: every matching path
    /// (trimmed) starts with it.
    literal_start: Box<str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    One,
    Rest,
}

/// Without leading and trailing slashes.
fn trim_slashes(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| c != b'/').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b'/').map_or(start, |i| i + 1);
    &s[start..end]
}

impl PathPattern {
    pub fn new(pattern: &str) -> Self {
        let segments: Box<[Segment]> = trim_slashes(pattern)
            .split('/')
            .map(|s| match s {
                "**" => Segment::Rest,
                "*" => Segment::One,
                l => Segment::Literal(l.into()),
            })
            .collect();
        let literal_start = segments
            .iter()
            .map_while(|s| match s {
                Segment::Literal(l) => Some(&**l),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/")
            .into();
        Self { segments, literal_start }
    }

    pub fn matches(&self, path: &str) -> bool {
        let path = trim_slashes(path);
        if !path.starts_with(&*self.literal_start) {
            return false;
        }
        let mut parts = path.split('/');
        for seg in &self.segments {
            match (seg, parts.next()) {
                (Segment::Rest, _) => return true,
                (Segment::One, Some(_)) => {}
                (Segment::Literal(l), Some(p)) if **l == *p => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }
}

/// Shape limits, checked before detection (and also in `off` mode).
#[derive(Clone, Debug)]
pub struct Limits {
    /// The longest single header value.
    pub max_header_bytes: usize,
    /// All header names and values together.
    pub max_headers_total: usize,
    /// The longest query string (`414 uri_too_long`).
    pub max_query_bytes: usize,
    /// How deeply JSON may nest.
    pub max_json_depth: usize,
    /// The longest JSON string (key or value) in inspected bodies.
    pub max_json_string: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 8 * 1024,
            max_headers_total: 32 * 1024,
            max_query_bytes: 8 * 1024,
            max_json_depth: 32,
            max_json_string: 256 * 1024,
        }
    }
}

/// Why a request was refused by inspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    HeadersTooLarge,
    UriTooLong,
    JsonTooDeep,
    JsonStringTooLong,
    /// Detection fired, in `location` (`path`, `query`, `body`, `header:user-agent`, …).
    Injection {
        finding: Finding,
        location: &'static str,
    },
}

impl Violation {
    /// The rule name logs and metrics carry.
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::HeadersTooLarge => "headers-too-large",
            Violation::UriTooLong => "uri-too-long",
            Violation::JsonTooDeep => "json-too-deep",
            Violation::JsonStringTooLong => "json-string-too-long",
            Violation::Injection { finding, .. } => finding.rule_id(),
        }
    }
}

/// Headers whose values are not inspected: credentials (opaque by nature), the request's
/// framing, the browser's own structured headers, and proxy bookkeeping (checked elsewhere).
fn skipped_header(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "x-api-key"
            | "x-origin-verify"
            | "host"
            | "content-length"
            | "content-type"
            | "content-encoding"
            | "transfer-encoding"
            | "connection"
            | "upgrade"
            | "te"
            | "accept"
            | "accept-encoding"
            | "accept-language"
            | "cache-control"
            | "pragma"
            | "if-none-match"
            | "if-modified-since"
            | "x-request-id"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "forwarded"
            | "traceparent"
            | "tracestate"
            | "origin"
            | "priority"
            | "dnt"
    ) || name.starts_with("sec-")
}

/// Keys whose JSON values are never inspected (credentials are opaque).
fn credential_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["password", "secret", "token", "apikey", "api_key", "privatekey", "credential"].iter().any(|c| k.contains(c))
}

pub fn check_headers(headers: &http::HeaderMap, limits: &Limits) -> Result<(), Violation> {
    let mut total = 0usize;
    for (name, value) in headers {
        let n = value.len();
        if n > limits.max_header_bytes {
            return Err(Violation::HeadersTooLarge);
        }
        total += name.as_str().len() + n;
    }
    if total > limits.max_headers_total {
        return Err(Violation::HeadersTooLarge);
    }
    Ok(())
}

/// Detection over header values: every header but the skipped ones; cookies pair by pair.
pub fn inspect_headers(headers: &http::HeaderMap) -> Option<Violation> {
    for (name, v) in headers {
        let name = name.as_str();
        if skipped_header(name) {
            continue;
        }
        let bytes = v.as_bytes();
        if name == "cookie" {
            for pair in bytes.split(|&b| b == b';') {
                let pair = trim(pair);
                let (k, val) = match pair.iter().position(|&b| b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &[][..]),
                };
                for part in [k, val] {
                    let d: Cow<'_, [u8]> = percent_encoding::percent_decode(part).into();
                    if let Some(f) = inspect(&d) {
                        return Some(Violation::Injection { finding: f, location: "header:cookie" });
                    }
                }
            }
        } else if let Some(f) = inspect(bytes) {
            let location = match name {
                "user-agent" => "header:user-agent",
                "referer" => "header:referer",
                _ => "header",
            };
            return Some(Violation::Injection { finding: f, location });
        }
    }
    None
}

/// Detection over an XML body: attribute values and text (entities are decoded by
/// [`inspect`]); element names and markup are not values.
pub fn inspect_xml(body: &[u8]) -> Option<Violation> {
    let hit = |v: &[u8]| inspect(v).map(|f| Violation::Injection { finding: f, location: "body" });
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'<' {
            let end = body[i..].iter().position(|&b| b == b'<').map_or(body.len(), |p| i + p);
            let text = trim(&body[i..end]);
            if !text.is_empty()
                && let Some(v) = hit(text)
            {
                return Some(v);
            }
            i = end;
            continue;
        }
        if body[i..].starts_with(b"<![CDATA[") {
            let start = i + 9;
            let end = find(&body[start..], b"]]>").map_or(body.len(), |p| start + p);
            if let Some(v) = hit(&body[start..end]) {
                return Some(v);
            }
            i = (end + 3).min(body.len());
            continue;
        }
        // Inside markup: quoted attribute values.
        i += 1;
        while i < body.len() && body[i] != b'>' {
            if matches!(body[i], b'"' | b'\'') {
                let q = body[i];
                let start = i + 1;
                let end = body[start..].iter().position(|&b| b == q).map_or(body.len(), |p| start + p);
                if let Some(v) = hit(&body[start..end]) {
                    return Some(v);
                }
                i = end + 1;
            } else {
                i += 1;
            }
        }
        i += 1;
    }
    None
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map_or(s, |i| i + 1);
    &b[s..e]
}

/// Detection over the percent-decoded path.
pub fn inspect_path(path: &str) -> Option<Violation> {
    if path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.')) {
        return None;
    }
    let d: Cow<'_, [u8]> = percent_encoding::percent_decode_str(path).into();
    inspect(&d).map(|f| Violation::Injection { finding: f, location: "path" })
}

/// Detection over `a=b&c=d` (query strings and form bodies): names and values, `+` as space.
/// Values under credential names (`password`, `client_secret`, `refresh_token`, `code`, …) are
/// not inspected.
pub fn inspect_urlencoded(s: &[u8], location: &'static str) -> Option<Violation> {
    for (k, v) in form_urlencoded::parse(s) {
        let hit = |b: &[u8]| inspect(b).map(|f| Violation::Injection { finding: f, location });
        if let Some(v) = hit(k.as_bytes()) {
            return Some(v);
        }
        if credential_key(&k) || k == "code" || k == "code_verifier" {
            continue;
        }
        if let Some(v) = hit(v.as_bytes()) {
            return Some(v);
        }
    }
    None
}

/// Shape limits and detection over a JSON body. A body that is not JSON is left to the route
/// (which answers `invalid_json`); depth is checked before parsing so a deeply nested body
/// cannot exhaust the stack.
pub fn inspect_json(body: &[u8], limits: &Limits, detect: bool) -> Option<Violation> {
    if json_depth_exceeds(body, limits.max_json_depth) {
        return Some(Violation::JsonTooDeep);
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return None };
    walk(&v, limits, detect, false)
}

fn walk(v: &Value, limits: &Limits, detect: bool, skip: bool) -> Option<Violation> {
    match v {
        Value::String(s) => {
            if s.len() > limits.max_json_string {
                return Some(Violation::JsonStringTooLong);
            }
            if detect && !skip {
                return inspect(s.as_bytes()).map(|f| Violation::Injection { finding: f, location: "body" });
            }
            None
        }
        Value::Array(a) => a.iter().find_map(|x| walk(x, limits, detect, skip)),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.len() > limits.max_json_string {
                return Some(Violation::JsonStringTooLong);
            }
            if detect && let Some(f) = inspect_key(k) {
                return Some(Violation::Injection { finding: f, location: "body" });
            }
            walk(x, limits, detect, skip || credential_key(k))
        }),
        _ => None,
    }
}

/// A JSON key: MongoDB query operators (`{"$where": …}`, `{"user": {"$ne": null}}`) reach a
/// document store as queries; other keys are inspected like values.
fn inspect_key(k: &str) -> Option<Finding> {
    const MONGO: &[&str] = &[
        "$where",
        "$ne",
        "$eq",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$regex",
        "$exists",
        "$or",
        "$and",
        "$not",
        "$nor",
        "$expr",
        "$elemmatch",
        "$text",
        "$type",
        "$all",
        "$size",
        "$mod",
        "$function",
        "$accumulator",
        "$jsonschema",
    ];
    if k.starts_with('$') && MONGO.contains(&k.to_ascii_lowercase().as_str()) {
        return Some(Finding::Rule("nosql-operator"));
    }
    inspect(k.as_bytes())
}

/// True if `[`/`{` nest deeper than `max` outside strings (a scan, no parse).
pub fn json_depth_exceeds(b: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    for &c in b {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_patterns() {
        let m = |p: &str, path: &str| PathPattern::new(p).matches(path);
        assert!(m("/v1/sessions/*/stop", "/v1/sessions/abc/stop"));
        assert!(!m("/v1/sessions/*/stop", "/v1/sessions/abc/stop/x"));
        assert!(!m("/v1/sessions/*/stop", "/v1/sessions/abc"));
        assert!(!m("/v1/sessions/*/stop", "/v1/sessions//stopx"));
        assert!(m("/v1/admin/**", "/v1/admin/models/x"));
        assert!(m("/v1/admin/**", "/v1/admin"), "** also matches nothing");
        assert!(m("/v1/admin/**", "/v1/admin/"));
        assert!(!m("/v1/admin/**", "/v1/administrators"), "whole segments only");
        assert!(!m("/v1/admin/**", "/v1/me"));
        assert!(m("/event", "/event"));
        assert!(m("/event", "/event/"), "trailing slashes do not count");
        assert!(m("/event", "//event"));
        assert!(!m("/event", "/events"));
        assert!(!m("/event", "/event/x"));
        assert!(!m("/v1/auth/login", "/v1/auth"));
        assert!(m("/*/x", "/anything/x"));
        assert!(!m("/*/x", "/x"));
        assert!(m("/**", "/"));
        assert!(m("/", "/"));
        assert!(!m("/", "/a"));
    }

    #[test]
    fn json_is_walked_and_credentials_skipped() {
        let l = Limits::default();
        assert!(matches!(
            inspect_json(br#"{"a":[{"b":"1' OR '1'='1"}]}"#, &l, true),
            Some(Violation::Injection { location: "body", .. })
        ));
        assert_eq!(inspect_json(br#"{"password":"x' OR 1=1 --","newPassword":"<script>"}"#, &l, true), None);
        assert_eq!(inspect_json(br#"{"a":"1' OR '1'='1"}"#, &l, false), None);
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(inspect_json(deep.as_bytes(), &l, false), Some(Violation::JsonTooDeep));
        // Brackets inside strings do not count.
        let s = format!(r#"{{"a":"{}"}}"#, "[".repeat(100));
        assert_eq!(inspect_json(s.as_bytes(), &l, false), None);
    }

    #[test]
    fn xml_values_are_inspected_and_markup_is_not() {
        assert!(
            inspect_xml(br#"<?xml version="1.0"?><root><a probe="&lt;script&gt;alert(1)&lt;/script&gt;"></a></root>"#)
                .is_some()
        );
        assert!(inspect_xml(b"<root><q>1' UNION SELECT password FROM users--</q></root>").is_some());
        assert!(inspect_xml(b"<root><![CDATA[<img src=x onerror=alert(1)>]]></root>").is_some());
        assert_eq!(
            inspect_xml(br#"<?xml version="1.0"?><order id="42"><item sku="A-1">Tea &amp; biscuits</item></order>"#),
            None
        );
    }

    #[test]
    fn query_and_cookies() {
        assert!(inspect_urlencoded(b"q=1%27+OR+%271%27%3D%271", "query").is_some());
        assert!(inspect_urlencoded(b"u%5B%24ne%5D=1", "query").is_some());
        assert_eq!(inspect_urlencoded(b"page=2&limit=50&q=annual+plans", "query"), None);
        // Credentials are opaque, in forms as in JSON.
        assert_eq!(inspect_urlencoded(b"grant_type=password&password=%27+OR+1%3D1+--&code=%3Cscript%3E", "body"), None);
        let mut h = http::HeaderMap::new();
        h.insert("cookie", "a=1; b=%3Cscript%3Ealert(1)%3C%2Fscript%3E".parse().unwrap());
        assert!(inspect_headers(&h).is_some());
        h.insert("cookie", "rampart_refresh=abc.def-ghi; theme=dark".parse().unwrap());
        h.insert(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
                .parse()
                .unwrap(),
        );
        assert_eq!(inspect_headers(&h), None);
    }
}
