//! End to end against the real `rampart` binary: CLI, start-up, HTTP, logs, shutdown.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at the first broken step")]

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "e2e/ops.rs"]
mod ops;

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const PASSWORD: &str = "end to end passphrase";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary on data dir `dir` (made private first: `serve` refuses one others may read).
fn cmd(dir: &std::path::Path, db: Option<&str>) -> Command {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RAMPART_") {
            c.env_remove(k);
        }
    }
    c.env("RAMPART_DATA_DIR", dir)
        .env("RAMPART_AUTH__ARGON2__MEMORY_KIB", "8192")
        .env("RAMPART_AUTH__ARGON2__ITERATIONS", "1");
    if let Some(u) = db {
        c.env("RAMPART_DATABASE_URL", u);
    }
    c
}

fn run(mut c: Command, stdin: Option<&str>) -> (i32, String, String) {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

struct Server {
    child: Child,
    base: String,
    stderr_path: std::path::PathBuf,
    stdout_path: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &std::path::Path, db: Option<&str>) -> Server {
        Self::start_with(dir, db, &[])
    }
    fn start_with(dir: &std::path::Path, db: Option<&str>, env: &[(&str, String)]) -> Server {
        let port = free_port();
        let stderr_path = dir.join("server.err");
        let stdout_path = dir.join("server.out");
        let mut c = cmd(dir, db);
        c.arg("serve").env("RAMPART_LISTEN", format!("127.0.0.1:{port}"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdout(std::fs::File::create(&stdout_path).unwrap()).stderr(std::fs::File::create(&stderr_path).unwrap());
        let child = c.spawn().unwrap();
        let s = Server { child, base: format!("http://127.0.0.1:{port}"), stderr_path, stdout_path };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(200) = reqwest::blocking_get(&format!("{}/readyz", s.base)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not become ready: {}",
                std::fs::read_to_string(&s.stderr_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap()
    }
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

mod reqwest {
    /// A tiny blocking GET for readiness polling (no runtime needed).
    pub fn blocking_get(url: &str) -> std::io::Result<u16> {
        use std::io::{Read, Write};
        let rest = url.trim_start_matches("http://");
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(s, "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        Ok(buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0))
    }
}

async fn call(
    http: &::reqwest::Client,
    method: &str,
    url: String,
    auth: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http.request(::reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    if let Some((h, v)) = auth {
        r = r.header(h, v);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn login(http: &::reqwest::Client, base: &str, email: &str) -> (u16, Value) {
    call(http, "POST", format!("{base}/v1/auth/login"), None, Some(json!({"username": email, "password": PASSWORD})))
        .await
}

fn totp(secret_b32: &str, t: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_owned()).to_bytes().unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into()).generate(t)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

async fn full_flow(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    // Offline user creation with the CLI.
    let mut c = cmd(dir.path(), db);
    c.args(["user", "add", "--email", "E2E@example.com", "--group", "admin", "--password-stdin"]);
    let (code, out, err) = run(c, Some(&format!("{PASSWORD}\n")));
    assert_eq!(code, 0, "{err}");
    let uid = out.trim().to_owned();
    assert!(uuid::Uuid::parse_str(&uid).is_ok(), "prints the new user id: {out:?}");

    let srv = Server::start(dir.path(), db);
    let http = ::reqwest::Client::new();
    let b = &srv.base;
    let (st, l) = login(&http, b, "e2e@example.com").await;
    assert_eq!(st, 200, "{l}");
    let at = l["accessToken"].as_str().unwrap().to_owned();
    // Enrol TOTP, then sign in again with a code computed here.
    let bearer = format!("Bearer {at}");
    let (_, e) =
        call(&http, "POST", format!("{b}/v1/me/mfa/totp"), Some(("authorization", &bearer)), Some(json!({}))).await;
    let secret = e["secret"].as_str().unwrap().to_owned();
    let (st, v) = call(
        &http,
        "POST",
        format!("{b}/v1/me/mfa/totp/verify"),
        Some(("authorization", &bearer)),
        Some(json!({"code": totp(&secret, now())})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, _) =
        call(&http, "POST", format!("{b}/v1/auth/logout"), None, Some(json!({"refreshToken": l["refreshToken"]})))
            .await;
    assert_eq!(st, 204);
    let (st, _) = call(&http, "GET", format!("{b}/v1/me"), Some(("authorization", &bearer)), None).await;
    assert_eq!(st, 401, "logged-out token refused");

    let (_, ch) = login(&http, b, "e2e@example.com").await;
    assert_eq!(ch["challenge"], "TOTP");
    let next_step = (now() / 30 + 1) * 30; // the enrolment code's step is spent; use the next one
    let (st, tokens) = call(
        &http,
        "POST",
        format!("{b}/v1/auth/challenge"),
        None,
        Some(json!({"session": ch["session"], "code": totp(&secret, next_step)})),
    )
    .await;
    assert_eq!(st, 200, "{tokens}");
    let at = tokens["accessToken"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {at}");
    let (st, me) = call(&http, "GET", format!("{b}/v1/me"), Some(("authorization", &bearer)), None).await;
    assert_eq!(st, 200);
    assert_eq!(me["sub"], uid.as_str());
    assert_eq!(me["email"], "e2e@example.com");
    assert_eq!(me["mfaEnabled"], true);
    assert_eq!(me["groups"], json!(["admin"]));

    // An API key made with the CLI while the server runs.
    let mut c = cmd(dir.path(), db);
    c.args(["apikey", "create", "--email", "e2e@example.com", "--name", "cli-key", "--scope", "chat"]);
    let (code, out, err) = run(c, None);
    assert_eq!(code, 0, "{err}");
    let key = out.trim().to_owned();
    assert!(key.starts_with("rampart_"));
    let (st, me2) = call(&http, "GET", format!("{b}/v1/me"), Some(("x-api-key", &key)), None).await;
    assert_eq!(st, 200);
    assert_eq!(me2["authMethod"], "api_key");
    let (st, _) =
        call(&http, "GET", format!("{b}/v1/me"), Some(("authorization", &format!("Bearer {key}"))), None).await;
    assert_eq!(st, 200);

    // Refresh, then log out.
    let (st, r) = call(
        &http,
        "POST",
        format!("{b}/v1/auth/refresh"),
        None,
        Some(json!({"refreshToken": tokens["refreshToken"]})),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) =
        call(&http, "POST", format!("{b}/v1/auth/logout"), None, Some(json!({"refreshToken": r["refreshToken"]})))
            .await;
    assert_eq!(st, 204);
    let (st, _) = call(
        &http,
        "GET",
        format!("{b}/v1/me"),
        Some(("authorization", &format!("Bearer {}", r["accessToken"].as_str().unwrap()))),
        None,
    )
    .await;
    assert_eq!(st, 401);

    // Logs: JSON lines with request ids; the access log (stdout) has one line per request; no
    // secrets in either.
    let logs = srv.logs();
    for line in logs.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if v["span"]["name"] == "request" {
            assert!(v["span"]["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{line}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let access = loop {
        let a = std::fs::read_to_string(&srv.stdout_path).unwrap();
        if a.lines().filter(|l| l.starts_with('{')).count() >= 10 || Instant::now() > deadline {
            break a;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut request_lines = 0;
    for line in access.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{line}");
        assert!(v["status"].as_u64().is_some() && v["latency_ms"].as_f64().is_some(), "{line}");
        request_lines += 1;
    }
    assert!(request_lines >= 10, "{request_lines} access log lines");
    assert!(access.contains(&format!("\"principal\":\"{uid}\"")), "signed-in requests name the user: {access}");
    for secret in [PASSWORD, &at, &key, &secret, tokens["refreshToken"].as_str().unwrap()] {
        assert!(!logs.contains(secret) && !access.contains(secret), "a secret leaked into the logs");
    }
}

#[tokio::test]
async fn cli_user_login_totp_me_apikey_refresh_logout_on_sqlite() {
    full_flow(None).await;
}

#[tokio::test]
async fn cli_user_login_totp_me_apikey_refresh_logout_on_postgres() {
    let Some(base) = rampart_testkit::pg_url() else {
        rampart_testkit::skipped("e2e::cli_user_login_totp_me_apikey_refresh_logout_on_postgres");
        return;
    };
    let (_, url) = rampart_testkit::TestDb::create_pg_database(&base).await;
    full_flow(Some(&url)).await;
}

#[tokio::test]
async fn first_start_prints_a_bootstrap_code_that_makes_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), None);
    let out = std::fs::read_to_string(&srv.stdout_path).unwrap();
    let file = dir.path().join("bootstrap-code");
    let code = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    assert!(out.contains(&code), "the code is printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(!srv.logs().contains(&code), "the code is not in the logs");
    let http = ::reqwest::Client::new();
    let (st, _) = call(
        &http,
        "POST",
        format!("{}/v1/auth/bootstrap", srv.base),
        None,
        Some(json!({"code": code, "email": "root@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(st, 201);
    assert!(!file.exists(), "the code file is removed once used");
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), None);
    let host = srv.base.trim_start_matches("http://").to_owned();
    // A request whose body is still arriving when the signal comes.
    let body = br#"{"username":"nobody@example.com","password":"long enough password"}"#;
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "POST /v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let st = Command::new("kill").args(["-TERM", &srv.pid().to_string()]).status().unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(300));
    // New connections are no longer accepted…
    assert!(reqwest::blocking_get(&format!("{}/healthz", srv.base)).is_err(), "listener closed after SIGTERM");
    // …but the in-flight request completes.
    s.write_all(&body[10..]).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = srv.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(srv.logs().contains("shutdown requested"));
}

#[test]
fn config_example_checks_and_bad_config_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["config", "example"]);
    let (code, example, _) = run(c, None);
    assert_eq!(code, 0);
    let f = dir.path().join("rampart.toml");
    std::fs::write(&f, &example).unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["config", "check"]).arg(&f);
    let (code, out, err) = run(c, None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok"));
    std::fs::write(&f, "[auth]\nmfa = \"sometimes\"\n[server]\nlisten = \"127.0.0.1:1\"\n").unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["config", "check"]).arg(&f);
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2);
    assert!(err.contains("auth.mfa"), "{err}");
    let mut c = cmd(dir.path(), None);
    c.args(["serve"]).env("RAMPART_AUTH__COLOUR", "blue");
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn weak_or_exposed_master_keys_stop_start_up_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("mk");
    std::fs::write(&key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut c = cmd(dir.path(), None);
    c.arg("serve").env("RAMPART_MASTER_KEY_FILE", &key).env("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port()));
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2);
    assert!(err.contains("entropy") && err.contains("/dev/urandom"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&key, "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut c = cmd(dir.path(), None);
        c.arg("serve").env("RAMPART_MASTER_KEY_FILE", &key);
        let (code, _, err) = run(c, None);
        assert_eq!(code, 2);
        assert!(err.contains("chmod 600"), "{err}");
    }
    let mut c = cmd(dir.path(), None);
    c.arg("serve").env("RAMPART_MASTER_KEY_FILE", dir.path().join("missing"));
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
}

#[tokio::test]
async fn cli_signing_key_rotation_reaches_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["user", "add", "--email", "rot@example.com", "--password-stdin"]);
    assert_eq!(run(c, Some(PASSWORD)).0, 0);
    let port = free_port();
    let stderr = std::fs::File::create(dir.path().join("server.err")).unwrap();
    let mut c = cmd(dir.path(), None);
    c.arg("serve")
        .env("RAMPART_LISTEN", format!("127.0.0.1:{port}"))
        .env("RAMPART_AUTH__SIGNING_KEY_RELOAD_INTERVAL", "1s");
    c.stdout(Stdio::null()).stderr(stderr);
    let child = c.spawn().unwrap();
    let srv = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        stderr_path: dir.path().join("server.err"),
        stdout_path: dir.path().join("server.out"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking_get(&format!("{}/readyz", srv.base)).ok() != Some(200) {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = ::reqwest::Client::new();
    let (_, l1) = login(&http, &srv.base, "rot@example.com").await;
    let old = l1["accessToken"].as_str().unwrap().to_owned();
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    let old_kid = kid(&old);

    let mut c = cmd(dir.path(), None);
    c.args(["keys", "rotate-signing"]);
    let (code, out, err) = run(c, None);
    assert_eq!(code, 0, "{err}");
    let new_kid = out.trim().to_owned();
    assert_ne!(new_kid, old_kid);

    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (_, jwks) = call(&http, "GET", format!("{}/.well-known/jwks.json", srv.base), None, None).await;
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");
    let (_, l2) = login(&http, &srv.base, "rot@example.com").await;
    assert_eq!(kid(l2["accessToken"].as_str().unwrap()), new_kid, "the running server signs with the new key");
    let (st, _) =
        call(&http, "GET", format!("{}/v1/me", srv.base), Some(("authorization", &format!("Bearer {old}"))), None)
            .await;
    assert_eq!(st, 200, "tokens signed with the retired key stay valid until they expire");
}

#[tokio::test]
async fn cli_audit_verify_detects_an_edited_or_truncated_log() {
    let dir = tempfile::tempdir().unwrap();
    for email in ["a1@example.com", "a2@example.com", "a3@example.com"] {
        let mut c = cmd(dir.path(), None);
        c.args(["user", "add", "--email", email, "--password-stdin"]);
        assert_eq!(run(c, Some(PASSWORD)).0, 0);
    }
    let verify = |extra: &[&str]| {
        let mut c = cmd(dir.path(), None);
        c.args(["audit", "verify"]).args(extra);
        run(c, None)
    };
    let (code, out, err) = verify(&[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 records, seq 1..3") && out.contains("audit chain intact"), "{out}");
    let head = out.split("head ").nth(1).unwrap().lines().next().unwrap().to_owned();
    assert!(head.starts_with("3:"), "{head}");
    assert_eq!(verify(&["--expect-head", &head]).0, 0);
    assert_ne!(verify(&["--expect-head", "3:nothex"]).0, 0, "a malformed head is refused");

    // Someone with write access to the database rewrites who created the second user.
    let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
    let db = rampart_storage::Db::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET target = 'someone-else' WHERE seq = 2").execute(db.pool()).await.unwrap();
    let (code, out, err) = verify(&[]);
    assert_ne!(code, 0);
    assert!(out.contains("TAMPERED: record 2") && out.contains("modified"), "{out}");
    assert!(err.contains("failed verification"), "{err}");

    // Dropping the newest record only shows against the recorded head.
    sqlx::query("DELETE FROM audit_log WHERE seq >= 2").execute(db.pool()).await.unwrap();
    db.close().await;
    assert_eq!(verify(&[]).0, 0, "a shorter but consistent chain");
    let (code, out, _) = verify(&["--expect-head", &head]);
    assert_ne!(code, 0);
    assert!(out.contains("no longer in the chain"), "{out}");
}

#[tokio::test]
async fn a_separate_metrics_listener_serves_prometheus_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mport = free_port();
    let srv = Server::start_with(dir.path(), None, &[("RAMPART_METRICS__LISTEN", format!("127.0.0.1:{mport}"))]);
    assert_eq!(reqwest::blocking_get(&format!("{}/readyz", srv.base)).unwrap(), 200);
    let r = ::reqwest::get(format!("http://127.0.0.1:{mport}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"rampart_http_requests_total{route="/readyz",method="GET",status="200"}"#), "{text}");
    assert!(text.contains("# TYPE rampart_edge_refusals_total counter"), "{text}");
    // Only /metrics there; and the main listener still wants an administrator.
    let r = ::reqwest::get(format!("http://127.0.0.1:{mport}/v1/me")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(::reqwest::get(format!("{}/metrics", srv.base)).await.unwrap().status(), 401);

    // A metrics listener on a public address needs an explicit opt-in.
    let mut c = cmd(dir.path(), None);
    c.arg("serve")
        .env("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("RAMPART_METRICS__LISTEN", "0.0.0.0:9464");
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("metrics.allow_remote"), "{err}");
}

#[test]
fn cli_master_key_rotation_then_the_old_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["user", "add", "--email", "k1@example.com", "--password-stdin"]);
    assert_eq!(run(c, Some(PASSWORD)).0, 0);
    let old = dir.path().join("master.key");
    let new = dir.path().join("new.key");
    let mut c = cmd(dir.path(), None);
    c.args(["keys", "new-master-key"]).arg(&new);
    let (code, new_id, err) = run(c, None);
    assert_eq!(code, 0, "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let mut c = cmd(dir.path(), None);
    c.args(["keys", "new-master-key"]).arg(&new);
    assert_ne!(run(c, None).0, 0, "an existing key file is never replaced");

    let with = |key: &std::path::Path, previous: Option<&std::path::Path>| {
        let mut c = cmd(dir.path(), None);
        c.env("RAMPART_MASTER_KEY_FILE", key);
        if let Some(p) = previous {
            c.env("RAMPART_CRYPTO__PREVIOUS_KEY_FILES", format!("[{:?}]", p.display().to_string()));
        }
        c
    };
    let mut c = with(&new, Some(&old));
    c.args(["keys", "rotate-master"]);
    let (code, out, err) = run(c, None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("signing_keys.private_key") && out.contains(new_id.trim()), "{out}");
    let mut c = with(&new, None);
    c.args(["user", "add", "--email", "k2@example.com", "--password-stdin"]);
    let (code, _, err) = run(c, Some(PASSWORD));
    assert_eq!(code, 0, "the new key alone opens everything: {err}");
    let mut c = with(&old, None);
    c.args(["user", "add", "--email", "k3@example.com", "--password-stdin"]);
    let (code, _, err) = run(c, Some(PASSWORD));
    assert_eq!(code, 2);
    assert!(err.contains("does not match this database"), "{err}");
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made with the openssl CLI.
fn make_cert(dir: &std::path::Path, cn: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (tmp_cert, tmp_key) = (dir.join("cert.tmp"), dir.join("key.tmp"));
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={cn}"), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&tmp_key)
        .arg("-out")
        .arg(&tmp_cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl req");
    std::fs::rename(&tmp_key, &key).unwrap();
    std::fs::rename(&tmp_cert, &cert).unwrap();
    (cert, key)
}

/// A minimal ClientHello record (RFC 5246 §7.4.1.2) offering `version`, written here so the
/// test controls exactly what is offered (client libraries refuse to offer TLS 1.0/1.1).
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id
    let suites: &[u16] = &[0xc02b, 0xc02f, 0xc013, 0xc009, 0x002f, 0x0035];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut ext = Vec::new();
    let mut add = |ty: u16, data: &[u8]| {
        ext.extend_from_slice(&ty.to_be_bytes());
        ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
        ext.extend_from_slice(data);
    };
    let host = b"localhost";
    let mut sni = vec![0, (host.len() + 3) as u8, 0, 0, host.len() as u8];
    sni.extend_from_slice(host);
    add(0x0000, &sni);
    add(0x000a, &[0, 4, 0x00, 0x17, 0x00, 0x1d]); // supported groups: P-256, X25519
    add(0x000b, &[1, 0]); // EC point formats: uncompressed
    add(0x000d, &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]); // signature algorithms
    add(0x0017, &[]); // extended master secret
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, version[0], version[1], (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// Sends a ClientHello and returns the first record's (content type, first body byte), or
/// None when the server closes the connection without answering.
fn first_record(port: u16, version: [u8; 2]) -> Option<(u8, u8)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&client_hello(version)).unwrap();
    let mut head = [0u8; 6];
    s.read_exact(&mut head).ok()?;
    Some((head[0], head[5]))
}

fn subject(port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "localhost"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().find(|l| l.starts_with("subject=")).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn tls_end_to_end_redirect_old_versions_refused_and_certificate_reload() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    let (cert, key) = make_cert(&tls_dir, "first");
    let (port, rport) = (free_port(), free_port());
    let mut c = cmd(dir.path(), None);
    c.arg("serve")
        .env("RAMPART_LISTEN", format!("127.0.0.1:{port}"))
        .env("RAMPART_PUBLIC_URL", format!("https://localhost:{port}"))
        .env("RAMPART_TLS__CERT_FILE", &cert)
        .env("RAMPART_TLS__KEY_FILE", &key)
        .env("RAMPART_TLS__RELOAD_INTERVAL", "1s")
        .env("RAMPART_TLS__REDIRECT_LISTEN", format!("127.0.0.1:{rport}"))
        .stdout(std::fs::File::create(dir.path().join("server.out")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap());
    let child = c.spawn().unwrap();
    let _srv = Server {
        child,
        base: format!("https://localhost:{port}"),
        stderr_path: dir.path().join("server.err"),
        stdout_path: dir.path().join("server.out"),
    };
    let ca = ::reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let https = ::reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .redirect(::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let resp = loop {
        let r = https.get(format!("https://localhost:{port}/healthz")).send().await;
        match r {
            Ok(r) => break r,
            Err(e) => assert!(
                Instant::now() < deadline,
                "{e:?}\n{}",
                std::fs::read_to_string(dir.path().join("server.err")).unwrap()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    assert_eq!(https.get(format!("https://localhost:{port}/v1/me")).send().await.unwrap().status(), 401);
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_ne!(reqwest::blocking_get(&format!("http://127.0.0.1:{port}/healthz")).unwrap_or(0), 200);

    // The redirect listener sends every path to the public https URL, whatever Host says.
    let plain = ::reqwest::Client::builder().redirect(::reqwest::redirect::Policy::none()).build().unwrap();
    let r =
        plain.get(format!("http://127.0.0.1:{rport}/v1/me?x=1")).header("host", "evil.example").send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://localhost:{port}/v1/me?x=1").as_str());

    // TLS 1.0 and 1.1 are refused with an alert (or a close), never a ServerHello; the same
    // hello offering TLS 1.2 gets one (so the probe itself works).
    for old in [[3, 1], [3, 2]] {
        let r = first_record(port, old);
        assert!(r.is_none() || r == Some((0x15, 2)), "TLS {old:?} answered with {r:?}");
    }
    assert_eq!(first_record(port, [3, 3]), Some((0x16, 2)), "a TLS 1.2 hello gets a ServerHello");

    // The access log names the TLS version of each request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(dir.path().join("server.out")).unwrap().contains(r#""route":"/v1/me","status":401"#)
    {
        assert!(Instant::now() < deadline, "no access log line");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = std::fs::read_to_string(dir.path().join("server.out")).unwrap();
    let line = out.lines().find(|l| l.contains(r#""path":"/v1/me""#)).unwrap();
    assert!(line.contains(r#""tls":"TLSv1.3""#), "{line}");

    // A renewed certificate is served without a restart.
    assert!(subject(port).contains("first"), "{}", subject(port));
    make_cert(&tls_dir, "renewed");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !subject(port).contains("renewed") {
        assert!(Instant::now() < deadline, "the renewed certificate was not picked up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn plain_http_off_loopback_needs_an_explicit_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path(), None);
    c.arg("serve").env("RAMPART_LISTEN", format!("0.0.0.0:{}", free_port()));
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2);
    assert!(err.contains("allow_plain_http") && err.contains("tls.cert_file"), "{err}");
    let mut c = cmd(dir.path(), None);
    c.arg("config").arg("check").arg("/dev/null").env("RAMPART_TLS__CERT_FILE", "/x");
    let (code, _, err) = run(c, None);
    assert_eq!(code, 2);
    assert!(err.contains("go together"), "{err}");
}

/// Two `rampart serve` processes (each with its own data) that share only Redis: the sign-in
/// rule per client address counts across both.
#[tokio::test]
async fn rate_limits_are_shared_across_two_processes_through_redis() {
    let Some(redis) = rampart_testkit::redis_url_or_skip("rate_limits_are_shared_across_two_processes_through_redis")
    else {
        return;
    };
    let prefix = format!("e2e-{}", uuid::Uuid::now_v7());
    let start = |shared: bool| {
        let dir = tempfile::tempdir().unwrap();
        let mut env = vec![
            ("RAMPART_EDGE__RATE_EXEMPT", "[]".to_owned()),
            ("RAMPART_EDGE__AUTH_RATE_PER_MINUTE", "4".to_owned()),
        ];
        if shared {
            env.push(("RAMPART_EDGE__REDIS_URL", redis.clone()));
            env.push(("RAMPART_EDGE__REDIS_PREFIX", prefix.clone()));
        }
        let s = Server::start_with(dir.path(), None, &env);
        (dir, s)
    };
    let http = ::reqwest::Client::new();
    let attempt = |base: String| {
        let http = http.clone();
        async move {
            let r = http
                .post(format!("{base}/v1/auth/login"))
                .json(&json!({"username": "nobody@example.com", "password": "wrong password 1"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()))
        }
    };
    // Without Redis each process has its own four.
    let ((_da, a), (_db, b)) = (start(false), start(false));
    for i in 0..8 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        assert_eq!(attempt(base.clone()).await.0, 401, "attempt {i}");
    }
    drop((a, b));
    // With Redis the four are shared: the fifth, on either process, is refused.
    let ((_da, a), (_db, b)) = (start(true), start(true));
    for i in 0..4 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        assert_eq!(attempt(base.clone()).await.0, 401, "attempt {i}");
    }
    for base in [&a.base, &b.base] {
        let (status, retry) = attempt(base.clone()).await;
        assert_eq!(status, 429);
        let retry: u64 = retry.unwrap().parse().unwrap();
        assert!((1..=15).contains(&retry), "one sign-in refills every 15 s: {retry}");
    }
}

/// A fake OTLP/HTTP collector: keeps every `POST /v1/traces` body.
async fn fake_collector() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(body.to_vec());
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), got)
}

#[tokio::test]
async fn traces_go_to_an_otlp_collector_with_request_auth_assistant_and_provider_spans_and_no_content() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let up = rampart_testkit::fake_openai::FakeOpenAi::start(rampart_testkit::fake_openai::Knobs {
        reply: "the planted answer text".into(),
        ..Default::default()
    })
    .await;
    let (collector, got) = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("rampart.toml");
    std::fs::write(
        &conf,
        format!(
            "[[models]]\nid = \"local\"\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"m\"\n\n\
             [[assistants]]\nid = \"default\"\nkind = \"model\"\nmodel = \"local\"\n\n\
             [otel]\nendpoint = \"{collector}\"\nexport_interval = \"200ms\"\n",
            up.base_url
        ),
    )
    .unwrap();
    let mut c = cmd(dir.path(), None);
    c.env("RAMPART_CONFIG", &conf).args(["user", "add", "--email", "otel@example.com", "--password-stdin"]);
    assert_eq!(run(c, Some(PASSWORD)).0, 0);
    let srv = Server::start_with(dir.path(), None, &[("RAMPART_CONFIG", conf.display().to_string())]);
    let http = ::reqwest::Client::new();
    let (_, l) = login(&http, &srv.base, "otel@example.com").await;
    let token = l["accessToken"].as_str().unwrap().to_owned();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = http
        .post(format!("{}/v1/chat/completions", srv.base))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"model": "default", "messages": [{"role": "user", "content": "planted question text"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("the planted answer text"));

    // Spans arrive within the export interval; collect them.
    let deadline = Instant::now() + Duration::from_secs(15);
    let spans = loop {
        let bodies = got.lock().unwrap().clone();
        let spans: Vec<_> = bodies
            .iter()
            .flat_map(|b| ExportTraceServiceRequest::decode(b.as_slice()).unwrap().resource_spans)
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .collect();
        if spans.iter().any(|s| s.name == "provider") || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let ours: Vec<_> = spans.iter().filter(|s| hex(&s.trace_id) == trace_id).collect();
    let by_name = |n: &str| ours.iter().find(|s| s.name == n).unwrap_or_else(|| panic!("no {n} span in {ours:#?}"));
    let (req, auth, asst, prov) = (by_name("request"), by_name("auth"), by_name("assistant"), by_name("provider"));
    assert_eq!(hex(&req.parent_span_id), "00f067aa0ba902b7", "the caller's traceparent is the parent");
    assert_eq!(auth.parent_span_id, req.span_id);
    assert_eq!(asst.parent_span_id, req.span_id);
    assert_eq!(prov.parent_span_id, asst.span_id);
    let attr = |s: &opentelemetry_proto::tonic::trace::v1::Span, k: &str| {
        s.attributes.iter().find(|a| a.key == k).and_then(|a| a.value.clone()).map(|v| format!("{v:?}"))
    };
    assert!(attr(prov, "provider").unwrap().contains("openai"));
    assert!(attr(asst, "assistant").unwrap().contains("default"));
    // Identifiers only: no content, credentials or emails anywhere in what was exported.
    let all: Vec<u8> = got.lock().unwrap().concat();
    for needle in ["planted question text", "the planted answer text", PASSWORD, token.as_str(), "otel@example.com"] {
        assert!(!all.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle:?} was exported");
    }
}

/// The next JSON text frame of a WebSocket that is not a keep-alive (`None` when it closed).
async fn ws_json<S>(ws: &mut S) -> Option<Value>
where
    S: futures::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] != "ka" {
                    return Some(v);
                }
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn kill_9_during_a_meeting_loses_no_acknowledged_segment_and_the_next_start_ends_it() {
    use base64::Engine as _;
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["user", "add", "--email", "ana@example.com", "--password-stdin"]);
    let (code, _, err) = run(c, Some(&format!("{PASSWORD}\n")));
    assert_eq!(code, 0, "{err}");
    let env = [
        ("RAMPART_SPEECH__ENGINE", "passthrough".to_owned()),
        ("RAMPART_SPEECH__PASSTHROUGH_INTERVAL", "500ms".to_owned()),
        ("RAMPART_MEETINGS__RECORDING_CHUNK_SECS", "1".to_owned()),
    ];
    let mut srv = Server::start_with(dir.path(), None, &env);
    let http = ::reqwest::Client::new();
    let (st, l) = login(&http, &srv.base, "ana@example.com").await;
    assert_eq!(st, 200, "{l}");
    let token = l["accessToken"].as_str().unwrap().to_owned();
    let host = srv.base.trim_start_matches("http://").to_owned();

    // The audio socket, LMA's protocol: START, then two channels of 16 kHz PCM.
    let mut req = format!("ws://{host}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut audio, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let start = json!({"callEvent": "START", "callId": "crash-9", "agentId": "Ana", "fromNumber": "Others",
                       "toNumber": "Standup", "samplingRate": 16000, "activeSpeaker": "Bo"});
    audio.send(Message::Text(start.to_string().into())).await.unwrap();
    let started = ws_json(&mut audio).await.unwrap();
    assert_eq!(started["type"], "started", "{started}");
    let channel = started["meeting"]["channel"].as_str().unwrap().to_owned();

    // A subscriber on the meeting's channel: what it receives is what the user saw.
    let auth = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"host": host, "Authorization": token}).to_string());
    let mut req = format!("ws://{host}/event/realtime").into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", format!("aws-appsync-event-ws, header-{auth}").parse().unwrap());
    let (mut rt, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    rt.send(Message::Text(json!({"type": "connection_init"}).to_string().into())).await.unwrap();
    assert_eq!(ws_json(&mut rt).await.unwrap()["type"], "connection_ack");
    rt.send(Message::Text(json!({"type": "subscribe", "id": "s", "channel": channel}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(ws_json(&mut rt).await.unwrap()["type"], "subscribe_success");

    // Audio at real-time pace until the subscriber has seen several finals, then SIGKILL.
    let feeder = tokio::spawn(async move {
        let frame: Vec<u8> = (0..1600i32)
            .flat_map(|i| [((i % 50) * 300) as i16, -((i % 50) * 300) as i16])
            .flat_map(i16::to_le_bytes)
            .collect();
        loop {
            if audio.send(Message::Binary(frame.clone().into())).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut finals = std::collections::BTreeMap::new();
    while finals.len() < 8 {
        let ev = ws_json(&mut rt).await.expect("the channel stays open");
        if ev["type"] != "data" {
            continue;
        }
        let e: Value = serde_json::from_str(ev["event"].as_str().unwrap()).unwrap();
        if e["EventType"] == "ADD_TRANSCRIPT_SEGMENT" && e["IsPartial"] == false {
            finals.insert(e["SegmentId"].as_str().unwrap().to_owned(), e["Transcript"].clone());
        }
    }
    srv.child.kill().unwrap(); // SIGKILL: no shutdown path runs
    srv.child.wait().unwrap();
    feeder.abort();

    // The next start ends the meeting with what was stored.
    let srv = Server::start_with(dir.path(), None, &env);
    let (_, l) = login(&http, &srv.base, "ana@example.com").await;
    let bearer = format!("Bearer {}", l["accessToken"].as_str().unwrap());
    let (st, m) =
        call(&http, "GET", format!("{}/v1/meetings/crash-9", srv.base), Some(("authorization", &bearer)), None).await;
    assert_eq!(st, 200, "{m}");
    assert_eq!(m["status"], "ended", "{m}");
    assert_eq!(m["recording"]["status"], "available", "the complete chunks are kept: {m}");
    assert!(m["durationSecs"].as_f64().unwrap() >= 1.5, "the audio streamed before the kill: {m}");
    let (st, tr) = call(
        &http,
        "GET",
        format!("{}/v1/meetings/crash-9/transcript", srv.base),
        Some(("authorization", &bearer)),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let stored: std::collections::BTreeMap<String, Value> = tr["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["SegmentId"].as_str().unwrap().to_owned(), s["Transcript"].clone()))
        .collect();
    for (id, text) in &finals {
        assert_eq!(stored.get(id), Some(text), "segment {id} the subscriber saw is stored");
    }
    assert!(srv.logs().contains("ended meetings a previous process left live"), "{}", srv.logs());
}

/// Issue 19: `kill -9` while a reply streams kept the question but lost the answer the user had
/// already seen. The answer is stored as it streams: after the restart the history holds what
/// was said before the kill, marked interrupted.
#[tokio::test]
async fn a_kill_during_a_streamed_reply_keeps_what_the_user_saw() {
    use rampart_testkit::fake_openai::{FakeOpenAi, Knobs};
    let words: Vec<String> = (1..=40).map(|i| format!("w{i}")).collect();
    let reply = words.join(" ");
    let up =
        FakeOpenAi::start(Knobs { reply: reply.clone(), token_delay: Duration::from_millis(150), ..Knobs::default() })
            .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rampart.toml");
    std::fs::write(
        &config,
        format!(
            "[[models]]\nid = \"local\"\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"m\"\nmax_retries = 0\n\n\
             [[assistants]]\nid = \"default\"\nkind = \"model\"\nmodel = \"local\"\n",
            up.base_url
        ),
    )
    .unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["user", "add", "--email", "kill@example.com", "--password-stdin"]).env("RAMPART_CONFIG", &config);
    let (code, out, err) = run(c, Some(&format!("{PASSWORD}\n")));
    assert_eq!(code, 0, "{err}");
    let uid = out.trim().to_owned();
    let env = [("RAMPART_CONFIG", config.display().to_string())];
    let http = ::reqwest::Client::new();
    let sid = uuid::Uuid::now_v7().to_string();

    let mut srv = Server::start_with(dir.path(), None, &env);
    let (_, l) = login(&http, &srv.base, "kill@example.com").await;
    let bearer = format!("Bearer {}", l["accessToken"].as_str().unwrap());
    let events = vec![json!({"payload": {"text": "Count to forty", "sessionId": sid}}).to_string()];
    let (st, v) = call(
        &http,
        "POST",
        format!("{}/event", srv.base),
        Some(("authorization", &bearer)),
        Some(json!({"channel": format!("/in/{uid}/{sid}"), "events": events})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // About 15 of the 40 words are out when the process is killed.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    srv.child.kill().unwrap();
    srv.child.wait().unwrap();
    drop(srv);

    let srv = Server::start_with(dir.path(), None, &env);
    let (_, l) = login(&http, &srv.base, "kill@example.com").await;
    let bearer = format!("Bearer {}", l["accessToken"].as_str().unwrap());
    let (st, h) =
        call(&http, "GET", format!("{}/v1/sessions/{sid}", srv.base), Some(("authorization", &bearer)), None).await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["history"][0]["content"], "Count to forty");
    let answer = &h["history"][1];
    let text = answer["content"].as_str().unwrap_or_else(|| panic!("the answer so far was kept: {h}"));
    assert!(text.split_whitespace().count() >= 5 && reply.starts_with(text) && text.len() < reply.len(), "{text:?}");
    assert!(answer["parts"].as_array().unwrap().iter().any(|p| p["type"] == "interrupted"), "{answer}");
}

/// Issue 19: the server started on a data directory other users could read, and made its files
/// 0644. A directory open to others is refused with the fix to run (unless allowed), and every
/// file the server makes is its owner's only, whatever the shell's umask.
#[test]
fn an_open_data_dir_is_refused_and_every_file_made_is_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut c = cmd(&data, None);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    c.arg("serve").env("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port()));
    let (code, _, err) = run(c, None);
    assert_ne!(code, 0);
    assert!(err.contains("may be read or written by other users") && err.contains("chmod 700"), "{err}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "nothing was made in it");

    // Allowed explicitly: it starts, and what it makes is still private.
    let srv = Server::start_with(&data, None, &[("RAMPART_SERVER__ALLOW_OPEN_DATA_DIR", "true".into())]);
    let mut open = Vec::new();
    let mut dirs = vec![data.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(e.path());
            }
            // The test's own log files are made by the test, not the server.
            let ours = e.file_name().to_str().is_some_and(|n| n.starts_with("server."));
            if !ours && meta.permissions().mode() & 0o077 != 0 {
                open.push(format!("{} {:o}", e.path().display(), meta.permissions().mode() & 0o777));
            }
        }
    }
    assert!(std::fs::read_dir(&data).unwrap().count() > 2, "the server made its files");
    assert!(open.is_empty(), "made readable by others: {open:?}\n{}", srv.logs());
}
