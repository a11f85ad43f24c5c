//! The retention sweeper: deletes expired data (`[retention]`) in bounded batches, pausing
//! between batches so that request traffic keeps the database. One replica sweeps at a time:
//! it holds the `retention` lease in the database, renewed on every run.

use crate::state::AppState;
use rampart_core::Timestamp;
use rampart_storage::repo::retention::Expiring;
use std::time::Duration;

const LEASE: &str = "retention";
const DAY: Duration = Duration::from_secs(86_400);
/// Expired or revoked sign-ins stay visible (and their reuse recognisable) this long.
const SIGN_IN_GRACE: Duration = Duration::from_secs(7 * 86_400);
const PAUSE: Duration = Duration::from_millis(20);

fn days(n: u32) -> Option<Duration> {
    (n > 0).then(|| DAY * n)
}

/// One pass over every kind of expiring data, as of `now`. Returns (kind, rows deleted).
pub async fn sweep_once(s: &AppState, now: Timestamp) -> anyhow::Result<Vec<(&'static str, u64)>> {
    let r = &s.config.retention;
    let batch = r.batch;
    let plan = [
        (Expiring::Sessions, days(r.sessions_days)),
        (Expiring::Feedback, days(r.feedback_days)),
        (Expiring::FinishedJobs, (r.event_cache_hours > 0).then(|| Duration::from_secs(3600) * r.event_cache_hours)),
        (Expiring::Challenges, Some(Duration::ZERO)),
        (Expiring::SignIns, Some(SIGN_IN_GRACE)),
    ];
    let mut out = Vec::new();
    for (kind, keep) in plan {
        let Some(keep) = keep else { continue };
        let cutoff = now.minus(keep);
        let mut total = 0;
        loop {
            let n = s.db.delete_expired(kind, cutoff, batch).await?;
            total += n;
            if n < u64::from(batch) {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        s.metrics.retention_deleted(kind.name(), total);
        out.push((kind.name(), total));
    }
    let keep = rampart_meetings::retention::Keep {
        meetings: days(r.meetings_days),
        transcripts: days(r.transcripts_days),
        recordings: days(r.recordings_days),
    };
    let swept = s.meetings.sweep(now, keep, batch, PAUSE).await?;
    for (kind, n) in
        [("recordings", swept.recordings), ("transcripts", swept.transcripts), ("meetings", swept.meetings)]
    {
        s.metrics.retention_deleted(kind, n);
        out.push((kind, n));
    }
    if let Some(keep) = days(r.audit_days) {
        let mut total = 0;
        loop {
            let n = s.db.trim_audit(now.minus(keep), batch).await?;
            total += n;
            if n < u64::from(batch) {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        s.metrics.retention_deleted("audit", total);
        out.push(("audit", total));
    }
    Ok(out)
}

/// The running sweeper of this replica.
pub struct Sweeper {
    holder: String,
    task: tokio::task::JoinHandle<()>,
}

impl Sweeper {
    /// Runs the sweeper every `retention.interval` while this replica holds the lease.
    pub fn spawn(s: AppState) -> Sweeper {
        let holder = uuid::Uuid::now_v7().to_string();
        let h = holder.clone();
        let task = tokio::spawn(async move {
            let interval = s.config.retention.interval.0;
            // Leave start-up to the requests.
            tokio::time::sleep(interval.min(Duration::from_secs(30))).await;
            loop {
                match s.db.try_lease(LEASE, &h, s.identity.now(), interval * 2).await {
                    Ok(true) => match sweep_once(&s, s.identity.now()).await {
                        Ok(done) => {
                            let deleted: u64 = done.iter().map(|(_, n)| n).sum();
                            if deleted > 0 {
                                let detail: Vec<String> =
                                    done.iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{k}={n}")).collect();
                                tracing::info!(deleted, detail = %detail.join(" "), "retention: expired data deleted");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "retention: sweep failed"),
                    },
                    Ok(false) => tracing::debug!("retention: another replica sweeps"),
                    Err(e) => tracing::warn!(error = %e, "retention: cannot take the lease"),
                }
                tokio::time::sleep(interval).await;
            }
        });
        Sweeper { holder, task }
    }

    /// Stops, and gives up the lease so that another replica takes over at once.
    pub async fn stop(self, db: &rampart_storage::Db) {
        self.task.abort();
        if let Err(e) = db.release_lease(LEASE, &self.holder).await {
            tracing::debug!(error = %e, "retention: lease not released");
        }
    }
}
