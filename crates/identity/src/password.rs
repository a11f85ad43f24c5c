//! Password changes: by the signed-in user (with the current password), forced at sign-in
//! after an administrator set a temporary password (a `NEW_PASSWORD_REQUIRED` challenge: no
//! tokens until it is changed), and reset through a single-use link sent by email. Each one
//! checks the policy, ends the user's other sign-ins and is audited.

use crate::error::{IdentityError, Result};
use crate::login::{LoginOutcome, secs_until};
use crate::service::{Identity, RequestMeta};
use crate::validate;
use rampart_core::{AuditOutcome, Principal, TokenFamilyId, UserId};
use rampart_crypto::{opaque_token, sha256_hex};
use rampart_storage::repo::users::UserRecord;

/// The sign-in challenge of a user who must choose a new password.
pub const CHALLENGE_NEW_PASSWORD: &str = "NEW_PASSWORD_REQUIRED";

impl Identity {
    /// Stores `new` (policy checked) as the user's password, no change required any more; drops
    /// the user's reset links and ends every sign-in but `keep`.
    pub(crate) async fn replace_password(
        &self,
        user: &UserRecord,
        new: &str,
        keep: Option<TokenFamilyId>,
        reason: &str,
    ) -> Result<()> {
        validate::check_password(&self.config().password_policy, new, &user.email)?;
        let hash = self.inner.hasher.hash(new);
        let now = self.now();
        self.db().set_password(user.id, &hash, false, now).await?;
        self.db().delete_password_resets(user.id).await?;
        match keep {
            Some(f) => self.db().revoke_other_families(user.id, f, reason, now).await?,
            None => self.db().revoke_all_families(user.id, reason, now).await?,
        };
        self.invalidate_auth_cache();
        Ok(())
    }

    /// `POST /v1/me/password`: the current password, throttled like sign-in, then the new one.
    /// The sign-in making the request (`keep`) stays; every other one ends.
    pub async fn change_password(
        &self,
        p: &Principal,
        keep: Option<TokenFamilyId>,
        current: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let user = self.get_user(p.user_id).await?;
        let Some(hash) = user.password_hash.clone() else {
            return Err(IdentityError::Forbidden("this account signs in through its identity provider"));
        };
        let keys = Self::throttle_keys(&user.email, meta);
        self.check_locks(&keys).await?;
        if let Some(until) = self.count_attempt(&keys).await? {
            return Err(IdentityError::Locked { retry_after_secs: secs_until(until, self.now()) });
        }
        let actor = Some((user.id, user.email.as_str()));
        if current.len() > validate::MAX_PASSWORD || !self.inner.hasher.verify(current, &hash) {
            let locked = self.record_failure(&keys, false).await?;
            self.audit(meta, actor, "auth.password_change", None, AuditOutcome::Failure, Some("wrong_password")).await;
            return Err(match locked {
                Some(until) => IdentityError::Locked { retry_after_secs: secs_until(until, self.now()) },
                None => IdentityError::WrongPassword,
            });
        }
        self.db().throttle_clear(&keys.pair).await?;
        if current == new {
            return Err(IdentityError::WeakPassword("the new password must differ from the current one".into()));
        }
        self.replace_password(&user, new, keep, "password_changed").await?;
        self.audit(meta, actor, "auth.password_change", None, AuditOutcome::Success, None).await;
        Ok(())
    }

    /// `POST /v1/auth/new-password {session, newPassword}`: answers a `NEW_PASSWORD_REQUIRED`
    /// challenge; then sign-in goes on (an MFA challenge, or the tokens).
    pub async fn complete_new_password(&self, session: &str, new: &str, meta: &RequestMeta) -> Result<LoginOutcome> {
        let (ch, user) = self.challenge_user(session, true).await?;
        if ch.kind != CHALLENGE_NEW_PASSWORD {
            return Err(IdentityError::InvalidSession);
        }
        validate::check_password(&self.config().password_policy, new, &user.email)?;
        if user.password_hash.as_deref().is_some_and(|h| self.inner.hasher.verify(new, h)) {
            return Err(IdentityError::WeakPassword("choose a password other than the temporary one".into()));
        }
        if !self.db().delete_challenge(&sha256_hex(session.as_bytes())).await? {
            return Err(IdentityError::InvalidSession);
        }
        self.replace_password(&user, new, None, "password_changed").await?;
        let actor = Some((user.id, user.email.as_str()));
        self.audit(meta, actor, "auth.password_change", None, AuditOutcome::Success, Some("required")).await;
        let user = UserRecord { password_must_change: false, ..user };
        self.second_step(&user, &Self::throttle_keys(&user.email, meta), meta).await
    }

    /// Administrators: a new temporary password for a user (answered once), to be changed at
    /// the next sign-in; the user's sign-ins end.
    pub async fn admin_temporary_password(&self, actor: &Principal, id: UserId, meta: &RequestMeta) -> Result<String> {
        let user = self.get_user(id).await?;
        if user.external_issuer.is_some() {
            return Err(IdentityError::Forbidden("this account signs in through its identity provider"));
        }
        let temporary = opaque_token();
        let now = self.now();
        self.db().set_password(id, &self.inner.hasher.hash(&temporary), true, now).await?;
        self.db().delete_password_resets(id).await?;
        self.db().revoke_all_families(id, "password_reset_by_admin", now).await?;
        self.invalidate_auth_cache();
        let who = Some((actor.user_id, actor.email.as_str()));
        self.audit(meta, who, "admin.user_password", Some(id.to_string()), AuditOutcome::Success, None).await;
        Ok(temporary)
    }
}
