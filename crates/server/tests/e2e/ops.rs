//! Operations against the real binary: `/metrics` in both text formats checked by Prometheus's
//! own parsers (promtool), and what start-up says when something is wrong.

use super::*;

/// promtool (Debian's `prometheus` package). `make test` names it in `RAMPART_TEST_PROMTOOL`,
/// so there (and in CI) it is required; elsewhere the one on `PATH`, or the test says it skipped.
#[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
fn promtool(test: &str) -> Option<String> {
    if let Ok(p) = std::env::var("RAMPART_TEST_PROMTOOL") {
        return Some(p);
    }
    let found = Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED {test}: promtool is not installed (`make sysdeps` installs Debian's prometheus)");
    }
    found.then(|| "promtool".to_owned())
}

/// `promtool check metrics` (the classic text format's parser and linter) on `text`:
/// (success, what it printed).
fn check_classic(promtool: &str, text: &str) -> (bool, String) {
    let mut c = Command::new(promtool);
    c.args(["check", "metrics"]);
    let (code, out, err) = run(c, Some(text));
    (code == 0, format!("{out}{err}"))
}

/// The OpenMetrics parser Prometheus scrapes with, strict about `# EOF`, `# UNIT` and names. promtool
/// runs it when it turns an OpenMetrics file into blocks; that importer wants a timestamp on every
/// sample (a scrape has none), so one is appended to each sample line and nothing else changes.
fn check_openmetrics(promtool: &str, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let stamped: String = text
        .lines()
        .map(|l| if l.starts_with('#') || l.is_empty() { format!("{l}\n") } else { format!("{l} 1700000000\n") })
        .collect();
    let file = dir.path().join("scrape.om");
    std::fs::write(&file, stamped).unwrap();
    let mut c = Command::new(promtool);
    c.args(["tsdb", "create-blocks-from", "openmetrics"]).arg(&file).arg(dir.path().join("blocks"));
    let (code, out, err) = run(c, None);
    (code == 0, format!("{out}{err}"))
}

async fn scrape(url: &str, accept: Option<&str>) -> (String, String) {
    let mut r = ::reqwest::Client::new().get(url);
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (ct, r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_speak_openmetrics_or_the_classic_format_by_accept_each_valid_for_promtool() {
    let Some(promtool) = promtool("metrics_speak_openmetrics_or_the_classic_format_by_accept") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mport = free_port();
    let srv = Server::start_with(dir.path(), None, &[("RAMPART_METRICS__LISTEN", format!("127.0.0.1:{mport}"))]);
    // Some traffic, so that labelled families, histograms and a refusal have samples.
    assert_eq!(reqwest::blocking_get(&format!("{}/healthz", srv.base)).unwrap(), 200);
    let waf = ::reqwest::get(format!("{}/v1/search?q=1%27%20OR%20%271%27%3D%271", srv.base)).await.unwrap();
    assert_eq!(waf.status(), 403);
    let url = format!("http://127.0.0.1:{mport}/metrics");

    // Prometheus's own Accept header prefers OpenMetrics.
    let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (ct, om) = scrape(&url, Some(prometheus)).await;
    assert_eq!(ct, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE rampart_http_requests counter\n"), "{om}");
    assert!(om.contains("# UNIT rampart_http_request_duration_seconds seconds\n"), "{om}");
    let (ok, said) = check_openmetrics(&promtool, &om);
    assert!(ok, "the OpenMetrics parser refused the OpenMetrics scrape: {said}\n{om}");

    // No Accept (curl, promtool's users) and the classic one: the classic format.
    for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
        let (ct, classic) = scrape(&url, accept).await;
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{accept:?}");
        assert!(!classic.contains("# EOF") && !classic.contains("# UNIT"), "{classic}");
        assert!(classic.contains("# TYPE rampart_http_requests_total counter\n"), "{classic}");
        assert!(classic.contains("# TYPE rampart_edge_refusals_total counter\n"), "{classic}");
        let (ok, said) = check_classic(&promtool, &classic);
        assert!(ok, "promtool check metrics refused the classic scrape: {said}\n{classic}");
        // Each parser is strict about its own format: the other text fails it.
        assert!(!check_openmetrics(&promtool, &classic).0, "the classic text is not OpenMetrics");
    }
    assert!(!check_classic(&promtool, &om).0, "OpenMetrics is not the classic format for promtool");
}

/// A binary without the web app says so at start (debug builds read `web/dist` from disk; a
/// release binary built without it is warned about the same way, see `web::warn_when_missing`).
#[test]
fn start_up_warns_when_the_web_app_is_missing() {
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist/index.html").exists();
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), None);
    let warned = srv.logs().contains("the web app is not built");
    assert_eq!(warned, !built, "web/dist/index.html exists: {built}; logs: {}", srv.logs());
    // And `/` says what to do instead of a blank page.
    let host = srv.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET / HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\nConnection: close\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert_eq!(r.starts_with("HTTP/1.1 503"), !built, "{r}");
}

