//! Response shapes shared by several routers.

use rampart_core::{Timestamp, UserId};
use rampart_storage::repo::users::UserRecord;
use serde::Serialize;

/// A user as administrators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    /// `active` or `disabled`.
    pub status: String,
    pub groups: Vec<String>,
    pub mfa_enabled: bool,
    /// The external issuer for users provisioned from a federated token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_issuer: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            status: u.status.as_str().to_owned(),
            groups: u.groups,
            mfa_enabled: u.mfa_enabled,
            external_issuer: u.external_issuer,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A page of results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageView<T: utoipa::ToSchema> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: utoipa::ToSchema> PageView<T> {
    pub fn from_page<U>(p: rampart_core::Page<U>, f: impl FnMut(U) -> T) -> Self {
        PageView { items: p.items.into_iter().map(f).collect(), next_cursor: p.next_cursor }
    }
}
