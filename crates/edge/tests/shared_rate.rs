//! The Redis-shared buckets against a real Redis (`RAMPART_TEST_REDIS_URL`).

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at the first broken step")]

use rampart_edge::{Rate, RedisRate, SharedRate};
use std::time::Duration;

async fn redis(test: &str) -> Option<std::sync::Arc<RedisRate>> {
    let Some(url) = std::env::var("RAMPART_TEST_REDIS_URL").ok().filter(|s| !s.is_empty()) else {
        #[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
        {
            eprintln!("SKIPPED {test}: RAMPART_TEST_REDIS_URL is not set");
        }
        return None;
    };
    // A prefix of its own: runs and tests do not share buckets.
    Some(RedisRate::connect(&url, &format!("test-{}", uuid::Uuid::now_v7()), None).await.unwrap())
}

#[tokio::test]
async fn two_limiters_on_one_redis_share_the_bucket() {
    let Some(r) = redis("two_limiters_on_one_redis_share_the_bucket").await else { return };
    let rate = Rate { n: 3, window: Duration::from_secs(30), burst: 3 };
    // Two replicas' limiters for the same rule.
    let a = SharedRate::<String>::new("ip-rate", rate, Some(r.clone()));
    let b = SharedRate::<String>::new("ip-rate", rate, Some(r.clone()));
    let k = "203.0.113.7".to_owned();
    let d1 = a.check(&k).await;
    let d2 = b.check(&k).await;
    let d3 = a.check(&k).await;
    assert!(d1.allowed && d2.allowed && d3.allowed);
    assert_eq!((d1.remaining, d2.remaining, d3.remaining), (2, 1, 0));
    assert_eq!(d1.limit, 3);
    let refused = b.check(&k).await;
    assert!(!refused.allowed, "{refused:?}");
    // One request refills every 10 s.
    assert!((9..=10).contains(&refused.retry_after), "{refused:?}");
    assert_eq!(refused.headers().last().unwrap(), &("retry-after", refused.retry_after.to_string()));
    // Other keys and other rules have their own buckets.
    assert!(a.check(&"198.51.100.1".to_owned()).await.allowed);
    let other_rule = SharedRate::<String>::new("auth-rate", rate, Some(r.clone()));
    assert!(other_rule.check(&k).await.allowed);
    assert_eq!(r.fallbacks.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_bucket_refills_at_its_rate() {
    let Some(r) = redis("a_bucket_refills_at_its_rate").await else { return };
    let rate = Rate { n: 10, window: Duration::from_secs(1), burst: 1 };
    let l = SharedRate::<String>::new("user-rate", rate, Some(r));
    let k = "u".to_owned();
    assert!(l.check(&k).await.allowed);
    assert!(!l.check(&k).await.allowed, "burst of one");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(l.check(&k).await.allowed, "100 ms later a request has refilled");
}

#[tokio::test]
async fn an_unreachable_redis_stops_start_up() {
    let e = RedisRate::connect("redis://127.0.0.1:1/0", "x", None).await.unwrap_err();
    assert!(e.contains("edge.redis_url"), "{e}");
}

/// `openssl` with arguments, in `dir`; panics on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A Redis of the test's own that speaks TLS only, its certificate from a CA made here.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    ca: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_redis() -> TlsRedis {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "2", "-subj", "/CN=rampart test CA", "-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    std::fs::write(d.join("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(
        d,
        &[&["req"][..], &ec, &["-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"]].concat(),
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "server.pem",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("redis-server")
        .current_dir(d)
        .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--tls-cert-file", "server.pem", "--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem"])
        .args(["--tls-auth-clients", "no", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (Debian's redis-server, built with TLS)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ca = std::fs::read(d.join("ca.pem")).unwrap();
    TlsRedis { child, port, ca, _dir: dir }
}

/// `rediss://` to a Redis with a private CA: verified against the CA given, refused without
/// it, and a plain connection to the TLS port gets nowhere.
#[tokio::test]
async fn rediss_with_a_private_ca() {
    if std::env::var("RAMPART_TEST_REDIS_URL").ok().filter(|s| !s.is_empty()).is_none() {
        eprintln!("SKIPPED rediss_with_a_private_ca: RAMPART_TEST_REDIS_URL is not set");
        return;
    }
    let r = tls_redis();
    let url = format!("rediss://127.0.0.1:{}/0", r.port);
    let shared = RedisRate::connect(&url, "tls-test", Some(r.ca.clone())).await.unwrap();
    let rate = Rate { n: 2, window: Duration::from_secs(30), burst: 2 };
    let (a, b) = (
        SharedRate::<String>::new("ip-rate", rate, Some(shared.clone())),
        SharedRate::<String>::new("ip-rate", rate, Some(shared.clone())),
    );
    let k = "203.0.113.9".to_owned();
    assert!(a.check(&k).await.allowed && b.check(&k).await.allowed);
    assert!(!a.check(&k).await.allowed, "the bucket is shared over TLS");
    assert_eq!(shared.fallbacks.load(std::sync::atomic::Ordering::Relaxed), 0, "decided by Redis, not locally");
    // The system's roots do not know the CA.
    let e = RedisRate::connect(&url, "x", None).await.unwrap_err();
    assert!(e.contains("edge.redis_url"), "{e}");
    // Plain text to the TLS port.
    assert!(RedisRate::connect(&format!("redis://127.0.0.1:{}/0", r.port), "x", None).await.is_err());
    // A CA for a plain URL is a configuration mistake.
    let e = RedisRate::connect("redis://127.0.0.1:6379/0", "x", Some(r.ca.clone())).await.unwrap_err();
    assert!(e.contains("not rediss://"), "{e}");
}
