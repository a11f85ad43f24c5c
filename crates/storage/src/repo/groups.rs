//! Groups.

use super::{cursor, id, paginate, ts};
use crate::repo::sqlf;
use crate::{Db, StorageError};
use rampart_core::{GroupId, Page, PageRequest, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct GroupRecord {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub created_at: Timestamp,
    pub members: i64,
}

fn from_row(r: &AnyRow) -> Result<GroupRecord, StorageError> {
    Ok(GroupRecord {
        id: id(r, "id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: ts(r, "created_at")?,
        members: r.try_get("members")?,
    })
}

const SELECT: &str = "SELECT g.id, g.name, g.description, g.created_at, \
    (SELECT COUNT(*) FROM user_groups ug WHERE ug.group_id = g.id) AS members FROM groups g";

impl Db {
    pub async fn create_group(
        &self,
        name: &str,
        description: &str,
        now: Timestamp,
    ) -> Result<GroupRecord, StorageError> {
        let gid = GroupId::new();
        sqlx::query("INSERT INTO groups (id, name, description, created_at) VALUES ($1, $2, $3, $4)")
            .bind(gid.to_string())
            .bind(name)
            .bind(description)
            .bind(now.millis())
            .execute(self.writer())
            .await?;
        Ok(GroupRecord { id: gid, name: name.into(), description: description.into(), created_at: now, members: 0 })
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Option<GroupRecord>, StorageError> {
        let r = sqlx::query(sqlf!("{SELECT} WHERE g.name = $1")).bind(name).fetch_optional(self.pool()).await?;
        r.as_ref().map(from_row).transpose()
    }

    pub async fn list_groups(&self, page: &PageRequest) -> Result<Page<GroupRecord>, StorageError> {
        let after = cursor(page)?.unwrap_or_default();
        let rows = sqlx::query(sqlf!("{SELECT} WHERE g.id > $1 ORDER BY g.id LIMIT $2"))
            .bind(after)
            .bind(i64::from(page.limit()) + 1)
            .fetch_all(self.pool())
            .await?;
        let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit(), |g| g.id.to_string()))
    }

    /// Deletes a group by name (memberships go with it).
    pub async fn delete_group(&self, name: &str) -> Result<bool, StorageError> {
        let n =
            sqlx::query("DELETE FROM groups WHERE name = $1").bind(name).execute(self.writer()).await?.rows_affected();
        Ok(n == 1)
    }

    /// Which of `names` exist.
    pub async fn existing_groups(&self, names: &[String]) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        for n in names {
            if self.group_by_name(n).await?.is_some() {
                out.push(n.clone());
            }
        }
        Ok(out)
    }
}
