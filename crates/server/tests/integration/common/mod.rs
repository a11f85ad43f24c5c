//! Test harness: a real server (`build_app`) on a loopback port, a real HTTP client, and a
//! fake external identity provider that serves a JWKS over HTTP.

#![expect(clippy::unwrap_used, reason = "a test helper fails the test at the first broken step")]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rampart_crypto::{Keyring, MasterKey, SigningAlg, SigningKeyMaterial};
use rampart_server::config::{Config, Overrides};
use rampart_server::{AppState, build_app, build_state};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    #[expect(dead_code, reason = "held so that the temporary database lives as long as the server")]
    pg: Option<rampart_testkit::TestDb>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Status, headers and body (JSON; other text as a string; nothing as null).
    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self
    }
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        assert_eq!(self.code(), code, "unexpected code; body: {}", self.body);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()), "error has a message: {}", self.body);
        self
    }
}

/// Base configuration for tests: cheap Argon2, a temp data dir.
pub fn test_config(dir: &std::path::Path, db_url: &str, tweak: &[(&str, Value)]) -> Config {
    let mut o: Vec<(String, toml::Value)> = vec![
        ("server.data_dir".into(), toml::Value::String(dir.display().to_string())),
        ("database.url".into(), toml::Value::String(db_url.into())),
        ("auth.argon2.memory_kib".into(), toml::Value::Integer(8192)),
        ("auth.argon2.iterations".into(), toml::Value::Integer(1)),
        ("log.format".into(), toml::Value::String("text".into())),
        ("access_log.target".into(), toml::Value::String("off".into())),
        // Deterministic transcripts unless a test asks for the real recogniser.
        ("speech.engine".into(), toml::Value::String("passthrough".into())),
    ];
    for (k, v) in tweak {
        o.push((k.to_string(), json_to_toml(v)));
    }
    Config::load(None, &[], &Overrides(o)).unwrap()
}

