//! Meeting summaries: one row per meeting, its sections sealed before they arrive here. The
//! caller has checked access to the meeting; the rows hold nothing a reader could not already
//! see. A job stores only while its `generation` is still the row's: a newer request wins.

use super::{id, ts, ts_opt};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{MeetingKey, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct SummaryRecord {
    pub meeting_id: MeetingKey,
    /// `pending`, `running`, `ready` or `failed`.
    pub status: String,
    pub generation: i64,
    /// Jobs started for this generation (a restart resumes one; a summary that keeps
    /// interrupting its process is given up).
    pub attempts: i64,
    /// The meeting-end webhook is still to be sent.
    pub notify: bool,
    pub extractive: bool,
    pub model_id: Option<String>,
    /// The last good sections, sealed (kept while a new summary is generated).
    pub sealed_body: Option<Vec<u8>>,
    /// What failed, for the API (a generic sentence, never an upstream's words).
    pub error: Option<String>,
    pub generated_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// What a finished job stores.
#[derive(Clone, Copy, Debug)]
pub struct SummaryOutcome<'a> {
    /// `ready` or `failed`.
    pub status: &'a str,
    /// With `ready`: whether it was written without a model, which model, the sealed sections.
    pub extractive: bool,
    pub model_id: Option<&'a str>,
    pub sealed_body: Option<&'a [u8]>,
    pub error: Option<&'a str>,
    pub now: Timestamp,
}

const COLS: &str =
    "meeting_id, status, generation, attempts, notify, extractive, model_id, body, error, generated_at, updated_at";

fn summary(r: &AnyRow) -> Result<SummaryRecord, StorageError> {
    Ok(SummaryRecord {
        meeting_id: id(r, "meeting_id")?,
        status: r.try_get("status")?,
        generation: r.try_get("generation")?,
        attempts: r.try_get("attempts")?,
        notify: r.try_get::<i64, _>("notify")? != 0,
        extractive: r.try_get::<i64, _>("extractive")? != 0,
        model_id: r.try_get("model_id")?,
        sealed_body: r.try_get("body")?,
        error: r.try_get("error")?,
        generated_at: ts_opt(r, "generated_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

impl Db {
    pub async fn meeting_summary(&self, key: MeetingKey) -> Result<Option<SummaryRecord>, StorageError> {
        let r = sqlx::query(sqlf!("SELECT {COLS} FROM meeting_summaries WHERE meeting_id = $1"))
            .bind(key.to_string())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(summary).transpose()
    }

    /// Asks for a (new) summary: the row becomes `pending` under a new generation, which is
    /// returned; the last good sections stay. `notify` asks for the meeting-end webhook too (an
    /// earlier request's stays asked for).
    pub async fn request_summary(&self, key: MeetingKey, notify: bool, now: Timestamp) -> Result<i64, StorageError> {
        let r = sqlx::query(
            "INSERT INTO meeting_summaries (meeting_id, status, generation, attempts, notify, extractive, updated_at) \
             VALUES ($1, 'pending', 1, 0, $2, 0, $3) \
             ON CONFLICT (meeting_id) DO UPDATE SET status = 'pending', generation = meeting_summaries.generation + 1, \
             attempts = 0, notify = CASE WHEN excluded.notify = 1 THEN 1 ELSE meeting_summaries.notify END, \
             error = NULL, updated_at = excluded.updated_at \
             RETURNING generation",
        )
        .bind(key.to_string())
        .bind(i64::from(notify))
        .bind(now.millis())
        .fetch_one(self.writer())
        .await?;
        Ok(r.try_get(0)?)
    }

    /// A job starts on `generation`: `running`, one more attempt. False when a newer request
    /// superseded it, or it is already done.
    pub async fn claim_summary(&self, key: MeetingKey, generation: i64, now: Timestamp) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "UPDATE meeting_summaries SET status = 'running', attempts = attempts + 1, updated_at = $3 \
             WHERE meeting_id = $1 AND generation = $2 AND status IN ('pending', 'running')",
        )
        .bind(key.to_string())
        .bind(generation)
        .bind(now.millis())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Stores a job's outcome if its generation is still the row's. A failure keeps the last
    /// good sections. True if stored.
    pub async fn finish_summary(
        &self,
        key: MeetingKey,
        generation: i64,
        o: &SummaryOutcome<'_>,
    ) -> Result<bool, StorageError> {
        let ready = o.status == "ready";
        let n = sqlx::query(
            "UPDATE meeting_summaries SET status = $3, \
             extractive = CASE WHEN $4 = 1 THEN $5 ELSE extractive END, \
             model_id = CASE WHEN $4 = 1 THEN $6 ELSE model_id END, \
             body = CASE WHEN $4 = 1 THEN $7 ELSE body END, \
             generated_at = CASE WHEN $4 = 1 THEN $9 ELSE generated_at END, \
             error = $8, updated_at = $9 \
             WHERE meeting_id = $1 AND generation = $2",
        )
        .bind(key.to_string())
        .bind(generation)
        .bind(o.status)
        .bind(i64::from(ready))
        .bind(i64::from(o.extractive))
        .bind(o.model_id)
        .bind(o.sealed_body.map(<[u8]>::to_vec))
        .bind(o.error)
        .bind(o.now.millis())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Clears the webhook request of `generation`'s job: true for exactly one caller.
    pub async fn take_summary_notify(&self, key: MeetingKey, generation: i64) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "UPDATE meeting_summaries SET notify = 0 WHERE meeting_id = $1 AND generation = $2 AND notify = 1",
        )
        .bind(key.to_string())
        .bind(generation)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Summaries a previous process left `pending` or `running`.
    pub async fn unfinished_summaries(&self) -> Result<Vec<SummaryRecord>, StorageError> {
        let sql =
            sqlf!("SELECT {COLS} FROM meeting_summaries WHERE status IN ('pending', 'running') ORDER BY meeting_id");
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        rows.iter().map(summary).collect()
    }
}
