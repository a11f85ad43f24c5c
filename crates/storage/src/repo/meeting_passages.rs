//! Meetings' passages: what meeting search indexes and cites (a transcript's final segments of
//! one speaker grouped together, or a part of a summary). Bodies and vectors arrive sealed. The
//! meetings a caller may search are read here with the meetings' own read predicate
//! ([`MeetingAccess`]), at every search: a share or an unshare counts at once.

use super::knowledge::placeholders;
use super::meetings::{MEETING_COLS, MeetingAccess, MeetingRecord, meeting};
use super::{id, sqlf};
use crate::{Db, StorageError};
use rampart_core::{MeetingKey, PassageId, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A passage to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPassage {
    pub id: PassageId,
    pub ordinal: i64,
    /// `CALLER` or `AGENT` (transcript passages).
    pub channel: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Sealed: the text and the speaker.
    pub body: Vec<u8>,
    /// The sealed vector and the id of the model that made it.
    pub embedding: Option<(String, Vec<u8>)>,
}

/// A stored passage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassageRecord {
    pub id: PassageId,
    pub meeting_id: MeetingKey,
    /// `transcript` or `summary`.
    pub kind: String,
    pub ordinal: i64,
    pub channel: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub body: Vec<u8>,
}

/// A passage's sealed vector (for building a dense index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassageVector {
    pub id: PassageId,
    pub meeting_id: MeetingKey,
    pub kind: String,
    pub model: String,
    pub sealed: Vec<u8>,
}

const PASSAGE_COLS: &str = "p.id, p.meeting_id, p.kind, p.ordinal, p.channel, p.start_ms, p.end_ms, p.body";

fn passage(r: &AnyRow) -> Result<PassageRecord, StorageError> {
    Ok(PassageRecord {
        id: id(r, "id")?,
        meeting_id: id(r, "meeting_id")?,
        kind: r.try_get("kind")?,
        ordinal: r.try_get("ordinal")?,
        channel: r.try_get("channel")?,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
        body: r.try_get("body")?,
    })
}

fn vector(r: &AnyRow) -> Result<PassageVector, StorageError> {
    Ok(PassageVector {
        id: id(r, "id")?,
        meeting_id: id(r, "meeting_id")?,
        kind: r.try_get("kind")?,
        model: r.try_get("embedding_model")?,
        sealed: r.try_get("embedding")?,
    })
}

impl Db {
    /// Replaces a meeting's passages of one kind (in one transaction); a `transcript` also marks
    /// the meeting indexed. False (nothing stored) when the meeting is gone, or what the
    /// passages were made of is (the transcript, and with it the summary, removed by retention
    /// while they were being made).
    pub async fn replace_meeting_passages(
        &self,
        meeting: MeetingKey,
        kind: &str,
        rows: &[NewPassage],
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE meetings SET indexed_at = CASE WHEN $2 = 'transcript' THEN $3 ELSE indexed_at END \
             WHERE id = $1 AND transcript_deleted_at IS NULL",
        )
        .bind(meeting.to_string())
        .bind(kind)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM meeting_passages WHERE meeting_id = $1 AND kind = $2")
            .bind(meeting.to_string())
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        for p in rows {
            let (model, sealed) = p.embedding.clone().unzip();
            sqlx::query(
                "INSERT INTO meeting_passages (id, meeting_id, kind, ordinal, channel, start_ms, end_ms, body, embedding, \
                 embedding_model) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(p.id.to_string())
            .bind(meeting.to_string())
            .bind(kind)
            .bind(p.ordinal)
            .bind(p.channel.clone())
            .bind(p.start_ms)
            .bind(p.end_ms)
            .bind(&p.body)
            .bind(sealed)
            .bind(model)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The meetings the caller may read that have passages, started in `[from, to)`: the
    /// scopes of a meeting search, read at every search.
    pub async fn searchable_meetings(
        &self,
        access: MeetingAccess,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<MeetingKey>, StorageError> {
        let rows = sqlx::query(sqlf!(
            "SELECT m.id FROM meetings m WHERE {} AND m.started_at >= $2 AND m.started_at < $3 \
             AND EXISTS (SELECT 1 FROM meeting_passages p WHERE p.meeting_id = m.id)",
            access.readable(1)
        ))
        .bind(access.user())
        .bind(from.map_or(i64::MIN, Timestamp::millis))
        .bind(to.map_or(i64::MAX, Timestamp::millis))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| id(r, "id")).collect()
    }

    /// The passages of `ids` in meetings the caller may read (the meetings' read predicate
    /// again: what the index ranked is checked against the database's access of now).
    pub async fn passages_in(
        &self,
        access: MeetingAccess,
        ids: &[PassageId],
    ) -> Result<Vec<PassageRecord>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sqlf!(
            "SELECT {PASSAGE_COLS} FROM meeting_passages p JOIN meetings m ON m.id = p.meeting_id \
             WHERE {} AND p.id IN ({})",
            access.readable(1),
            placeholders(2, ids.len())
        );
        let mut q = sqlx::query(sql).bind(access.user());
        for i in ids {
            q = q.bind(i.to_string());
        }
        q.fetch_all(self.pool()).await?.iter().map(passage).collect()
    }

    /// The meetings of `keys` the caller may read.
    pub async fn meetings_in(
        &self,
        access: MeetingAccess,
        keys: &[MeetingKey],
    ) -> Result<Vec<MeetingRecord>, StorageError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sqlf!(
            "SELECT {MEETING_COLS} FROM meetings m WHERE {} AND m.id IN ({})",
            access.readable(1),
            placeholders(2, keys.len())
        );
        let mut q = sqlx::query(sql).bind(access.user());
        for k in keys {
            q = q.bind(k.to_string());
        }
        q.fetch_all(self.pool()).await?.iter().map(meeting).collect()
    }

