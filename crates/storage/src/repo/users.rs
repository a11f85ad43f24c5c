//! Users and their group memberships.

use super::{cursor, id, like_pattern, paginate, ts};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{Page, PageRequest, Timestamp, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: UserId,
    /// Normalised (trimmed, lower-case).
    pub email: String,
    pub display_name: String,
    pub status: UserStatus,
    pub password_hash: Option<String>,
    pub external_issuer: Option<String>,
    pub external_subject: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub groups: Vec<String>,
    pub mfa_enabled: bool,
    /// An administrator set a temporary password: a new one is asked for at sign-in.
    pub password_must_change: bool,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub groups: &'a [String],
    pub external: Option<(&'a str, &'a str)>,
}

const SELECT: &str = "SELECT u.id, u.email, u.display_name, u.status, u.password_hash, \
    u.external_issuer, u.external_subject, u.created_at, u.updated_at, u.password_must_change, \
    COALESCE((SELECT m.enabled FROM user_mfa m WHERE m.user_id = u.id), 0) AS mfa_enabled \
    FROM users u";

/// The user columns plus one group name per row (NULL when the user has none): user and
/// groups in one round trip, folded by [`fold`].
const SELECT_WITH_GROUPS: &str = "SELECT u.id, u.email, u.display_name, u.status, u.password_hash, \
    u.external_issuer, u.external_subject, u.created_at, u.updated_at, u.password_must_change, \
    COALESCE((SELECT m.enabled FROM user_mfa m WHERE m.user_id = u.id), 0) AS mfa_enabled, g.name AS group_name \
    FROM users u LEFT JOIN user_groups ug ON ug.user_id = u.id LEFT JOIN groups g ON g.id = ug.group_id";

/// Folds rows of [`SELECT_WITH_GROUPS`] (ordered by user) into users with their groups.
fn fold(rows: &[AnyRow]) -> Result<Vec<UserRecord>, StorageError> {
    let mut out: Vec<UserRecord> = Vec::new();
    for r in rows {
        let group: Option<String> = r.try_get("group_name")?;
        let id: UserId = id(r, "id")?;
        if out.last().is_none_or(|u| u.id != id) {
            out.push(from_row(r)?);
        }
        if let (Some(g), Some(u)) = (group, out.last_mut()) {
            u.groups.push(g);
        }
    }
    for u in &mut out {
        u.groups.sort();
    }
    Ok(out)
}

