//! Repositories, one module per aggregate. Each function is one statement or one
//! transaction; owner predicates are part of the SQL.

pub mod api_keys;
pub mod attachments;
pub mod audit;
pub mod branches;
pub mod catalog;
pub mod chat;
pub mod groups;
pub mod interruptions;
pub mod jobs;
pub mod knowledge;
pub mod meeting_passages;
pub mod meeting_templates;
pub mod meetings;
pub mod meta;
pub mod mfa;
pub mod oauth;
pub mod passwords;
pub mod prompts;
pub mod queues;
pub mod retention;
pub mod sealed;
pub mod signing_keys;
pub mod summaries;
pub mod throttle;
pub mod tickets;
pub mod tokens;
pub mod users;

use crate::StorageError;
use rampart_core::{PageRequest, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Whose rows a call may see or touch: one user's, or (administrators) anyone's. The
/// repositories turn it into the SQL predicate.
#[derive(Clone, Copy, Debug)]
pub enum Owner {
    User(rampart_core::UserId),
    Anyone,
}

pub(crate) fn ts(row: &AnyRow, col: &str) -> Result<Timestamp, StorageError> {
    Ok(Timestamp::from_millis(row.try_get::<i64, _>(col)?))
}

pub(crate) fn ts_opt(row: &AnyRow, col: &str) -> Result<Option<Timestamp>, StorageError> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(Timestamp::from_millis))
}

pub(crate) fn id<T: std::str::FromStr>(row: &AnyRow, col: &str) -> Result<T, StorageError> {
    let s: String = row.try_get(col)?;
    s.parse().map_err(|_| StorageError::Corrupt(format!("{col} is not a valid id")))
}

/// The cursor in our pages is the last id of the previous page (ids are time-ordered UUIDs).
pub(crate) fn cursor(page: &PageRequest) -> Result<Option<String>, StorageError> {
    match &page.cursor {
        None => Ok(None),
        Some(c) => {
            uuid::Uuid::parse_str(c).map(|u| Some(u.hyphenated().to_string())).map_err(|_| StorageError::InvalidCursor)
        }
    }
}

/// Splits `limit + 1` fetched rows into a page and its next cursor.
pub(crate) fn paginate<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> rampart_core::Page<T> {
    let limit = limit as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    };
    rampart_core::Page { items, next_cursor }
}

/// Escapes LIKE wildcards (`%`, `_`, `\\`) so text matches literally (with `ESCAPE '\\'`).
pub(crate) fn escape_like(q: &str) -> String {
    let mut s = String::with_capacity(q.len());
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(ch);
    }
    s
}

/// A case-insensitive "contains" pattern for user-supplied search text.
pub(crate) fn like_pattern(q: &str) -> String {
    format!("%{}%", escape_like(&q.to_lowercase()))
}

/// Marks a statement assembled with `format!` as safe. Only for strings built from
/// compile-time constants (column lists, fixed clauses) and, in `migrate.rs`, table names read
/// from the database catalogue; never for values, which are always bound.
macro_rules! sqlf {
    ($($t:tt)*) => {
        sqlx::AssertSqlSafe(format!($($t)*))
    };
}
pub(crate) use sqlf;
