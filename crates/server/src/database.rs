//! Opening the database, with a message that says what is wrong when it fails: for PostgreSQL
//! the host and port and the cause (a name that does not resolve, a refused connection, no
//! answer, or what the server said, such as a failed password), never the password; for SQLite
//! a file whose folder does not exist.

use anyhow::anyhow;
use rampart_storage::{Backend, Db, StorageError};
use std::time::Duration;

/// How long the diagnosis waits for a name lookup or a TCP connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects and migrates (`Db::open`); on failure, an error naming where and why.
pub async fn open(url: &str) -> anyhow::Result<Db> {
    match Db::open(url).await {
        Ok(db) => Ok(db),
        Err(e) => Err(match Backend::from_url(url) {
            Some(Backend::Postgres) => postgres_error(url, &e).await,
            Some(Backend::Sqlite) => sqlite_error(url, &e),
            None => anyhow!("database.url: {e}"),
        }),
    }
}

/// The storage error's text with the URL's password (if any) blanked, in case a driver
/// message ever quotes the URL.
fn redacted(url: &str, e: &StorageError) -> String {
    let text = e.to_string();
    match url::Url::parse(url).ok().and_then(|u| u.password().map(str::to_owned)) {
        Some(p) if !p.is_empty() => text.replace(&p, "***"),
        _ => text,
    }
}

/// Where a `postgres://` URL points: `(host, port)`; the host may be a Unix socket folder.
fn postgres_target(url: &str) -> Option<(String, u16)> {
    let u = url::Url::parse(url).ok()?;
    let param = |name: &str| u.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let host = param("host").or_else(|| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()));
    let port = param("port").and_then(|p| p.parse().ok()).or(u.port()).unwrap_or(5432);
    Some((host.filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".to_owned()), port))
}

/// Why `host:port` cannot be reached over TCP, or `None` when it can.
async fn unreachable(host: &str, port: u16) -> Option<String> {
    let addrs = match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Err(_) => return Some(format!("the name {host} did not resolve within {}s", PROBE_TIMEOUT.as_secs())),
        Ok(Err(e)) => return Some(format!("the name {host} does not resolve ({e})")),
        Ok(Ok(a)) => a.collect::<Vec<_>>(),
    };
    let mut why = format!("the name {host} has no address");
    for a in addrs {
        match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(_)) => return None,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                why = format!("connection refused at {a} (is PostgreSQL running and listening there?)");
            }
            Ok(Err(e)) => why = format!("cannot connect to {a} ({e})"),
            Err(_) => {
                why = format!("no answer from {a} within {}s (a firewall, or the wrong host?)", PROBE_TIMEOUT.as_secs())
            }
        }
    }
    Some(why)
}

async fn postgres_error(url: &str, e: &StorageError) -> anyhow::Error {
    let Some((host, port)) = postgres_target(url) else {
        return anyhow!("database.url is not a valid postgres:// URL");
    };
    if host.starts_with('/') {
        return anyhow!("database: PostgreSQL at the socket {host}/.s.PGSQL.{port}: {}", redacted(url, e));
    }
    match unreachable(&host, port).await {
        Some(why) => anyhow!("database: cannot connect to PostgreSQL at {host}:{port}: {why}"),
        // Reachable: what the server said (a failed password, a missing database, a migration).
        None => anyhow!("database: PostgreSQL at {host}:{port}: {}", redacted(url, e)),
    }
}

/// The file of a `sqlite:` URL (`None` for an in-memory database).
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

fn sqlite_error(url: &str, e: &StorageError) -> anyhow::Error {
    let Some(path) = sqlite_path(url) else { return anyhow!("database: {e}") };
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) if !folder.is_dir() => anyhow!(
            "database: the folder {} of the SQLite database {} does not exist; create it, or set database.url \
             (RAMPART_DATABASE_URL) to a file in an existing folder",
            folder.display(),
            path.display()
        ),
        _ => anyhow!("database: SQLite {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_target() {
        assert_eq!(postgres_target("postgres://u:pw@db.internal/x"), Some(("db.internal".into(), 5432)));
        assert_eq!(postgres_target("postgresql://u@[::1]:6543/x"), Some(("::1".into(), 6543)));
        assert_eq!(postgres_target("postgres:///x?host=/run/postgresql"), Some(("/run/postgresql".into(), 5432)));
        assert_eq!(postgres_target("postgres://u@h/x?port=5433"), Some(("h".into(), 5433)));
        assert_eq!(sqlite_path("sqlite:///var/lib/r/r.db?mode=rwc"), Some("/var/lib/r/r.db".into()));
        assert_eq!(sqlite_path("sqlite://data/r.db"), Some("data/r.db".into()));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_named_without_the_password() {
        // `.invalid` never resolves (RFC 2606). A refused port: the e2e start-up test.
        let e = open("postgres://rampart:s3cret-pw@db.example.invalid/x").await.unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("PostgreSQL at db.example.invalid:5432") && e.contains("resolve"), "{e}");
        assert!(!e.contains("s3cret-pw"), "{e}");
    }

    #[tokio::test]
    async fn a_sqlite_file_in_a_missing_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nope").join("r.db");
        let e = open(&format!("sqlite://{}", file.display())).await.unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains(&format!("the folder {} ", dir.path().join("nope").display())), "{e}");
        assert!(e.contains(&file.display().to_string()), "{e}");
        assert!(!dir.path().join("nope").exists());
    }
}
