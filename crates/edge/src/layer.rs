//! The edge pipeline as one tower layer. For each request, in this order (the first refusal
//! wins and is logged once with its rule, and counted):
//!
//! 1. client address ([`client_ip`](crate::client_ip), trusted proxies only) → [`ClientIp`] in
//!    the request's extensions;
//! 2. IP deny-list, then allow-list (`403 ip_blocked`);
//! 3. rate-based rule per client address (`429 rate_limited`, `Retry-After`, `RateLimit-*`),
//!    and the stricter one on sign-in and sign-up paths;
//! 4. origin verification (`X-Origin-Verify` shared secret, `403 origin_not_verified`);
//! 5. header limits (`431 headers_too_large`), query length (`414 uri_too_long`);
//! 6. inspection of path, query and headers ([`waf`](crate::waf); `403 waf_blocked` in block
//!    mode, logged and counted in count mode);
//! 7. JSON, form and XML bodies, read up to `max_body_bytes`: JSON depth and string limits
//!    (`400 invalid_request`), then the same inspection unless the route is excluded.
//!
//! Everything here runs before routing, so it holds on every path, known or not.

use crate::client_ip::{ClientIp, client_ip};
use crate::ipset::IpSet;
use crate::metrics::EdgeMetrics;
use crate::rate::{Decision, Rate};
use crate::shared::SharedRate;
use crate::waf::{self, Exclusion, Limits, Mode, Violation};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use ipnet::IpNet;
use rampart_core::ErrorCode;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::{Layer, Service};

pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// What the edge enforces. Built once from configuration.
#[derive(Clone, Debug, Default)]
pub struct EdgePolicy {
    pub trusted_proxies: Vec<IpNet>,
    /// `None`: every address may connect (`0.0.0.0/0` in the seeds' terms).
    pub allow: Option<IpSet>,
    pub deny: IpSet,
    /// Per client address, every path.
    pub ip_rate: Option<Rate>,
    /// Per client address, on [`EdgePolicy::auth_paths`] (sign-in, sign-up, MFA, token).
    pub auth_rate: Option<Rate>,
    pub auth_paths: Vec<waf::PathPattern>,
    /// Addresses the two per-address rules do not apply to.
    pub rate_exempt: IpSet,
    /// The `X-Origin-Verify` value a fronting CDN adds; `None`: not required.
    pub origin_secret: Option<rampart_core::Secret<String>>,
    /// Paths that need no origin header (load-balancer probes).
    pub origin_exempt: Vec<waf::PathPattern>,
    pub waf_mode: Mode,
    pub limits: Limits,
    pub exclusions: Vec<Exclusion>,
    /// Bodies larger than this are refused (`413`) when they must be read for inspection.
    pub max_body_bytes: usize,
    /// Redis for the per-address rules shared by every replica (`None`: per process).
    pub shared_rates: Option<Arc<crate::shared::RedisRate>>,
    /// Country allow- and deny-lists.
    pub geo: Option<Arc<crate::geo::GeoPolicy>>,
}

struct Inner {
    policy: EdgePolicy,
    ip_rate: Option<SharedRate<IpAddr>>,
    auth_rate: Option<SharedRate<IpAddr>>,
    metrics: Arc<EdgeMetrics>,
    peer: fn(&http::Extensions) -> Option<IpAddr>,
}

/// The layer. `peer` reads the socket's address from the request's extensions (the server
/// knows where its framework puts it).
#[derive(Clone)]
pub struct EdgeLayer {
    inner: Arc<Inner>,
}

