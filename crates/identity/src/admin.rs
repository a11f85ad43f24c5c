//! User and group administration. Every call is audited; the last administrator can never
//! be deleted, disabled or demoted, and administrators cannot delete or disable themselves.

use crate::error::{IdentityError, Result};
use crate::service::{Identity, RequestMeta};
use crate::validate;
use rampart_core::AuditOutcome;
use rampart_core::principal::ADMIN_GROUP;
use rampart_core::{Page, PageRequest, Principal, UserId};
use rampart_storage::repo::groups::GroupRecord;
use rampart_storage::repo::users::{UserRecord, UserStatus};

/// A created user, with the generated temporary password if none was given (shown once).
#[derive(Debug)]
pub struct CreatedUser {
    pub user: UserRecord,
    pub temporary_password: Option<String>,
}

impl Identity {
    async fn audit_admin(
        &self,
        actor: &Principal,
        meta: &RequestMeta,
        action: &str,
        target: impl ToString,
        outcome: AuditOutcome,
        detail: Option<&str>,
    ) {
        self.audit(meta, Some((actor.user_id, &actor.email)), action, Some(target.to_string()), outcome, detail).await;
    }

    async fn check_groups_exist(&self, groups: &[String]) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for g in groups {
            validate::group_name(g)?;
            if !out.contains(g) {
                out.push(g.clone());
            }
        }
        let existing = self.db().existing_groups(&out).await?;
        if let Some(missing) = out.iter().find(|g| !existing.contains(g)) {
            return Err(IdentityError::Invalid(format!("unknown group {missing:?}")));
        }
        Ok(out)
    }

    /// Creates a local user (admin API and `rampart user add`).
    pub async fn create_user(
        &self,
        actor: Option<&Principal>,
        email: &str,
        password: Option<&str>,
        groups: &[String],
        display_name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<CreatedUser> {
        let groups = self.check_groups_exist(groups).await?;
        let (password, temporary) = match password {
            Some(p) => (p.to_owned(), None),
            None => {
                let t = rampart_crypto::opaque_token();
                (t.clone(), Some(t))
            }
        };
        let new = self.prepare_local_user(email, &password, display_name)?;
        let user = match self.insert_local_user(&new, &groups).await {
            Err(rampart_storage::StorageError::Conflict) => return Err(IdentityError::Conflict),
            other => other?,
        };
        if temporary.is_some() {
            // A temporary password is changed at the first sign-in (`NEW_PASSWORD_REQUIRED`).
            self.db().set_password(user.id, &new.hash, true, self.now()).await?;
        }
        match actor {
            Some(a) => self.audit_admin(a, meta, "admin.user_create", user.id, AuditOutcome::Success, None).await,
            None => {
                self.audit(
                    meta,
                    None,
                    "admin.user_create",
                    Some(user.id.to_string()),
                    AuditOutcome::Success,
                    Some("cli"),
                )
                .await
            }
        }
        Ok(CreatedUser { user, temporary_password: temporary })
    }

    pub async fn get_user(&self, id: UserId) -> Result<UserRecord> {
        self.db().user_by_id(id).await?.ok_or(IdentityError::NotFound)
    }

    pub async fn list_users(&self, q: Option<&str>, page: &PageRequest) -> Result<Page<UserRecord>> {
        if q.is_some_and(|q| q.len() > 254) {
            return Err(IdentityError::Invalid("q must be at most 254 characters".into()));
        }
        Ok(self.db().list_users(q, page).await?)
    }

    async fn is_last_admin(&self, user: &UserRecord) -> Result<bool> {
        Ok(user.groups.iter().any(|g| g == ADMIN_GROUP)
            && user.status == UserStatus::Active
            && self.db().count_active_admins().await? <= 1)
    }

    /// Disables or re-enables a user. Disabling revokes every sign-in at once.
    pub async fn set_user_enabled(
        &self,
        actor: &Principal,
        id: UserId,
        enabled: bool,
        meta: &RequestMeta,
    ) -> Result<UserRecord> {
        let user = self.get_user(id).await?;
        let action = if enabled { "admin.user_enable" } else { "admin.user_disable" };
        if !enabled {
            if actor.user_id == id {
                self.audit_admin(actor, meta, action, id, AuditOutcome::Denied, Some("self")).await;
                return Err(IdentityError::SelfAction);
            }
            if self.is_last_admin(&user).await? {
                self.audit_admin(actor, meta, action, id, AuditOutcome::Denied, Some("last_admin")).await;
                return Err(IdentityError::LastAdmin);
            }
        }
        let status = if enabled { UserStatus::Active } else { UserStatus::Disabled };
        self.db().set_user_status(id, status, self.now()).await?;
        self.invalidate_auth_cache();
        if !enabled {
            self.db().revoke_all_families(id, "user_disabled", self.now()).await?;
        }
        self.audit_admin(actor, meta, action, id, AuditOutcome::Success, None).await;
        self.get_user(id).await
    }

    pub async fn delete_user(&self, actor: &Principal, id: UserId, meta: &RequestMeta) -> Result<()> {
        let user = self.get_user(id).await?;
        if actor.user_id == id {
            self.audit_admin(actor, meta, "admin.user_delete", id, AuditOutcome::Denied, Some("self")).await;
            return Err(IdentityError::SelfAction);
        }
        if self.is_last_admin(&user).await? {
            self.audit_admin(actor, meta, "admin.user_delete", id, AuditOutcome::Denied, Some("last_admin")).await;
            return Err(IdentityError::LastAdmin);
        }
        self.db().delete_user(id).await?;
        self.invalidate_auth_cache();
        self.audit_admin(actor, meta, "admin.user_delete", id, AuditOutcome::Success, None).await;
        Ok(())
    }

    pub async fn set_user_groups(
        &self,
        actor: &Principal,
        id: UserId,
        groups: &[String],
        meta: &RequestMeta,
    ) -> Result<UserRecord> {
        let user = self.get_user(id).await?;
        let groups = self.check_groups_exist(groups).await?;
        if !groups.iter().any(|g| g == ADMIN_GROUP) && self.is_last_admin(&user).await? {
            self.audit_admin(actor, meta, "admin.user_groups", id, AuditOutcome::Denied, Some("last_admin")).await;
            return Err(IdentityError::LastAdmin);
        }
        self.db().set_user_groups(id, &groups).await?;
        self.invalidate_auth_cache();
        self.audit_admin(actor, meta, "admin.user_groups", id, AuditOutcome::Success, None).await;
        self.get_user(id).await
    }

    /// Removes a user's MFA and signs them out everywhere.
    pub async fn admin_reset_mfa(&self, actor: &Principal, id: UserId, meta: &RequestMeta) -> Result<()> {
        self.get_user(id).await?;
        self.db().mfa_reset(id).await?;
        self.db().revoke_all_families(id, "mfa_reset", self.now()).await?;
        self.invalidate_auth_cache();
        self.audit_admin(actor, meta, "admin.mfa_reset", id, AuditOutcome::Success, None).await;
        Ok(())
    }

    pub async fn create_group(
        &self,
        actor: &Principal,
        name: &str,
        description: &str,
        meta: &RequestMeta,
    ) -> Result<GroupRecord> {
        validate::group_name(name)?;
        if description.chars().count() > 500 {
            return Err(IdentityError::Invalid("description must be at most 500 characters".into()));
        }
        let g = match self.db().create_group(name, description, self.now()).await {
            Err(rampart_storage::StorageError::Conflict) => return Err(IdentityError::Conflict),
            other => other?,
        };
        self.audit_admin(actor, meta, "admin.group_create", name, AuditOutcome::Success, None).await;
        Ok(g)
    }

    pub async fn list_groups(&self, page: &PageRequest) -> Result<Page<GroupRecord>> {
        Ok(self.db().list_groups(page).await?)
    }

    pub async fn delete_group(&self, actor: &Principal, name: &str, meta: &RequestMeta) -> Result<()> {
        if name == ADMIN_GROUP {
            return Err(IdentityError::Forbidden("the admin group is built in"));
        }
        if !self.db().delete_group(name).await? {
            return Err(IdentityError::NotFound);
        }
        self.invalidate_auth_cache();
        self.audit_admin(actor, meta, "admin.group_delete", name, AuditOutcome::Success, None).await;
        Ok(())
    }

    /// Changes a user's display name.
    pub async fn update_display_name(&self, id: UserId, display_name: &str) -> Result<String> {
        let user = self.get_user(id).await?;
        let name = validate::display_name(Some(display_name), &user.email)?;
        self.db().update_profile(id, &name, self.now()).await?;
        self.invalidate_auth_cache();
        Ok(name)
    }

    /// Sets a user's password (CLI and admin reset); revokes their sign-ins.
    pub async fn set_password(&self, id: UserId, password: &str) -> Result<()> {
        let user = self.get_user(id).await?;
        validate::check_password(&self.config().password_policy, password, &user.email)?;
        let hash = self.inner.hasher.hash(password);
        self.db().set_password(id, &hash, false, self.now()).await?;
        self.db().delete_password_resets(id).await?;
        self.db().revoke_all_families(id, "password_changed", self.now()).await?;
        self.invalidate_auth_cache();
        Ok(())
    }
}