fn json_to_toml(v: &Value) -> toml::Value {
    match v {
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => toml::Value::Integer(n.as_i64().unwrap()),
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().map(json_to_toml).collect()),
        Value::Object(m) => toml::Value::Table(m.iter().map(|(k, v)| (k.clone(), json_to_toml(v))).collect()),
        Value::Null => toml::Value::String(String::new()),
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    pub async fn start_with(tweak: &[(&str, Value)]) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
        Self::launch(dir, url, None, tweak).await
    }

    /// On PostgreSQL, or None (the test prints SKIPPED) when no server is configured.
    pub async fn start_pg(test: &str, tweak: &[(&str, Value)]) -> Option<TestServer> {
        let base = rampart_testkit::pg_url().or_else(|| {
            rampart_testkit::skipped(test);
            None
        })?;
        let (_, url) = rampart_testkit::TestDb::create_pg_database(&base).await;
        let dir = tempfile::tempdir().unwrap();
        Some(Self::launch(dir, url, None, tweak).await)
    }

    async fn launch(
        dir: tempfile::TempDir,
        db_url: String,
        pg: Option<rampart_testkit::TestDb>,
        tweak: &[(&str, Value)],
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut t: Vec<(&str, Value)> =
            vec![("server.public_url", json!(format!("http://{addr}"))), ("server.listen", json!(addr.to_string()))];
        t.extend(tweak.iter().cloned());
        let cfg = test_config(dir.path(), &db_url, &t);
        let state = build_state(cfg).await.unwrap();
        state.start_background().await.unwrap();
        let app = build_app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestServer { base: format!("http://{addr}"), state, http, _dir: dir, pg, task }
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.state.config.server.data_dir.clone()
    }

    pub async fn req(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> Resp {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = auth {
            r = if a.starts_with("rampart_") { r.header("x-api-key", a) } else { r.bearer_auth(a) };
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        Resp::read(r.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> Resp {
        self.req(Method::GET, path, auth, None).await
    }
    pub async fn post(&self, path: &str, auth: Option<&str>, body: Value) -> Resp {
        self.req(Method::POST, path, auth, Some(body)).await
    }
    pub async fn delete(&self, path: &str, auth: Option<&str>) -> Resp {
        self.req(Method::DELETE, path, auth, None).await
    }

    /// Creates a user directly through the service (as `rampart user add` does).
    pub async fn user(&self, email: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        let c = self
            .state
            .identity
            .create_user(None, email, Some(PASSWORD), &groups, None, &Default::default())
            .await
            .unwrap();
        c.user.id.to_string()
    }

    /// Enables or disables a user directly in the database, then drops remembered
    /// credentials as the service does after its own changes. (`replica_sees_changes_within_the_cache_ttl`
    /// covers a change made elsewhere without that.)
    pub async fn set_active(&self, user_id: &str, active: bool) {
        use rampart_storage::repo::users::UserStatus;
        let status = if active { UserStatus::Active } else { UserStatus::Disabled };
        self.state
            .db
            .set_user_status(user_id.parse().unwrap(), status, rampart_core::Timestamp::from_millis(0))
            .await
            .unwrap();
        self.state.identity.invalidate_auth_cache();
    }

    /// A second server over the same data dir and database: another replica behind the same URL.
    pub async fn replica(&self) -> TestServer {
        self.replica_with(|cfg, own| cfg.knowledge.dense_index_dir = Some(own.join("dense"))).await
    }

    /// A replica whose configuration `tweak` may change further (given the replica's own
    /// directory). Its lexical index is its own.
    pub async fn replica_with(&self, tweak: impl FnOnce(&mut Config, &std::path::Path)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut cfg = (*self.state.config).clone();
        // Each replica has its own index (rebuilt from the shared database).
        let own = tempfile::tempdir().unwrap();
        cfg.knowledge.index_dir = Some(own.path().join("index"));
        cfg.meetings.index_dir = Some(own.path().join("meetings-index"));
        tweak(&mut cfg, own.path());
        let state = build_state(cfg).await.unwrap();
        let app = build_app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestServer { base: format!("http://{addr}"), state, http, _dir: own, pg: None, task }
    }

    /// Signs in (no MFA) and returns the login response body.
    pub async fn login(&self, email: &str) -> Value {
        self.post("/v1/auth/login", None, json!({"username": email, "password": PASSWORD})).await.expect(200).body
    }

    pub async fn token(&self, email: &str) -> String {
        self.login(email).await["accessToken"].as_str().unwrap().to_owned()
    }

    /// An administrator and their access token.
    pub async fn admin(&self) -> (String, String) {
        let id = self.user("admin@example.com", &["admin"]).await;
        (id, self.token("admin@example.com").await)
    }

    /// The server's active signing key, read the way the server does (master key + database),
    /// so attack tests can forge tokens with the real key.
    pub async fn signing_key(&self) -> SigningKeyMaterial {
        let text = std::fs::read_to_string(self.data_dir().join("master.key")).unwrap();
        let ring = Keyring::new(MasterKey::from_encoded(&text).unwrap());
        let rec = self
            .state
            .db
            .published_signing_keys(rampart_core::Timestamp::from_millis(chrono::Utc::now().timestamp_millis()))
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.retired_at.is_none())
            .unwrap();
        let der = ring.open(format!("signing_key:{}", rec.kid).as_bytes(), &rec.sealed_private_key).unwrap();
        SigningKeyMaterial::from_pkcs8(rec.kid, SigningAlg::parse(&rec.alg).unwrap(), der).unwrap()
    }

    /// Claims of a valid access token for `user`, for tests to alter before forging.
    pub fn access_claims(&self, access_token: &str) -> Value {
        decode_unverified(access_token)
    }

    pub async fn forge(&self, claims: &Value) -> String {
        let k = self.signing_key().await;
        let mut h = Header::new(k.alg.jwt_alg());
        h.kid = Some(k.kid.clone());
        jsonwebtoken::encode(&h, claims, k.encoding_key()).unwrap()
    }
}

pub fn decode_unverified(token: &str) -> Value {
    use base64::Engine as _;
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

pub fn b64(v: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A TOTP code computed independently of the server (totp-rs, from the Base32 secret).
pub fn totp_now(secret_b32: &str) -> String {
    totp_at(secret_b32, u64::try_from(now_secs()).unwrap())
}

pub fn totp_at(secret_b32: &str, t: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).generate(t)
}

/// A fake external IdP (Cognito-shaped tokens) serving its JWKS at `/.well-known/jwks.json`.
pub struct FakeIdp {
    pub issuer: String,
    pub jwks_url: String,
    keys: Arc<std::sync::RwLock<Vec<SigningKeyMaterial>>>,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeIdp {
    pub async fn start() -> FakeIdp {
        let keys = Arc::new(std::sync::RwLock::new(vec![SigningKeyMaterial::generate(SigningAlg::RS256).unwrap()]));
        let hits = Arc::new(AtomicUsize::new(0));
        let (k2, h2) = (keys.clone(), hits.clone());
        let app = axum::Router::new().route(
            "/pool/.well-known/jwks.json",
            axum::routing::get(move || {
                let (k, h) = (k2.clone(), h2.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let set = jsonwebtoken::jwk::JwkSet {
                        keys: k.read().unwrap().iter().map(|k| k.public_jwk().clone()).collect(),
                    };
                    axum::Json(set)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeIdp {
            issuer: format!("http://{addr}/pool"),
            jwks_url: format!("http://{addr}/pool/.well-known/jwks.json"),
            keys,
            hits,
            task,
        }
    }

    /// The issuer entry for the server's config.
    pub fn config(&self) -> (&'static str, Value) {
        (
            "auth.external_issuers",
            json!([{
                "issuer": self.issuer, "jwks_url": self.jwks_url, "client_ids": ["cognito-client"],
                "token_use": "access", "groups_claim": "cognito:groups",
                "group_map": {"Administrators": "admin", "MLUsers": "ml-users"}
            }]),
        )
    }

    /// Cognito access-token claims for `sub`.
    pub fn claims(&self, sub: &str) -> Value {
        let now = now_secs();
        json!({
            "iss": self.issuer, "sub": sub, "client_id": "cognito-client", "token_use": "access",
            "scope": "aws.cognito.signin.user.admin", "auth_time": now, "exp": now + 3600, "iat": now,
            "jti": uuid::Uuid::now_v7().to_string(), "username": format!("{sub}@corp.example"),
            "cognito:groups": ["MLUsers"]
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        let keys = self.keys.read().unwrap();
        let k = keys.last().unwrap();
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(k.kid.clone());
        jsonwebtoken::encode(&h, claims, k.encoding_key()).unwrap()
    }

    pub fn sign_with(&self, header: Header, claims: &Value, key: &EncodingKey) -> String {
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    pub fn current_kid(&self) -> String {
        self.keys.read().unwrap().last().unwrap().kid.clone()
    }

    /// Adds a new signing key (the old one stays published).
    pub fn rotate(&self) {
        self.keys.write().unwrap().push(SigningKeyMaterial::generate(SigningAlg::RS256).unwrap());
    }
}
