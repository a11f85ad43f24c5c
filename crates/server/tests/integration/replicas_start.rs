//! Replicas that start at the same moment on a fresh PostgreSQL database, as a Kubernetes
//! Deployment with several replicas does: real `rampart serve` processes (the built binary), one
//! database, NATS and Redis as in the scale-out tests, one master key file, each replica its own
//! data dir. All become ready, the first-start state exists once, and what one replica issues
//! the others accept.

use serde_json::{Value, json};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const REPLICAS: usize = 3;
const PASSWORD: &str = "replica start passphrase";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One `rampart serve` process; killed when dropped.
struct Replica {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Starts the binary with `env` (and nothing else of this process's `RAMPART_*`), its output
    /// in files in its data dir. Does not wait.
    fn spawn(env: &[(&str, String)]) -> Replica {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars() {
            if k.starts_with("RAMPART_") {
                c.env_remove(k);
            }
        }
        // `serve` refuses a data dir others may read.
        let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700);
        std::fs::set_permissions(dir.path(), private).unwrap();
        c.arg("serve")
            .env("RAMPART_DATA_DIR", dir.path())
            .env("RAMPART_LISTEN", format!("127.0.0.1:{port}"))
            .env("RAMPART_AUTH__ARGON2__MEMORY_KIB", "8192")
            .env("RAMPART_AUTH__ARGON2__ITERATIONS", "1");
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdout(std::fs::File::create(dir.path().join("server.out")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap());
        Replica { child: c.spawn().unwrap(), base: format!("http://127.0.0.1:{port}"), dir }
    }

    fn output(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Waits for `/readyz` to answer 200; fails the test, with the replica's log, if the process
    /// exits first or does not get there within `deadline`.
    async fn wait_ready(&mut self, http: &reqwest::Client, deadline: Instant) {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("replica {} exited at start ({status}): {}", self.base, self.output("server.err"));
            }
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "replica {} not ready: {}", self.base, self.output("server.err"));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The bootstrap code this replica printed (and wrote to its data dir).
    fn bootstrap_code(&self) -> String {
        let code = self.output("bootstrap-code").trim().to_owned();
        assert!(!code.is_empty(), "replica {} wrote no bootstrap code: {}", self.base, self.output("server.err"));
        assert!(self.output("server.out").contains(&code), "replica {} printed its code", self.base);
        code
    }

    async fn call(
        &self,
        http: &reqwest::Client,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r =
            http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", self.base));
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }
}

/// The environment every replica shares: the database, the master key, the public URL of the
/// load balancer in front of them, NATS and Redis.
fn shared_env(db_url: &str, key_file: &std::path::Path, nats: &str, redis: &str) -> Vec<(&'static str, String)> {
    let prefix = format!("rampart-test.{}", uuid::Uuid::now_v7().simple());
    vec![
        ("RAMPART_DATABASE_URL", db_url.to_owned()),
        ("RAMPART_MASTER_KEY_FILE", key_file.display().to_string()),
        ("RAMPART_PUBLIC_URL", format!("http://127.0.0.1:{}", free_port())),
        ("RAMPART_BUS__NATS_URL", nats.to_owned()),
        ("RAMPART_BUS__SUBJECT_PREFIX", prefix.clone()),
        ("RAMPART_EDGE__REDIS_URL", redis.to_owned()),
        ("RAMPART_EDGE__REDIS_PREFIX", prefix),
    ]
}

/// A master key file (mode 0600), as a mounted Kubernetes secret would be.
fn master_key_file(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("master.key");
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
    writeln!(f, "{}", rampart_crypto::MasterKey::generate().encode()).unwrap();
    path
}

async fn count(db: &rampart_storage::Db, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await.unwrap()
}

#[tokio::test]
async fn replicas_started_together_on_a_fresh_postgres_all_become_ready_with_one_first_start_state() {
    const TEST: &str = "replicas_started_together_on_a_fresh_postgres_all_become_ready_with_one_first_start_state";
    let Some(pg) = rampart_testkit::pg_url() else { return rampart_testkit::skipped(TEST) };
    let Some(nats) = rampart_testkit::nats_url() else { return rampart_testkit::skipped_nats(TEST) };
    let Some(redis) = rampart_testkit::redis_url_or_skip(TEST) else { return };
    let (_, db_url) = rampart_testkit::TestDb::create_pg_database(&pg).await;
    let keys = tempfile::tempdir().unwrap();
    let env = shared_env(&db_url, &master_key_file(keys.path()), &nats, &redis);

    // All at the same moment, then each must become ready.
    let mut replicas: Vec<Replica> = (0..REPLICAS).map(|_| Replica::spawn(&env)).collect();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    for r in &mut replicas {
        r.wait_ready(&http, deadline).await;
    }

    // One first-start state: every migration once, one signing key, one bootstrap entry.
    let db = rampart_storage::Db::connect(&db_url).await.unwrap();
    let migrations = count(&db, "SELECT COUNT(*) FROM rampart_migrations").await;
    assert_eq!(migrations, i64::try_from(rampart_storage::MIGRATIONS.len()).unwrap());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM signing_keys").await, 1, "one signing key");
    let meta = "SELECT COUNT(*) FROM meta WHERE meta_key IN ('master_key_check', 'bootstrap_code_sha256')";
    assert_eq!(count(&db, meta).await, 2);
    let mut jwks = Vec::new();
    for r in &replicas {
        let (status, body) = r.call(&http, "GET", "/.well-known/jwks.json", None, None).await;
        assert_eq!(status, 200);
        jwks.push(body);
    }
    assert_eq!(jwks[0]["keys"].as_array().map(Vec::len), Some(1), "{}", jwks[0]);
    assert!(jwks.iter().all(|j| *j == jwks[0]), "every replica publishes the same key: {jwks:?}");

    // Every replica printed a code of its own, and each works until the first administrator
    // is made with one of them (here: replica 1's code, sent to replica 2).
    let codes: Vec<String> = replicas.iter().map(Replica::bootstrap_code).collect();
    assert!(codes.iter().enumerate().all(|(i, c)| !codes[..i].contains(c)), "{codes:?}");
    let bootstrap = |code: &str| json!({"code": code, "email": "root@example.com", "password": PASSWORD});
    let (status, made) = replicas[2].call(&http, "POST", "/v1/auth/bootstrap", None, Some(bootstrap(&codes[1]))).await;
    assert_eq!(status, 201, "{made}");
    for (r, code) in replicas.iter().zip(&codes) {
        let (status, body) = r.call(&http, "POST", "/v1/auth/bootstrap", None, Some(bootstrap(code))).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("bootstrap_unavailable")), "{body}");
    }

    // A token issued on one replica is accepted by every other.
    let login = json!({"username": "root@example.com", "password": PASSWORD});
    let (status, tokens) = replicas[0].call(&http, "POST", "/v1/auth/login", None, Some(login)).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["accessToken"].as_str().unwrap();
    for r in &replicas[1..] {
        let (status, me) = r.call(&http, "GET", "/v1/me", Some(token), None).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["sub"], made["userId"], "{me}");
    }
    for r in &replicas {
        let log = r.output("server.err");
        assert!(!log.contains("unique key"), "{log}");
    }
    db.close().await;
}
