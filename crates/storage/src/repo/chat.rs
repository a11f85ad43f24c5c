//! Chat sessions, their messages (one row each) and feedback. Content columns arrive sealed;
//! every read and delete takes the owner, so another user's ids simply find nothing.

pub use super::Owner;
use super::{cursor, id, paginate, ts};
use crate::repo::branches::{PATH, PATH_FROM, Under};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{FeedbackId, KnowledgeBaseId, MessageId, Page, PageRequest, SessionId, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub assistant_id: String,
    pub sealed_title: Vec<u8>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Listed before the others.
    pub pinned: bool,
    /// Set when the user archived it: out of the everyday list, in the archived one.
    pub archived_at: Option<Timestamp>,
    /// The knowledge bases chosen in it (checked for access whenever they are used).
    pub knowledge_bases: Vec<KnowledgeBaseId>,
    /// A meeting assistant panel's chat: the meeting's key, or [`PAST_MEETINGS`].
    pub meeting: Option<String>,
}

/// The scope of the chat over all of a user's past meetings.
pub const PAST_MEETINGS: &str = "*";

/// Which of a user's sessions a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shelf {
    /// Not archived (the everyday list).
    Active,
    Archived,
    /// Both (administrators' views, search).
    All,
}

impl Shelf {
    fn clause(self) -> &'static str {
        match self {
            Shelf::Active => " AND archived_at IS NULL AND meeting IS NULL",
            Shelf::Archived => " AND archived_at IS NOT NULL AND meeting IS NULL",
            Shelf::All => "",
        }
    }
}

/// A change to a session's place in the list; `None` fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct SessionChange {
    pub sealed_title: Option<Vec<u8>>,
    pub pinned: Option<bool>,
    /// `Some(Some(t))` archives (at `t`), `Some(None)` unarchives.
    pub archived_at: Option<Option<Timestamp>>,
    pub knowledge_bases: Option<Vec<KnowledgeBaseId>>,
}

#[derive(Clone, Debug)]
pub struct MessageRecord {
    pub id: MessageId,
    pub session_id: SessionId,
    pub seq: i64,
    pub role: String,
    pub sealed_content: Vec<u8>,
    pub sealed_parts: Option<Vec<u8>>,
    pub model_id: Option<String>,
    pub response_time_ms: Option<i64>,
    pub created_at: Timestamp,
    /// The message this one follows (`None`: a first message); see [`super::branches`].
    pub parent_id: Option<MessageId>,
}

pub struct NewMessage<'a> {
    pub id: MessageId,
    pub role: &'a str,
    pub sealed_content: &'a [u8],
    pub sealed_parts: Option<&'a [u8]>,
    pub model_id: Option<&'a str>,
    pub response_time_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct FeedbackRecord {
    pub id: FeedbackId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub message_id: MessageId,
    pub rating: String,
    pub reason: Option<String>,
    pub sealed_text: Option<Vec<u8>>,
    pub created_at: Timestamp,
}

pub struct NewFeedback<'a> {
    pub id: FeedbackId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub message_id: MessageId,
    pub rating: &'a str,
    pub reason: Option<&'a str>,
    pub sealed_text: Option<&'a [u8]>,
}

const SESSION_COLS: &str =
    "id, user_id, assistant_id, title, created_at, updated_at, pinned, archived_at, knowledge_bases, meeting";
pub(super) const MESSAGE_COLS: &str =
    "id, session_id, seq, role, content, parts, model_id, response_time_ms, created_at, parent_id";
const FEEDBACK_COLS: &str = "id, user_id, session_id, message_id, rating, reason, text_feedback, created_at";

fn session(r: &AnyRow) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        id: id(r, "id")?,
        user_id: id(r, "user_id")?,
        assistant_id: r.try_get("assistant_id")?,
        sealed_title: r.try_get("title")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
        pinned: r.try_get::<i64, _>("pinned")? != 0,
        archived_at: super::ts_opt(r, "archived_at")?,
        knowledge_bases: r
            .try_get::<String, _>("knowledge_bases")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| StorageError::Corrupt("chat_sessions.knowledge_bases holds a bad id".into()))
            })
            .collect::<Result<_, _>>()?,
        meeting: r.try_get("meeting")?,
    })
}

fn message(r: &AnyRow) -> Result<MessageRecord, StorageError> {
    Ok(MessageRecord {
        id: id(r, "id")?,
        session_id: id(r, "session_id")?,
        seq: r.try_get("seq")?,
        role: r.try_get("role")?,
        sealed_content: r.try_get("content")?,
        sealed_parts: r.try_get("parts")?,
        model_id: r.try_get("model_id")?,
        response_time_ms: r.try_get("response_time_ms")?,
        created_at: ts(r, "created_at")?,
        parent_id: r
            .try_get::<Option<String>, _>("parent_id")?
            .map(|p| p.parse().map_err(|_| StorageError::Corrupt("parent_id is not a valid id".into())))
            .transpose()?,
    })
}