/// `rampart serve` that is expected to stop at start-up: its exit code and stderr.
fn serve_fails(dir: &std::path::Path, env: &[(&str, String)]) -> (i32, String) {
    let mut c = cmd(dir, None);
    c.arg("serve");
    for (k, v) in env {
        c.env(k, v);
    }
    let (code, _, err) = run(c, None);
    (code, err)
}

#[test]
fn a_taken_port_stops_start_up_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, err) = serve_fails(&data, &[("RAMPART_LISTEN", format!("127.0.0.1:{port}"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port} (server.listen)")), "{err}");
    assert!(err.to_lowercase().contains("in use"), "the cause: {err}");
    // No data folder: no database created or migrated, no master key, no bootstrap code.
    assert!(!data.exists(), "{:?}", std::fs::read_dir(&data).map(|d| d.count()));
    // The same for the metrics listener's port, with the main one free.
    let (code, err) = serve_fails(
        &data,
        &[
            ("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port())),
            ("RAMPART_METRICS__LISTEN", format!("127.0.0.1:{port}")),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port} (metrics.listen)")), "{err}");
    assert!(!data.exists());
    drop(taken);
}

#[test]
fn database_problems_at_start_up_say_where_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let listen = ("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port()));
    // PostgreSQL refusing connections (nothing listens on the port): host, port and cause,
    // never the password. The driver retries refusals for 10 s first.
    let pg_port = free_port();
    let url = format!("postgres://rampart:s3cret-pw@127.0.0.1:{pg_port}/rampart");
    let (code, err) = serve_fails(dir.path(), &[listen.clone(), ("RAMPART_DATABASE_URL", url)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("cannot connect to PostgreSQL at 127.0.0.1:{pg_port}")), "{err}");
    assert!(err.contains("connection refused"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    // A SQLite file in a folder that does not exist: the folder and the file.
    let missing = dir.path().join("no-such-folder");
    let file = missing.join("rampart.db");
    let (code, err) =
        serve_fails(dir.path(), &[listen, ("RAMPART_DATABASE_URL", format!("sqlite://{}", file.display()))]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("the folder {} of the SQLite database {}", missing.display(), file.display())),
        "{err}"
    );
    assert!(!missing.exists());
    // A reachable PostgreSQL that refuses the sign-in: its host and port and what it said.
    if let Ok(pg) = std::env::var("RAMPART_TEST_POSTGRES_URL") {
        let mut u = url::Url::parse(&pg).unwrap();
        u.set_username("no_such_role").unwrap();
        u.set_password(Some("s3cret-pw")).unwrap();
        let hostport = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432));
        let listen = ("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port()));
        let (code, err) = serve_fails(dir.path(), &[listen, ("RAMPART_DATABASE_URL", u.to_string())]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("PostgreSQL at {hostport}: ")) && err.contains("no_such_role"), "{err}");
        assert!(!err.contains("s3cret-pw"), "{err}");
    } else {
        rampart_testkit::skipped("database_problems_at_start_up_say_where_and_why (the sign-in refused part)");
    }
}

#[test]
fn a_misspelt_environment_variable_is_named_with_the_nearest_valid_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, err) = serve_fails(
        &data,
        &[("RAMPART_LISTEN", format!("127.0.0.1:{}", free_port())), ("RAMPART_AUTH__MFAA", "required".into())],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("environment variable RAMPART_AUTH__MFAA: `auth.mfaa` is not a configuration key; did you mean RAMPART_AUTH__MFA?"),
        "{err}"
    );
    assert!(!data.exists(), "refused before anything is written");
}

#[test]
fn every_flag_has_help_text_in_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd(dir.path(), None);
    c.args(["apikey", "create", "--help"]);
    let (code, out, _) = run(c, None);
    assert_eq!(code, 0);
    for flag in ["--email", "--name", "--scope", "--expires-in-days", "--config", "--data-dir", "--database-url"] {
        let lines: Vec<&str> = out.lines().collect();
        let i = lines.iter().position(|l| l.trim_start().starts_with(flag)).unwrap_or_else(|| panic!("{flag}: {out}"));
        // The help follows the flag on its line, or (long help) on the next line.
        let same_line = lines[i].split_whitespace().count() > 2;
        let next_line = lines.get(i + 1).is_some_and(|l| !l.trim().is_empty() && !l.trim_start().starts_with('-'));
        assert!(same_line || next_line, "{flag} has no help: {out}");
    }
}