    /// A meeting's passages, in kind and order.
    pub async fn meeting_passages(&self, meeting: MeetingKey) -> Result<Vec<PassageRecord>, StorageError> {
        let rows = sqlx::query(sqlf!(
            "SELECT {PASSAGE_COLS} FROM meeting_passages p WHERE p.meeting_id = $1 ORDER BY p.kind, p.ordinal"
        ))
        .bind(meeting.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(passage).collect()
    }

    /// Passages in id order after `after` (for rebuilding an index).
    pub async fn passages_after(
        &self,
        after: Option<PassageId>,
        limit: i64,
    ) -> Result<Vec<PassageRecord>, StorageError> {
        let rows =
            sqlx::query(sqlf!("SELECT {PASSAGE_COLS} FROM meeting_passages p WHERE p.id > $1 ORDER BY p.id LIMIT $2"))
                .bind(after.map(|a| a.to_string()).unwrap_or_default())
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(passage).collect()
    }

    /// Passages in total (to tell whether an index is complete).
    pub async fn passage_count(&self) -> Result<i64, StorageError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM meeting_passages").fetch_one(self.pool()).await?;
        Ok(row.try_get("n")?)
    }

    /// Up to `limit` finished meetings whose transcript was never made into passages (a crash
    /// after the end, meetings from before meeting search), that ended before `ended_before`
    /// (one that ended since is being indexed by its own end).
    pub async fn meetings_to_index(
        &self,
        ended_before: Timestamp,
        limit: i64,
    ) -> Result<Vec<MeetingKey>, StorageError> {
        let rows = sqlx::query(
            "SELECT m.id FROM meetings m WHERE m.status IN ('ended', 'failed') AND m.indexed_at IS NULL \
             AND m.transcript_deleted_at IS NULL AND COALESCE(m.ended_at, m.updated_at) < $2 ORDER BY m.id LIMIT $1",
        )
        .bind(limit)
        .bind(ended_before.millis())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| id(r, "id")).collect()
    }

    /// The vectors of one meeting's passages, or of every meeting's (`None`), in id order.
    pub async fn passage_vectors(&self, meeting: Option<MeetingKey>) -> Result<Vec<PassageVector>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, meeting_id, kind, embedding_model, embedding FROM meeting_passages \
             WHERE embedding IS NOT NULL AND ($1 = '' OR meeting_id = $1) ORDER BY id",
        )
        .bind(meeting.map(|m| m.to_string()).unwrap_or_default())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(vector).collect()
    }

    /// Vectors per meeting and model (to tell whether a dense index is complete).
    pub async fn passage_vector_counts(&self) -> Result<Vec<(MeetingKey, String, i64)>, StorageError> {
        let rows = sqlx::query(
            "SELECT meeting_id, embedding_model, COUNT(*) AS n FROM meeting_passages WHERE embedding IS NOT NULL \
             GROUP BY meeting_id, embedding_model",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((id(r, "meeting_id")?, r.try_get("embedding_model")?, r.try_get("n")?))).collect()
    }
}