fn feedback(r: &AnyRow) -> Result<FeedbackRecord, StorageError> {
    Ok(FeedbackRecord {
        id: id(r, "id")?,
        user_id: id(r, "user_id")?,
        session_id: id(r, "session_id")?,
        message_id: id(r, "message_id")?,
        rating: r.try_get("rating")?,
        reason: r.try_get("reason")?,
        sealed_text: r.try_get("text_feedback")?,
        created_at: ts(r, "created_at")?,
    })
}

/// Session cursors are pinned, `updated_at` and id (pinned first, then newest activity).
pub fn session_cursor(s: &SessionRecord) -> String {
    format!("{}.{}.{}", i64::from(s.pinned), s.updated_at.millis(), s.id)
}

/// The keyset after a cursor: (pinned, updated_at, id); the start is past every row.
fn parse_session_cursor(page: &PageRequest) -> Result<(i64, i64, String), StorageError> {
    match &page.cursor {
        None => Ok((i64::MAX, i64::MAX, String::new())),
        Some(c) => {
            let mut it = c.splitn(3, '.');
            let (Some(p), Some(ms), Some(sid)) = (it.next(), it.next(), it.next()) else {
                return Err(StorageError::InvalidCursor);
            };
            let p: i64 = p.parse().ok().filter(|p| matches!(p, 0 | 1)).ok_or(StorageError::InvalidCursor)?;
            let ms: i64 = ms.parse().map_err(|_| StorageError::InvalidCursor)?;
            let sid = uuid::Uuid::parse_str(sid).map_err(|_| StorageError::InvalidCursor)?;
            Ok((p, ms, sid.hyphenated().to_string()))
        }
    }
}

