#![expect(clippy::unwrap_used, reason = "a test fails at the first broken step")]

//! A full disk, then space again (issue 19): with the SQLite database on a small tmpfs, writes
//! fail while it is full — some of them at COMMIT, where SQLite has already rolled the
//! transaction back — and must work again once space returns, without a restart. (Before the
//! fix the writer connection kept a transaction depth that no ROLLBACK could clear, and every
//! later write failed with "attempted to call begin_with at non-zero transaction depth".)
//! Mounting needs root (CI runs as root); elsewhere the test prints SKIPPED.

use rampart_storage::{Db, StorageError};
use std::path::Path;
use std::process::Command;

/// A tmpfs of `size` mounted on `dir`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    #[expect(clippy::print_stderr, reason = "a skipped test says so on the test's output")]
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIPPED full_disk: cannot mount a tmpfs here (needs root)");
        }
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// One write of `bytes` in its own transaction, as the repositories write.
async fn write(db: &Db, bytes: usize) -> Result<(), StorageError> {
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO fill (b) VALUES ($1)").bind(vec![7u8; bytes]).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Fills the filesystem with a file until it is full.
fn fill_up(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.flush();
}

#[tokio::test]
async fn writes_fail_while_the_disk_is_full_and_work_again_once_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_fs) = Tmpfs::mount(dir.path(), "8m") else { return };
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("db.sqlite").display());
    let db = Db::open(&url).await.unwrap();
    sqlx::query("CREATE TABLE fill (b BLOB)").execute(db.writer()).await.unwrap();
    write(&db, 1000).await.expect("a write while there is space");

    let filler = dir.path().join("filler");
    fill_up(&filler);
    // Writes fail now (some at COMMIT); the server would answer 500 and keep serving.
    let mut failures = 0;
    for i in 0..40 {
        if write(&db, 4096 * (1 + i % 8)).await.is_err() {
            failures += 1;
        }
    }
    assert!(failures > 0, "the disk is full: writes fail");
    let now = rampart_core::Timestamp::from_millis(1_800_000_000_000);
    assert!(db.write_probe(now).await.is_err(), "readiness sees it");
    // Reads still work.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fill").fetch_one(db.pool()).await.unwrap();
    assert!(n >= 1);

    // Space returns: the next writes succeed, on the same process and pool.
    std::fs::remove_file(&filler).unwrap();
    for i in 0..20 {
        write(&db, 4096).await.unwrap_or_else(|e| panic!("write {i} after space returned: {e}"));
    }
    db.write_probe(now).await.expect("ready again");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fill").fetch_one(db.pool()).await.unwrap();
    assert_eq!(after, n + 20, "nothing half-written: every acknowledged write is there");
}
