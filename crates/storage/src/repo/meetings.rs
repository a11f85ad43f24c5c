//! Meetings, their transcript segments and their shares. Sealed columns arrive sealed. Every
//! read takes the caller's [`MeetingAccess`] and every change the owner's (or an
//! administrator's): the predicate is in the SQL, so another user's meeting is simply not found.

use super::{id, paginate, ts, ts_opt};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{MeetingKey, Page, PageRequest, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Who is asking, and so which meetings they may read.
#[derive(Clone, Copy, Debug)]
pub enum MeetingAccess {
    /// The owner's meetings and those shared with this user.
    User(UserId),
    /// Every meeting (administrators, the system itself).
    Anyone,
}

impl MeetingAccess {
    /// The SQL predicate over `meetings m`, binding the user at `$n`.
    pub(crate) fn readable(self, n: usize) -> String {
        match self {
            MeetingAccess::User(_) => format!(
                "(m.owner_id = ${n} OR EXISTS (SELECT 1 FROM meeting_shares s WHERE s.meeting_id = m.id AND s.user_id = ${n}))"
            ),
            MeetingAccess::Anyone => format!("(${n} = ${n})"),
        }
    }

    pub(crate) fn user(self) -> String {
        match self {
            MeetingAccess::User(u) => u.to_string(),
            MeetingAccess::Anyone => String::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MeetingRecord {
    pub id: MeetingKey,
    /// The client's `callId`, sealed.
    pub sealed_call_id: Vec<u8>,
    pub owner_id: UserId,
    /// `live` or `upload`.
    pub source: String,
    /// `live`, `processing`, `ended` or `failed`.
    pub status: String,
    /// Sealed JSON: the title and the participants' names.
    pub sealed_details: Vec<u8>,
    pub sample_rate: i64,
    pub channels: i64,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub duration_ms: i64,
    /// `none`, `recording`, `available` or `deleted`.
    pub recording_status: String,
    pub recording_bytes: i64,
    pub recording_chunks: i64,
    /// The size of every chunk but the last (the audio of `recording_chunk_secs`).
    pub recording_chunk_bytes: i64,
    pub transcript_deleted_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

pub struct NewMeeting<'a> {
    pub id: MeetingKey,
    /// The keyed hash of the call id (what look-ups use).
    pub call_key: &'a str,
    pub sealed_call_id: &'a [u8],
    pub owner_id: UserId,
    pub source: &'a str,
    pub status: &'a str,
    pub sealed_details: &'a [u8],
    pub sample_rate: i64,
    pub channels: i64,
    pub recording_status: &'a str,
    pub recording_chunk_bytes: i64,
    pub started_at: Timestamp,
}

/// A transcript segment as stored: its times and channel in the clear (for ordering and
/// retention), everything said or named sealed in `sealed_body`.
#[derive(Clone, Debug)]
pub struct SegmentRecord {
    pub meeting_id: MeetingKey,
    pub segment_id: String,
    pub channel: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub is_partial: bool,
    pub sealed_body: Vec<u8>,
    pub updated_at: Timestamp,
}

/// Filters of the meetings list.
#[derive(Clone, Debug, Default)]
pub struct MeetingFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub status: Option<String>,
}

pub(crate) const MEETING_COLS: &str = "m.id, m.call_id, m.owner_id, m.source, m.status, m.details, m.sample_rate, m.channels, \
     m.started_at, m.ended_at, m.duration_ms, m.recording_status, m.recording_bytes, m.recording_chunks, \
     m.recording_chunk_bytes, m.transcript_deleted_at, m.updated_at";

pub(crate) fn meeting(r: &AnyRow) -> Result<MeetingRecord, StorageError> {
    Ok(MeetingRecord {
        id: id(r, "id")?,
        sealed_call_id: r.try_get("call_id")?,
        owner_id: id(r, "owner_id")?,
        source: r.try_get("source")?,
        status: r.try_get("status")?,
        sealed_details: r.try_get("details")?,
        sample_rate: r.try_get("sample_rate")?,
        channels: r.try_get("channels")?,
        started_at: ts(r, "started_at")?,
        ended_at: ts_opt(r, "ended_at")?,
        duration_ms: r.try_get("duration_ms")?,
        recording_status: r.try_get("recording_status")?,
        recording_bytes: r.try_get("recording_bytes")?,
        recording_chunks: r.try_get("recording_chunks")?,
        recording_chunk_bytes: r.try_get("recording_chunk_bytes")?,
        transcript_deleted_at: ts_opt(r, "transcript_deleted_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

fn segment(r: &AnyRow) -> Result<SegmentRecord, StorageError> {
    Ok(SegmentRecord {
        meeting_id: id(r, "meeting_id")?,
        segment_id: r.try_get("segment_id")?,
        channel: r.try_get("channel")?,
        start_ms: r.try_get("start_ms")?,
        end_ms: r.try_get("end_ms")?,
        is_partial: r.try_get::<i64, _>("is_partial")? != 0,
        sealed_body: r.try_get("body")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// Meeting cursors are `started_at` and id (newest first).
fn meeting_cursor(m: &MeetingRecord) -> String {
    format!("{}.{}", m.started_at.millis(), m.id)
}

fn parse_meeting_cursor(page: &PageRequest) -> Result<(i64, String), StorageError> {
    match &page.cursor {
        None => Ok((i64::MAX, String::new())),
        Some(c) => {
            let (ms, mid) = c.split_once('.').ok_or(StorageError::InvalidCursor)?;
            let ms: i64 = ms.parse().map_err(|_| StorageError::InvalidCursor)?;
            let mid = uuid::Uuid::parse_str(mid).map_err(|_| StorageError::InvalidCursor)?;
            Ok((ms, mid.hyphenated().to_string()))
        }
    }
}

impl Db {
    /// Creates a meeting. `Conflict` when the call id is taken (by anyone).
    pub async fn create_meeting(&self, m: &NewMeeting<'_>) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO meetings (id, call_key, call_id, owner_id, source, status, details, sample_rate, channels, started_at, \
             ended_at, duration_ms, recording_status, recording_bytes, recording_chunks, recording_chunk_bytes, \
             transcript_deleted_at, updated_at) \
             VALUES ($1, $12, $2, $3, $4, $5, $6, $7, $8, $9, NULL, 0, $10, 0, 0, $11, NULL, $9)",
        )
        .bind(m.id.to_string())
        .bind(m.sealed_call_id)
        .bind(m.owner_id.to_string())
        .bind(m.source)
        .bind(m.status)
        .bind(m.sealed_details)
        .bind(m.sample_rate)
        .bind(m.channels)
        .bind(m.started_at.millis())
        .bind(m.recording_status)
        .bind(m.recording_chunk_bytes)
        .bind(m.call_key)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A meeting by its call id's keyed hash, whoever owns it (to tell "yours" from "someone
    /// else's" when a client starts one with an id that exists).
    pub async fn meeting_by_call_key_unchecked(&self, call_key: &str) -> Result<Option<MeetingRecord>, StorageError> {
        let sql = sqlf!("SELECT {MEETING_COLS} FROM meetings m WHERE m.call_key = $1");
        let row = sqlx::query(sql).bind(call_key).fetch_optional(self.pool()).await?;
        row.as_ref().map(meeting).transpose()
    }

    /// A meeting the caller may read, by its call id's keyed hash.
    pub async fn meeting_by_call_key(
        &self,
        access: MeetingAccess,
        call_key: &str,
    ) -> Result<Option<MeetingRecord>, StorageError> {
        let sql = sqlf!("SELECT {MEETING_COLS} FROM meetings m WHERE m.call_key = $1 AND {}", access.readable(2));
        let row = sqlx::query(sql).bind(call_key).bind(access.user()).fetch_optional(self.pool()).await?;
        row.as_ref().map(meeting).transpose()
    }

    /// A meeting the caller may read, by its key (realtime channels name meetings by key).
    pub async fn meeting(&self, access: MeetingAccess, key: MeetingKey) -> Result<Option<MeetingRecord>, StorageError> {
        let sql = sqlf!("SELECT {MEETING_COLS} FROM meetings m WHERE m.id = $1 AND {}", access.readable(2));
        let row = sqlx::query(sql).bind(key.to_string()).bind(access.user()).fetch_optional(self.pool()).await?;
        row.as_ref().map(meeting).transpose()
    }

    /// The meetings the caller may read, newest first, with how many match in all.
    pub async fn list_meetings(
        &self,
        access: MeetingAccess,
        f: &MeetingFilter,
        page: &PageRequest,
    ) -> Result<(Page<MeetingRecord>, i64), StorageError> {
        let (before_ms, before_id) = parse_meeting_cursor(page)?;
        let filter = "m.started_at >= $2 AND m.started_at < $3 AND ($4 = '' OR m.status = $4)";
        let readable = access.readable(1);
        let (user, from, to) =
            (access.user(), f.from.map_or(i64::MIN, Timestamp::millis), f.to.map_or(i64::MAX, Timestamp::millis));
        let status = f.status.clone().unwrap_or_default();
        let total: i64 = sqlx::query(sqlf!("SELECT COUNT(*) FROM meetings m WHERE {readable} AND {filter}"))
            .bind(&user)
            .bind(from)
            .bind(to)
            .bind(&status)
            .fetch_one(self.pool())
            .await?
            .try_get(0)?;
        let rows = sqlx::query(sqlf!(
            "SELECT {MEETING_COLS} FROM meetings m WHERE {readable} AND {filter} \
             AND (m.started_at < $5 OR (m.started_at = $5 AND ($6 = '' OR m.id < $6))) \
             ORDER BY m.started_at DESC, m.id DESC LIMIT $7"
        ))
        .bind(&user)
        .bind(from)
        .bind(to)
        .bind(&status)
        .bind(before_ms)
        .bind(before_id)
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(meeting).collect::<Result<Vec<_>, _>>()?;
        Ok((paginate(items, page.limit(), meeting_cursor), total))
    }

    /// Sets a meeting's status, end, duration and recording state (the pipeline, not users).
    pub async fn update_meeting_state(&self, key: MeetingKey, u: &MeetingUpdate<'_>) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "UPDATE meetings SET status = $2, ended_at = $3, duration_ms = $4, recording_status = $5, \
             recording_bytes = $6, recording_chunks = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(key.to_string())
        .bind(u.status)
        .bind(u.ended_at.map(Timestamp::millis))
        .bind(u.duration_ms)
        .bind(u.recording_status)
        .bind(u.recording_bytes)
        .bind(u.recording_chunks)
        .bind(u.now.millis())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Replaces a meeting's sealed details (a speaker change adds a name).
    pub async fn update_meeting_details(
        &self,
        key: MeetingKey,
        sealed: &[u8],
        now: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE meetings SET details = $2, updated_at = $3 WHERE id = $1")
            .bind(key.to_string())
            .bind(sealed)
            .bind(now.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Meetings a previous process left live (it stopped without finalising them).
    pub async fn unfinished_meetings(&self) -> Result<Vec<MeetingRecord>, StorageError> {
        let sql = sqlf!("SELECT {MEETING_COLS} FROM meetings m WHERE m.status IN ('live', 'processing') ORDER BY m.id");
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        rows.iter().map(meeting).collect()
    }

    /// Deletes a meeting (segments and shares with it) if `owner` owns it (or `None`: anyone's).
    pub async fn delete_meeting(&self, owner: Option<UserId>, key: MeetingKey) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM meetings WHERE id = $1 AND ($2 = '' OR owner_id = $2)")
            .bind(key.to_string())
            .bind(owner.map(|u| u.to_string()).unwrap_or_default())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Everyone's chats about it go with it (they quote it).
        sqlx::query("DELETE FROM chat_sessions WHERE meeting = $1").bind(key.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Stores a segment: inserted, or replacing the stored one unless that one is final (a
    /// partial never overwrites a final). True if it was written.
    pub async fn upsert_segment(&self, s: &SegmentRecord) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "INSERT INTO meeting_segments (meeting_id, segment_id, channel, start_ms, end_ms, is_partial, body, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (meeting_id, segment_id) DO UPDATE SET channel = excluded.channel, \
             start_ms = excluded.start_ms, end_ms = excluded.end_ms, is_partial = excluded.is_partial, \
             body = excluded.body, updated_at = excluded.updated_at \
             WHERE meeting_segments.is_partial = 1",
        )
        .bind(s.meeting_id.to_string())
        .bind(&s.segment_id)
        .bind(&s.channel)
        .bind(s.start_ms)
        .bind(s.end_ms)
        .bind(i64::from(s.is_partial))
        .bind(&s.sealed_body)
        .bind(s.updated_at.millis())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// A meeting's segments in time order (the caller checked access to the meeting).
    pub async fn meeting_segments(
        &self,
        key: MeetingKey,
        finals_only: bool,
    ) -> Result<Vec<SegmentRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT meeting_id, segment_id, channel, start_ms, end_ms, is_partial, body, updated_at \
             FROM meeting_segments WHERE meeting_id = $1 AND ($2 = 0 OR is_partial = 0) ORDER BY start_ms, segment_id",
        )
        .bind(key.to_string())
        .bind(i64::from(finals_only))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(segment).collect()
    }

    /// Up to `batch` meetings that are not live, started before `cutoff`, and match `which`.
    pub async fn meetings_before(
        &self,
        which: Aged,
        cutoff: Timestamp,
        batch: u32,
    ) -> Result<Vec<MeetingKey>, StorageError> {
        let cond = match which {
            Aged::Any => "1 = 1",
            Aged::WithTranscript => "m.transcript_deleted_at IS NULL",
            Aged::WithRecording => "m.recording_status = 'available'",
        };
        let rows = sqlx::query(sqlf!(
            "SELECT m.id FROM meetings m WHERE m.status NOT IN ('live', 'processing') AND m.started_at < $1 AND {cond} \
             ORDER BY m.started_at LIMIT $2"
        ))
        .bind(cutoff.millis())
        .bind(i64::from(batch))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| id(r, "id")).collect()
    }

    /// Removes a meeting's transcript (its segments) and what was made of it (its summary, and
    /// the passages search made of both),
    /// keeping the meeting.
    pub async fn delete_transcript(&self, key: MeetingKey, now: Timestamp) -> Result<u64, StorageError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM meeting_segments WHERE meeting_id = $1")
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM meeting_summaries WHERE meeting_id = $1")
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM meeting_passages WHERE meeting_id = $1")
            .bind(key.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE meetings SET transcript_deleted_at = $2, updated_at = $2 WHERE id = $1")
            .bind(key.to_string())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Marks a meeting's recording as removed.
    pub async fn mark_recording_deleted(&self, key: MeetingKey, now: Timestamp) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE meetings SET recording_status = 'deleted', recording_bytes = 0, recording_chunks = 0, updated_at = $2 \
             WHERE id = $1",
        )
        .bind(key.to_string())
        .bind(now.millis())
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Shares a meeting with users (idempotent).
    pub async fn share_meeting(&self, key: MeetingKey, users: &[UserId], now: Timestamp) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        for u in users {
            sqlx::query(
                "INSERT INTO meeting_shares (meeting_id, user_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (meeting_id, user_id) DO NOTHING",
            )
            .bind(key.to_string())
            .bind(u.to_string())
            .bind(now.millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stops sharing a meeting with users.
    pub async fn unshare_meeting(&self, key: MeetingKey, users: &[UserId]) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        for u in users {
            sqlx::query("DELETE FROM meeting_shares WHERE meeting_id = $1 AND user_id = $2")
                .bind(key.to_string())
                .bind(u.to_string())
                .execute(&mut *tx)
                .await?;
            // Their chats about it quote it: they go too (the owner's never do: an owner is
            // never a share).
            sqlx::query(
                "DELETE FROM chat_sessions WHERE meeting = $1 AND user_id = $2 \
                 AND user_id NOT IN (SELECT owner_id FROM meetings WHERE id = $1)",
            )
            .bind(key.to_string())
            .bind(u.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The users a meeting is shared with.
    pub async fn meeting_shares(&self, key: MeetingKey) -> Result<Vec<UserId>, StorageError> {
        let rows = sqlx::query("SELECT user_id FROM meeting_shares WHERE meeting_id = $1 ORDER BY user_id")
            .bind(key.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| id(r, "user_id")).collect()
    }
}

/// Which old meetings [`Db::meetings_before`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aged {
    Any,
    /// Those whose transcript is still kept.
    WithTranscript,
    /// Those whose recording is still kept.
    WithRecording,
}

/// The pipeline's view of a meeting's state.
#[derive(Clone, Copy, Debug)]
pub struct MeetingUpdate<'a> {
    pub status: &'a str,
    pub ended_at: Option<Timestamp>,
    pub duration_ms: i64,
    pub recording_status: &'a str,
    pub recording_bytes: i64,
    pub recording_chunks: i64,
    pub now: Timestamp,
}