impl Db {
    /// Creates a session with its first messages in one transaction.
    pub async fn create_session(
        &self,
        sid: SessionId,
        user: UserId,
        assistant_id: &str,
        sealed_title: &[u8],
        now: Timestamp,
    ) -> Result<(), StorageError> {
        sqlx::query("INSERT INTO chat_sessions (id, user_id, assistant_id, title, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(sid.to_string())
            .bind(user.to_string())
            .bind(assistant_id)
            .bind(sealed_title.to_vec())
            .bind(now.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// The user's chat about `meeting` (a meeting's key, or [`PAST_MEETINGS`]), made (with
    /// `sealed_title`, under id `sid`) if they have none; its id either way (two first opens at
    /// once make one chat).
    pub async fn meeting_chat(
        &self,
        user: UserId,
        meeting: &str,
        new: (SessionId, &str, &[u8]),
        now: Timestamp,
    ) -> Result<SessionId, StorageError> {
        if let Some(sid) = self.find_meeting_chat(user, meeting).await? {
            return Ok(sid);
        }
        let (sid, assistant_id, sealed_title) = new;
        let made = sqlx::query(
            "INSERT INTO chat_sessions (id, user_id, assistant_id, title, created_at, updated_at, meeting) \
             VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(sid.to_string())
        .bind(user.to_string())
        .bind(assistant_id)
        .bind(sealed_title.to_vec())
        .bind(now.millis())
        .bind(meeting)
        .execute(self.writer())
        .await?
        .rows_affected();
        if made == 1 {
            return Ok(sid);
        }
        self.find_meeting_chat(user, meeting).await?.ok_or(StorageError::Conflict)
    }

    /// The user's chat about `meeting`, if they have one.
    pub async fn find_meeting_chat(&self, user: UserId, meeting: &str) -> Result<Option<SessionId>, StorageError> {
        let r = sqlx::query("SELECT id FROM chat_sessions WHERE user_id = $1 AND meeting = $2")
            .bind(user.to_string())
            .bind(meeting)
            .fetch_optional(self.writer())
            .await?;
        r.as_ref().map(|r| id(r, "id")).transpose()
    }

    /// Appends messages to the caller's session after its active leaf (see
    /// [`Db::append_under`]); false if the session is not theirs.
    pub async fn append_messages(
        &self,
        sid: SessionId,
        user: UserId,
        msgs: &[NewMessage<'_>],
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        self.append_under(sid, user, Under::Leaf, msgs, now).await
    }

    pub async fn session(&self, owner: Owner, sid: SessionId) -> Result<Option<SessionRecord>, StorageError> {
        let r = match owner {
            Owner::User(u) => {
                sqlx::query(sqlf!("SELECT {SESSION_COLS} FROM chat_sessions WHERE id = $1 AND user_id = $2"))
                    .bind(sid.to_string())
                    .bind(u.to_string())
                    .fetch_optional(self.pool())
                    .await?
            }
            Owner::Anyone => {
                sqlx::query(sqlf!("SELECT {SESSION_COLS} FROM chat_sessions WHERE id = $1"))
                    .bind(sid.to_string())
                    .fetch_optional(self.pool())
                    .await?
            }
        };
        r.as_ref().map(session).transpose()
    }

    /// The last `max` messages of a session's active path, oldest first (the caller has
    /// checked ownership).
    pub async fn session_messages(&self, sid: SessionId, max: u32) -> Result<Vec<MessageRecord>, StorageError> {
        self.path_messages(sid, None, max).await
    }

    /// The last `max` messages of the path ending at `to` (a message of the session; its active
    /// leaf when `None`), oldest first.
    pub async fn path_messages(
        &self,
        sid: SessionId,
        to: Option<MessageId>,
        max: u32,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let rows = sqlx::query(sqlf!(
            "{PATH_FROM}SELECT {MESSAGE_COLS} FROM chat_messages WHERE session_id = $1 AND id IN (SELECT id FROM path) ORDER BY seq DESC LIMIT $2"
        ))
        .bind(sid.to_string())
        .bind(i64::from(max))
        .bind(to.map(|m| m.to_string()))
        .fetch_all(self.pool())
        .await?;
        let mut out = rows.iter().map(message).collect::<Result<Vec<_>, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// A page of a session's history (its active path) read from the newest end: the `limit` messages before the
    /// cursor (a message's number), newest first; the next cursor reads the page before (the
    /// caller has checked ownership).
    pub async fn session_history(
        &self,
        sid: SessionId,
        page: &PageRequest,
    ) -> Result<Page<MessageRecord>, StorageError> {
        let before = match &page.cursor {
            None => i64::MAX,
            Some(c) => c.parse::<i64>().ok().filter(|n| *n > 0).ok_or(StorageError::InvalidCursor)?,
        };
        let rows = sqlx::query(sqlf!(
            "{PATH}SELECT {MESSAGE_COLS} FROM chat_messages WHERE session_id = $1 AND id IN (SELECT id FROM path) AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(sid.to_string())
        .bind(before)
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(message).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |m| m.seq.to_string()))
    }

    /// Sessions, pinned first, then most recently active; `owner` limits whose, `shelf` which.
    pub async fn list_sessions(
        &self,
        owner: Owner,
        shelf: Shelf,
        page: &PageRequest,
    ) -> Result<Page<SessionRecord>, StorageError> {
        let (p, ms, sid) = parse_session_cursor(page)?;
        let lim = i64::from(page.limit()) + 1;
        let keyset =
            "(pinned < $1 OR (pinned = $1 AND (updated_at < $2 OR (updated_at = $2 AND ($3 = '' OR id < $3)))))";
        let shelf = shelf.clause();
        let order = "ORDER BY pinned DESC, updated_at DESC, id DESC";
        let rows = match owner {
            Owner::User(u) => {
                sqlx::query(sqlf!(
                    "SELECT {SESSION_COLS} FROM chat_sessions WHERE user_id = $4 AND {keyset}{shelf} {order} LIMIT $5"
                ))
                .bind(p)
                .bind(ms)
                .bind(sid)
                .bind(u.to_string())
                .bind(lim)
                .fetch_all(self.pool())
                .await?
            }
            Owner::Anyone => {
                sqlx::query(sqlf!("SELECT {SESSION_COLS} FROM chat_sessions WHERE {keyset}{shelf} {order} LIMIT $4"))
                    .bind(p)
                    .bind(ms)
                    .bind(sid)
                    .bind(lim)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        let items = rows.iter().map(session).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), session_cursor))
    }

    /// Renames, pins, archives or sets the chosen knowledge bases of one of the user's
    /// sessions, in one transaction; false if it
    /// is not theirs. Its activity time stays as it was.
    pub async fn change_session(&self, user: UserId, sid: SessionId, c: &SessionChange) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query("SELECT id FROM chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(sid.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        if let Some(t) = &c.sealed_title {
            sqlx::query("UPDATE chat_sessions SET title = $1 WHERE id = $2")
                .bind(t.clone())
                .bind(sid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(p) = c.pinned {
            sqlx::query("UPDATE chat_sessions SET pinned = $1 WHERE id = $2")
                .bind(i64::from(p))
                .bind(sid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(kbs) = &c.knowledge_bases {
            let ids: Vec<String> = kbs.iter().map(ToString::to_string).collect();
            sqlx::query("UPDATE chat_sessions SET knowledge_bases = $1 WHERE id = $2")
                .bind(ids.join(","))
                .bind(sid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(a) = c.archived_at {
            sqlx::query("UPDATE chat_sessions SET archived_at = $1 WHERE id = $2")
                .bind(a.map(Timestamp::millis))
                .bind(sid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes one of the user's sessions (messages and feedback go with it).
    pub async fn delete_session(&self, user: UserId, sid: SessionId) -> Result<bool, StorageError> {
        Ok(sqlx::query("DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2")
            .bind(sid.to_string())
            .bind(user.to_string())
            .execute(self.writer())
            .await?
            .rows_affected()
            == 1)
    }

    pub async fn delete_all_sessions(&self, user: UserId) -> Result<u64, StorageError> {
        Ok(sqlx::query("DELETE FROM chat_sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    /// Rewrites an answer being written (its text so far, its parts, its time); false if the
    /// message is not in that session of the user's (or was deleted meanwhile).
    pub async fn update_answer(
        &self,
        user: UserId,
        sid: SessionId,
        mid: MessageId,
        sealed_content: &[u8],
        sealed_parts: Option<&[u8]>,
        response_time_ms: i64,
    ) -> Result<bool, StorageError> {
        let n = sqlx::query(
            "UPDATE chat_messages SET content = $1, parts = $2, response_time_ms = $3 \
             WHERE id = $4 AND session_id = $5 AND role = 'assistant' \
             AND session_id IN (SELECT id FROM chat_sessions WHERE id = $5 AND user_id = $6)",
        )
        .bind(sealed_content.to_vec())
        .bind(sealed_parts.map(<[u8]>::to_vec))
        .bind(response_time_ms)
        .bind(mid.to_string())
        .bind(sid.to_string())
        .bind(user.to_string())
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A message of the user's session, for feedback; `None` if either is not theirs.
    pub async fn owned_message(
        &self,
        user: UserId,
        sid: SessionId,
        mid: MessageId,
    ) -> Result<Option<MessageRecord>, StorageError> {
        let r = sqlx::query(sqlf!(
            "SELECT {} FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id \
             WHERE m.id = $1 AND m.session_id = $2 AND s.user_id = $3",
            MESSAGE_COLS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(mid.to_string())
        .bind(sid.to_string())
        .bind(user.to_string())
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(message).transpose()
    }

    pub async fn create_feedback(&self, f: &NewFeedback<'_>, now: Timestamp) -> Result<(), StorageError> {
        sqlx::query(sqlf!("INSERT INTO feedback ({FEEDBACK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(f.id.to_string())
            .bind(f.user_id.to_string())
            .bind(f.session_id.to_string())
            .bind(f.message_id.to_string())
            .bind(f.rating)
            .bind(f.reason)
            .bind(f.sealed_text.map(<[u8]>::to_vec))
            .bind(now.millis())
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn feedback(&self, owner: Owner, fid: FeedbackId) -> Result<Option<FeedbackRecord>, StorageError> {
        let r = match owner {
            Owner::User(u) => {
                sqlx::query(sqlf!("SELECT {FEEDBACK_COLS} FROM feedback WHERE id = $1 AND user_id = $2"))
                    .bind(fid.to_string())
                    .bind(u.to_string())
                    .fetch_optional(self.pool())
                    .await?
            }
            Owner::Anyone => {
                sqlx::query(sqlf!("SELECT {FEEDBACK_COLS} FROM feedback WHERE id = $1"))
                    .bind(fid.to_string())
                    .fetch_optional(self.pool())
                    .await?
            }
        };
        r.as_ref().map(feedback).transpose()
    }

    /// The user's feedback, newest first.
    pub async fn list_feedback(&self, user: UserId, page: &PageRequest) -> Result<Page<FeedbackRecord>, StorageError> {
        let before = cursor(page)?.unwrap_or_default();
        let rows = sqlx::query(sqlf!(
            "SELECT {FEEDBACK_COLS} FROM feedback WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
        ))
        .bind(user.to_string())
        .bind(before)
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(feedback).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |f| f.id.to_string()))
    }

    /// All feedback created in `[from, to)`, newest first (administrators).
    pub async fn feedback_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<FeedbackRecord>, StorageError> {
        let before = cursor(page)?.unwrap_or_default();
        let rows = sqlx::query(sqlf!(
            "SELECT {FEEDBACK_COLS} FROM feedback WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(from.millis())
        .bind(to.millis())
        .bind(before)
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(feedback).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |f| f.id.to_string()))
    }
}