fn from_row(r: &AnyRow) -> Result<UserRecord, StorageError> {
    let status: String = r.try_get("status")?;
    Ok(UserRecord {
        id: id(r, "id")?,
        email: r.try_get("email")?,
        display_name: r.try_get("display_name")?,
        status: match status.as_str() {
            "active" => UserStatus::Active,
            "disabled" => UserStatus::Disabled,
            other => return Err(StorageError::Corrupt(format!("user status {other}"))),
        },
        password_hash: r.try_get("password_hash")?,
        external_issuer: r.try_get("external_issuer")?,
        external_subject: r.try_get("external_subject")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
        groups: Vec::new(),
        mfa_enabled: r.try_get::<i64, _>("mfa_enabled")? != 0,
        password_must_change: r.try_get::<i64, _>("password_must_change")? != 0,
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

const ACTIVE_ADMINS: &str = "SELECT COUNT(*) FROM users u JOIN user_groups ug ON ug.user_id = u.id \
     JOIN groups g ON g.id = ug.group_id WHERE g.name = 'admin' AND u.status = 'active'";

/// Serialises changes that could remove the last administrator, then counts the active ones.
/// Writing one agreed row takes a row lock on PostgreSQL and the write lock on SQLite, so two
/// concurrent demotions cannot both see "another admin remains".
async fn lock_admins(tx: &mut Tx) -> Result<i64, StorageError> {
    sqlx::query(
        "INSERT INTO meta (meta_key, meta_value) VALUES ('admin_guard', '') \
         ON CONFLICT (meta_key) DO UPDATE SET meta_value = ''",
    )
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query(ACTIVE_ADMINS).fetch_one(&mut **tx).await?.try_get(0)?)
}

/// Commits unless the change took the number of active administrators from some to none.
async fn keep_an_admin(mut tx: Tx, before: i64) -> Result<(), StorageError> {
    let after: i64 = sqlx::query(ACTIVE_ADMINS).fetch_one(&mut *tx).await?.try_get(0)?;
    if before > 0 && after == 0 {
        tx.rollback().await?;
        return Err(StorageError::LastAdmin);
    }
    tx.commit().await?;
    Ok(())
}

impl Db {
    /// Fills in the groups of a page of users with one query.
    async fn load_groups(&self, mut users: Vec<UserRecord>) -> Result<Vec<UserRecord>, StorageError> {
        if users.is_empty() {
            return Ok(users);
        }
        // Only placeholders are formatted into the statement; the ids are bound.
        let marks = (1..=users.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = sqlf!(
            "SELECT ug.user_id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id \
             WHERE ug.user_id IN ({marks}) ORDER BY g.name"
        );
        let mut q = sqlx::query(sql);
        for u in &users {
            q = q.bind(u.id.to_string());
        }
        let rows = q.fetch_all(self.pool()).await?;
        for r in rows {
            let uid: UserId = id(&r, "user_id")?;
            let name: String = r.try_get("name")?;
            if let Some(u) = users.iter_mut().find(|u| u.id == uid) {
                u.groups.push(name);
            }
        }
        Ok(users)
    }

    /// Creates a user with its groups in one transaction. Unknown group names are an error
    /// (`Corrupt` is not used: the caller validates names first; here they are `Conflict`-free).
    pub async fn create_user(&self, u: &NewUser<'_>, now: Timestamp) -> Result<UserRecord, StorageError> {
        let uid = UserId::new();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, display_name, status, password_hash, external_issuer, \
             external_subject, created_at, updated_at) VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $7)",
        )
        .bind(uid.to_string())
        .bind(u.email)
        .bind(u.display_name)
        .bind(u.password_hash)
        .bind(u.external.map(|e| e.0))
        .bind(u.external.map(|e| e.1))
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        for g in u.groups {
            let n =
                sqlx::query("INSERT INTO user_groups (user_id, group_id) SELECT $1, id FROM groups WHERE name = $2")
                    .bind(uid.to_string())
                    .bind(g)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if n != 1 {
                return Err(StorageError::Corrupt(format!("unknown group {g}")));
            }
        }
        tx.commit().await?;
        self.user_by_id(uid).await?.ok_or_else(|| StorageError::Corrupt("user vanished".into()))
    }

    pub async fn user_by_id(&self, uid: UserId) -> Result<Option<UserRecord>, StorageError> {
        let rows = sqlx::query(sqlf!("{SELECT_WITH_GROUPS} WHERE u.id = $1"))
            .bind(uid.to_string())
            .fetch_all(self.pool())
            .await?;
        Ok(fold(&rows)?.pop())
    }

    /// The user behind an access token, only if the sign-in (token family) it names is live:
    /// one round trip for the authorizer's hot path.
    pub async fn session_user(
        &self,
        uid: UserId,
        family: rampart_core::TokenFamilyId,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StorageError> {
        let rows = sqlx::query(sqlf!(
            "{SELECT_WITH_GROUPS} WHERE u.id = $1 AND EXISTS (SELECT 1 FROM token_families f WHERE f.id = $2 \
             AND f.user_id = u.id AND f.revoked_at IS NULL AND f.expires_at > $3)"
        ))
        .bind(uid.to_string())
        .bind(family.to_string())
        .bind(now.millis())
        .fetch_all(self.pool())
        .await?;
        Ok(fold(&rows)?.pop())
    }

    /// A local (password) account by normalised email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StorageError> {
        let rows = sqlx::query(sqlf!("{SELECT_WITH_GROUPS} WHERE u.email = $1 AND u.external_issuer IS NULL"))
            .bind(email)
            .fetch_all(self.pool())
            .await?;
        Ok(fold(&rows)?.pop())
    }

    pub async fn user_by_external(&self, issuer: &str, subject: &str) -> Result<Option<UserRecord>, StorageError> {
        let row = sqlx::query(sqlf!("{SELECT} WHERE u.external_issuer = $1 AND u.external_subject = $2"))
            .bind(issuer)
            .bind(subject)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| from_row(&r)).transpose()
    }

    pub async fn count_users(&self) -> Result<i64, StorageError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(self.pool()).await?.try_get(0)?)
    }

    /// Users in creation order, optionally filtered by a case-insensitive search on email or
    /// display name.
    pub async fn list_users(&self, q: Option<&str>, page: &PageRequest) -> Result<Page<UserRecord>, StorageError> {
        let after = cursor(page)?.unwrap_or_default();
        let pattern = like_pattern(q.unwrap_or(""));
        let rows = sqlx::query(sqlf!(
            "{SELECT} WHERE u.id > $1 AND (LOWER(u.email) LIKE $2 ESCAPE '\\' \
             OR LOWER(u.display_name) LIKE $2 ESCAPE '\\') ORDER BY u.id LIMIT $3"
        ))
        .bind(after)
        .bind(pattern)
        .bind(i64::from(page.limit()) + 1)
        .fetch_all(self.pool())
        .await?;
        let users = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        let page = paginate(users, page.limit(), |u| u.id.to_string());
        let items = self.load_groups(page.items).await?;
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    pub async fn set_user_status(&self, uid: UserId, status: UserStatus, now: Timestamp) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let before = lock_admins(&mut tx).await?;
        let n = sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now.millis())
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        keep_an_admin(tx, before).await?;
        Ok(n == 1)
    }

    pub async fn set_password_hash(&self, uid: UserId, hash: &str, now: Timestamp) -> Result<bool, StorageError> {
        let n = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now.millis())
            .bind(uid.to_string())
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn update_profile(&self, uid: UserId, display_name: &str, now: Timestamp) -> Result<bool, StorageError> {
        let n = sqlx::query("UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3")
            .bind(display_name)
            .bind(now.millis())
            .bind(uid.to_string())
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn delete_user(&self, uid: UserId) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let before = lock_admins(&mut tx).await?;
        let n = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(uid.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        keep_an_admin(tx, before).await?;
        Ok(n == 1)
    }

    /// Replaces a user's groups. Returns false if the user does not exist.
    pub async fn set_user_groups(&self, uid: UserId, groups: &[String]) -> Result<bool, StorageError> {
        let mut tx = self.begin_write().await?;
        let before = lock_admins(&mut tx).await?;
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1")
            .bind(uid.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(false);
        }
        sqlx::query("DELETE FROM user_groups WHERE user_id = $1").bind(uid.to_string()).execute(&mut *tx).await?;
        for g in groups {
            let n =
                sqlx::query("INSERT INTO user_groups (user_id, group_id) SELECT $1, id FROM groups WHERE name = $2")
                    .bind(uid.to_string())
                    .bind(g)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if n != 1 {
                return Err(StorageError::Corrupt(format!("unknown group {g}")));
            }
        }
        keep_an_admin(tx, before).await?;
        Ok(true)
    }

    /// Active members of `admin`.
    pub async fn count_active_admins(&self) -> Result<i64, StorageError> {
        Ok(sqlx::query(ACTIVE_ADMINS).fetch_one(self.pool()).await?.try_get(0)?)
    }
}