impl EdgeLayer {
    pub fn new(policy: EdgePolicy, metrics: Arc<EdgeMetrics>, peer: fn(&http::Extensions) -> Option<IpAddr>) -> Self {
        waf::detect::init();
        Self {
            inner: Arc::new(Inner {
                ip_rate: policy.ip_rate.map(|r| SharedRate::new("ip-rate", r, policy.shared_rates.clone())),
                auth_rate: policy.auth_rate.map(|r| SharedRate::new("auth-rate", r, policy.shared_rates.clone())),
                policy,
                metrics,
                peer,
            }),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        EdgeService { edge: self.inner.clone(), inner }
    }
}

#[derive(Clone)]
pub struct EdgeService<S> {
    edge: Arc<Inner>,
    inner: S,
}

/// A refusal: status, code, extra headers.
struct Refusal {
    code: ErrorCode,
    rule: &'static str,
    headers: Vec<(&'static str, String)>,
}

impl Refusal {
    fn new(code: ErrorCode, rule: &'static str) -> Self {
        Self { code, rule, headers: Vec::new() }
    }
}

fn refusal_response<RB: From<String>>(r: &Refusal) -> Response<RB> {
    let body = serde_json::to_string(&rampart_core::error::ErrorBody {
        code: r.code.as_str().to_owned(),
        message: r.code.default_message().to_owned(),
    })
    .unwrap_or_default();
    let mut resp = Response::new(RB::from(body));
    *resp.status_mut() = StatusCode::from_u16(r.code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
    let h = resp.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (k, v) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    resp
}

impl Inner {
    /// Deny- and allow-lists.
    fn check_lists(&self, ip: IpAddr) -> Result<(), Refusal> {
        let p = &self.policy;
        if p.deny.contains(ip) {
            return Err(Refusal::new(ErrorCode::IpBlocked, "ip-deny-list"));
        }
        if let Some(allow) = &p.allow
            && !allow.contains(ip)
        {
            return Err(Refusal::new(ErrorCode::IpBlocked, "ip-allow-list"));
        }
        if let Some(rule) = p.geo.as_ref().and_then(|g| g.refuses(ip)) {
            return Err(Refusal::new(ErrorCode::IpBlocked, rule));
        }
        Ok(())
    }

    /// The per-address rules that apply to this request: (rule, limiter).
    fn rates_for(&self, path: &str, ip: IpAddr) -> impl Iterator<Item = (&'static str, &SharedRate<IpAddr>)> {
        let p = &self.policy;
        let exempt = p.rate_exempt.contains(ip);
        let ip_rule = self.ip_rate.as_ref().filter(|_| !exempt).map(|r| ("ip-rate", r));
        let auth_rule = self
            .auth_rate
            .as_ref()
            .filter(|_| !exempt && p.auth_paths.iter().any(|a| a.matches(path)))
            .map(|r| ("auth-rate", r));
        ip_rule.into_iter().chain(auth_rule)
    }

    fn rate_refusal(rule: &'static str, d: &Decision) -> Result<(), Refusal> {
        if d.allowed { Ok(()) } else { Err(Refusal { code: ErrorCode::RateLimited, rule, headers: d.headers() }) }
    }

    /// The rules that apply, decided here; `None` when one of them is shared and must ask
    /// Redis (the check is then asynchronous). One pass over the rules and the sign-in paths.
    fn check_rates_local(&self, path: &str, ip: IpAddr) -> Option<Result<(), Refusal>> {
        let mut rules = [None, None];
        for (slot, rule) in rules.iter_mut().zip(self.rates_for(path, ip)) {
            if rule.1.is_shared() {
                return None;
            }
            *slot = Some(rule);
        }
        Some(rules.into_iter().flatten().try_for_each(|(rule, r)| Self::rate_refusal(rule, &r.check_local(&ip))))
    }

    async fn check_rates_shared(&self, path: &str, ip: IpAddr) -> Result<(), Refusal> {
        for (rule, r) in self.rates_for(path, ip) {
            Self::rate_refusal(rule, &r.check(&ip).await)?;
        }
        Ok(())
    }

    /// The rest of what needs only the request head: origin, shape limits, WAF.
    fn check_rest(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        let p = &self.policy;
        let path = uri.path();
        if let Some(secret) = &p.origin_secret
            && !p.origin_exempt.iter().any(|e| e.matches(path))
        {
            use subtle::ConstantTimeEq;
            let got = headers.get(ORIGIN_VERIFY_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
            if !bool::from(got.ct_eq(secret.expose().as_bytes())) {
                return Err(Refusal::new(ErrorCode::OriginNotVerified, "origin-verify"));
            }
        }
        if let Err(v) = waf::check_headers(headers, &p.limits) {
            return Err(Refusal::new(ErrorCode::HeadersTooLarge, v.rule()));
        }
        let query = uri.query().unwrap_or("");
        if query.len() > p.limits.max_query_bytes {
            return Err(Refusal::new(ErrorCode::UriTooLong, Violation::UriTooLong.rule()));
        }
        if p.waf_mode == Mode::Off {
            return Ok(());
        }
        let excluded_query = p.exclusions.iter().any(|e| e.query && e.matches(method, path));
        let finding = waf::inspect_path(path)
            .or_else(|| if excluded_query { None } else { waf::inspect_urlencoded(query.as_bytes(), "query") })
            .or_else(|| waf::inspect_headers(headers));
        match finding {
            Some(v) => self.injection(v, method, path, ip),
            None => Ok(()),
        }
    }

    /// A detection: refused in block mode, logged and counted in count mode.
    fn injection(&self, v: Violation, method: &Method, path: &str, ip: IpAddr) -> Result<(), Refusal> {
        let Violation::Injection { finding, location } = v else {
            return Err(Refusal::new(ErrorCode::InvalidRequest, v.rule()));
        };
        let rule = finding.rule_id();
        if self.policy.waf_mode == Mode::Count {
            self.metrics.count(rule, false);
            tracing::warn!(rule, location, client_ip = %ip, method = %method, path, mode = "count", "request matched a WAF rule");
            return Ok(());
        }
        tracing::debug!(location, "waf detection");
        Err(Refusal::new(ErrorCode::WafBlocked, rule))
    }

    /// Whether the body must be read: JSON or form bodies the route does not exclude.
    fn wants_body(&self, method: &Method, path: &str, headers: &http::HeaderMap) -> Option<BodyKind> {
        if !matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
            return None;
        }
        let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
        let mime = ct.split(';').next().unwrap_or("").trim();
        let is = |m: &str| mime.eq_ignore_ascii_case(m);
        let ends = |suffix: &str| has_suffix(mime, suffix);
        let kind = if is("application/json") || ends("+json") {
            BodyKind::Json
        } else if is("application/x-www-form-urlencoded") {
            BodyKind::Form
        } else if is("application/xml") || is("text/xml") || ends("+xml") {
            BodyKind::Xml
        } else {
            return None;
        };
        let excluded = self.policy.exclusions.iter().any(|e| e.body && e.matches(method, path));
        // Excluded JSON bodies still get the depth limit (the route parses them); detection is
        // what the exclusion turns off.
        if excluded && kind != BodyKind::Json {
            return None;
        }
        Some(if excluded { BodyKind::JsonShapeOnly } else { kind })
    }

    fn check_body(&self, kind: BodyKind, body: &[u8]) -> Option<Violation> {
        let p = &self.policy;
        let detect = p.waf_mode != Mode::Off;
        match kind {
            BodyKind::Json => waf::inspect_json(body, &p.limits, detect),
            // Depth only (a scan, no parse): the route reads the body itself.
            BodyKind::JsonShapeOnly => {
                waf::json_depth_exceeds(body, p.limits.max_json_depth).then_some(Violation::JsonTooDeep)
            }
            BodyKind::Form if detect => waf::inspect_urlencoded(body, "body"),
            BodyKind::Xml if detect => waf::inspect_xml(body),
            BodyKind::Form | BodyKind::Xml => None,
        }
    }

    fn refuse<RB: From<String>>(
        &self,
        r: Refusal,
        method: &Method,
        path: &str,
        ip: IpAddr,
        notes: Option<&crate::RequestNotes>,
    ) -> Response<RB> {
        self.metrics.count(r.rule, true);
        if let Some(n) = notes {
            n.update(|n| n.rule = Some(r.rule));
        }
        tracing::warn!(rule = r.rule, code = r.code.as_str(), client_ip = %ip, method = %method, path, "request refused at the edge");
        refusal_response(&r)
    }
}

/// `application/ld+json` ends with `+json`, in any case.
fn has_suffix(s: &str, suffix: &str) -> bool {
    s.len().checked_sub(suffix.len()).and_then(|i| s.get(i..)).is_some_and(|t| t.eq_ignore_ascii_case(suffix))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyKind {
    Json,
    JsonShapeOnly,
    Form,
    Xml,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B, RB> Service<Request<B>> for EdgeService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + From<Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    RB: From<String> + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let edge = self.edge.clone();
        let peer = (edge.peer)(req.extensions()).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let ip = client_ip(peer, req.headers(), &edge.policy.trusted_proxies);
        req.extensions_mut().insert(ClientIp(ip));
        let notes = req.extensions().get::<crate::RequestNotes>().cloned();
        if let Some(n) = &notes {
            n.update(|n| n.client_ip = Some(ip));
        }
        let path = req.uri().path();
        let mut shared = false;
        let head = edge.check_lists(ip).and_then(|()| {
            edge.check_rates_local(path, ip).unwrap_or_else(|| {
                shared = true;
                Ok(())
            })
        });
        let head = head
            .and_then(|()| if shared { Ok(()) } else { edge.check_rest(req.method(), req.uri(), req.headers(), ip) });
        if let Err(r) = head {
            let resp = edge.refuse(r, req.method(), req.uri().path(), ip, notes.as_ref());
            return Box::pin(async move { Ok(resp) });
        }
        let kind = edge.wants_body(req.method(), req.uri().path(), req.headers());
        if !shared && kind.is_none() {
            return Box::pin(self.inner.call(req));
        }
        // The service that was polled ready is the one that must be called; keep it and leave
        // a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if shared {
                let head = match edge.check_rates_shared(req.uri().path(), ip).await {
                    Ok(()) => edge.check_rest(req.method(), req.uri(), req.headers(), ip),
                    Err(r) => Err(r),
                };
                if let Err(r) = head {
                    return Ok(edge.refuse(r, req.method(), req.uri().path(), ip, notes.as_ref()));
                }
            }
            let Some(kind) = kind else { return inner.call(req).await };
            let (parts, body) = req.into_parts();
            let limit = edge.policy.max_body_bytes;
            let bytes = match http_body_util::Limited::new(body, limit).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    let too_large = e.downcast_ref::<http_body_util::LengthLimitError>().is_some();
                    let r = if too_large {
                        Refusal::new(ErrorCode::PayloadTooLarge, "body-too-large")
                    } else {
                        Refusal::new(ErrorCode::InvalidRequest, "body-unreadable")
                    };
                    return Ok(edge.refuse(r, &parts.method, parts.uri.path(), ip, notes.as_ref()));
                }
            };
            if let Some(v) = edge.check_body(kind, &bytes) {
                let refusal = match v {
                    Violation::JsonTooDeep | Violation::JsonStringTooLong => {
                        Some(Refusal::new(ErrorCode::InvalidRequest, v.rule()))
                    }
                    v => edge.injection(v, &parts.method, parts.uri.path(), ip).err(),
                };
                if let Some(r) = refusal {
                    return Ok(edge.refuse(r, &parts.method, parts.uri.path(), ip, notes.as_ref()));
                }
            }
            inner.call(Request::from_parts(parts, B::from(bytes))).await
        })
    }
}
