//! Sign-in flows: password login with throttling and lockout, MFA challenges, refresh with
//! rotation and reuse detection, logout, self sign-up and the first-admin bootstrap.

use crate::config::MfaPolicy;
use crate::error::{IdentityError, Result};
use crate::service::{Identity, RequestMeta};
use crate::tokens::TokenSet;
use crate::validate;
use rampart_core::AuditOutcome;
use rampart_core::{Timestamp, UserId};
use rampart_crypto::{ct_eq, opaque_token, sha256_hex};
use rampart_storage::repo::tokens::{NewFamily, RefreshLookup};
use rampart_storage::repo::users::{UserRecord, UserStatus};
use serde::Serialize;

const BOOTSTRAP_META: &str = "bootstrap_code_sha256";
/// How many pending bootstrap codes work: one per start before the first administrator exists
/// (replicas starting together, restarts), the newest ones.
pub const BOOTSTRAP_CODES_KEPT: usize = 8;
pub const CHALLENGE_TOTP: &str = "TOTP";
pub const CHALLENGE_MFA_SETUP: &str = "MFA_SETUP";
const MAX_CHALLENGE_ATTEMPTS: i64 = 5;

/// The result of a password login.
#[derive(Debug)]
pub enum LoginOutcome {
    Tokens(TokenSet),
    /// A second step is needed; `session` is an opaque, single-use handle.
    Challenge {
        challenge: &'static str,
        session: String,
    },
}

/// Tokens from completing a challenge; `recovery_codes` only when MFA was just set up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeTokens {
    #[serde(flatten)]
    pub tokens: TokenSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Throttle keys of one attempt: account and client address (the hard lock), the account as
/// a whole, and the address across accounts.
pub(crate) struct ThrottleKeys {
    pub(crate) pair: String,
    pub(crate) account: Option<String>,
    pub(crate) ip: Option<String>,
}

pub(crate) fn secs_until(until: Timestamp, now: Timestamp) -> u64 {
    u64::try_from((until.millis() - now.millis() + 999) / 1000).unwrap_or(1).max(1)
}

impl Identity {
    /// The throttle keys for sign-ins to `email` from `meta`'s address.
    pub(crate) fn throttle_keys(email: &str, meta: &RequestMeta) -> ThrottleKeys {
        let h = sha256_hex(email.as_bytes());
        let ip = meta.client_ip.as_deref().unwrap_or("-");
        ThrottleKeys {
            pair: format!("acct:{h}:{ip}"),
            account: Some(format!("acct:{h}")),
            ip: meta.client_ip.as_ref().map(|i| format!("ip:{i}")),
        }
    }

    pub(crate) async fn check_locks(&self, k: &ThrottleKeys) -> Result<()> {
        let now = self.now();
        for key in std::iter::once(&k.pair).chain(k.account.iter()).chain(k.ip.iter()) {
            if let Some(until) = self.db().throttle_locked_until(key, now).await? {
                return Err(IdentityError::Locked { retry_after_secs: secs_until(until, now) });
            }
        }
        Ok(())
    }

    fn throttle_params(&self) -> (i64, i64) {
        let c = self.config();
        (
            i64::try_from(c.lockout_window.as_millis()).unwrap_or(i64::MAX),
            i64::try_from(c.lockout_duration.as_millis()).unwrap_or(i64::MAX),
        )
    }

    /// Counts an attempt against the account-and-address key before any password work, so a
    /// burst of parallel guesses gets at most `lockout_threshold` evaluations.
    pub(crate) async fn count_attempt(&self, k: &ThrottleKeys) -> Result<Option<Timestamp>> {
        let (window, lock) = self.throttle_params();
        let max = i64::from(self.config().lockout_threshold) + 1;
        Ok(self.db().throttle_fail(&k.pair, self.now(), window, max, lock).await?)
    }

    /// Counts a failure against the account as a whole (10× the threshold: guessing spread
    /// over many addresses) and against the client address (across accounts); with `pair`,
    /// also against the account-and-address key.
    pub(crate) async fn record_failure(&self, k: &ThrottleKeys, pair: bool) -> Result<Option<Timestamp>> {
        let c = self.config();
        let now = self.now();
        let (window, lock) = self.throttle_params();
        let mut locked = None;
        if pair {
            locked = self.db().throttle_fail(&k.pair, now, window, i64::from(c.lockout_threshold), lock).await?;
        }
        if let Some(a) = &k.account {
            let l = self.db().throttle_fail(a, now, window, i64::from(c.lockout_threshold) * 10, lock).await?;
            locked = locked.or(l);
        }
        if let Some(ip) = &k.ip {
            let l = self.db().throttle_fail(ip, now, window, i64::from(c.ip_failure_limit), lock).await?;
            locked = locked.or(l);
        }
        Ok(locked)
    }

    /// Lifts every sign-in lock on an account (administrators, after a lockout).
    pub async fn unlock_account(&self, actor: &rampart_core::Principal, id: UserId, meta: &RequestMeta) -> Result<()> {
        let user = self.db().user_by_id(id).await?.ok_or(IdentityError::NotFound)?;
        let h = sha256_hex(user.email.as_bytes());
        self.db().throttle_clear_prefix(&format!("acct:{h}")).await?;
        self.audit(
            meta,
            Some((actor.user_id, &actor.email)),
            "admin.user_unlock",
            Some(id.to_string()),
            AuditOutcome::Success,
            None,
        )
        .await;
        Ok(())
    }

    /// Whether a user's email domain is allowed to sign in (LMA/LCA: checked at every sign-in
    /// when an allow-list is configured; administrators are exempt so they cannot be locked out).
    fn domain_allowed(&self, user: &UserRecord) -> bool {
        let domains = &self.config().signup_email_domains;
        domains.is_empty()
            || user.groups.iter().any(|g| g == rampart_core::principal::ADMIN_GROUP)
            || domains.iter().any(|d| d.eq_ignore_ascii_case(validate::email_domain(&user.email)))
    }

    /// `POST /v1/auth/login`. Unknown emails, wrong passwords, disabled accounts and
    /// disallowed domains all give the same answer after the same work.
    pub async fn login(&self, username: &str, password: &str, meta: &RequestMeta) -> Result<LoginOutcome> {
        let email = validate::normalize_email(username).map_err(|_| IdentityError::InvalidCredentials)?;
        if password.len() > validate::MAX_PASSWORD {
            return Err(IdentityError::InvalidCredentials);
        }
        let keys = Self::throttle_keys(&email, meta);
        let pre = match self.check_locks(&keys).await {
            Ok(()) => self.count_attempt(&keys).await?,
            Err(e) => {
                self.audit(meta, None, "auth.login", Some(email.clone()), AuditOutcome::Locked, None).await;
                return Err(e);
            }
        };
        if let Some(until) = pre {
            self.audit(meta, None, "auth.lockout", Some(email.clone()), AuditOutcome::Locked, None).await;
            tracing::warn!(reason = "lockout", "sign-in locked after repeated attempts");
            return Err(IdentityError::Locked { retry_after_secs: secs_until(until, self.now()) });
        }
        let user = self.db().user_by_email(&email).await?;
        let ok = match &user {
            Some(u) => match &u.password_hash {
                Some(h) => self.inner.hasher.verify(password, h),
                None => self.inner.hasher.verify_dummy(password),
            },
            None => self.inner.hasher.verify_dummy(password),
        };
        let user = match user {
            Some(u) if ok && u.status == UserStatus::Active && self.domain_allowed(&u) => u,
            other => {
                let reason = match &other {
                    None => "unknown_user",
                    Some(_) if !ok => "bad_password",
                    Some(u) if u.status != UserStatus::Active => "disabled",
                    Some(_) => "domain_not_allowed",
                };
                let locked = self.record_failure(&keys, false).await?;
                let actor = other.as_ref().map(|u| (u.id, u.email.as_str()));
                self.audit(meta, actor, "auth.login", Some(email.clone()), AuditOutcome::Failure, Some(reason)).await;
                if let Some(until) = locked {
                    self.audit(meta, actor, "auth.lockout", Some(email.clone()), AuditOutcome::Locked, None).await;
                    tracing::warn!(reason = "lockout", "sign-in locked after repeated failures");
                    return Err(IdentityError::Locked { retry_after_secs: secs_until(until, self.now()) });
                }
                return Err(IdentityError::InvalidCredentials);
            }
        };
        if let Some(h) = &user.password_hash
            && self.inner.hasher.needs_rehash(h)
        {
            let new = self.inner.hasher.hash(password);
            self.db().set_password_hash(user.id, &new, self.now()).await?;
        }
        self.second_step(&user, &keys, meta).await
    }

    /// After a correct password: a new password first if an administrator set a temporary
    /// one, then the MFA challenge the policy asks for, or the tokens.
    pub(crate) async fn second_step(
        &self,
        user: &UserRecord,
        keys: &ThrottleKeys,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome> {
        if user.password_must_change {
            return self.open_challenge(user, crate::password::CHALLENGE_NEW_PASSWORD, meta).await;
        }
        let policy = self.config().mfa;
        let challenge = if user.mfa_enabled && policy != MfaPolicy::Off {
            Some(CHALLENGE_TOTP)
        } else if policy == MfaPolicy::Required {
            Some(CHALLENGE_MFA_SETUP)
        } else {
            None
        };
        let Some(kind) = challenge else {
            self.db().throttle_clear(&keys.pair).await?;
            self.audit(meta, Some((user.id, &user.email)), "auth.login", None, AuditOutcome::Success, None).await;
            return Ok(LoginOutcome::Tokens(self.start_session(user, meta).await?));
        };
        self.open_challenge(user, kind, meta).await
    }

    /// Stores a challenge of `kind` (only its hash) and answers its opaque session handle.
    async fn open_challenge(&self, user: &UserRecord, kind: &'static str, meta: &RequestMeta) -> Result<LoginOutcome> {
        let session = opaque_token();
        let now = self.now();
        let digest = sha256_hex(session.as_bytes());
        self.db().create_challenge(&digest, user.id, kind, now, now.plus(self.config().challenge_ttl)).await?;
        self.audit(meta, Some((user.id, &user.email)), "auth.login", None, AuditOutcome::Challenge, Some(kind)).await;
        Ok(LoginOutcome::Challenge { challenge: kind, session })
    }

    /// Creates a token family and the first tokens.
    pub(crate) async fn start_session(&self, user: &UserRecord, meta: &RequestMeta) -> Result<TokenSet> {
        Ok(self.start_session_for(user, meta, None).await?.0)
    }

    /// Creates a token family (for Rampart's own apps, or for an OAuth client) and its first tokens.
    pub(crate) async fn start_session_for(
        &self,
        user: &UserRecord,
        meta: &RequestMeta,
        grant: Option<crate::tokens::Grant<'_>>,
    ) -> Result<(TokenSet, rampart_core::TokenFamilyId)> {
        let refresh = opaque_token();
        let now = self.now();
        let fid = self
            .db()
            .create_family(&NewFamily {
                user: user.id,
                token_hash: &sha256_hex(refresh.as_bytes()),
                now,
                expires_at: now.plus(self.config().refresh_token_ttl),
                client_ip: meta.client_ip.as_deref(),
                // At most 256 characters, cut on a character boundary.
                user_agent: meta.user_agent.as_deref().map(|s| s.char_indices().nth(256).map_or(s, |(i, _)| &s[..i])),
                client_id: grant.map(|g| g.client_id),
            })
            .await?;
        Ok((self.issue_tokens(user, fid, refresh, grant)?, fid))
    }

    pub(crate) async fn challenge_user(
        &self,
        session: &str,
        count_attempt: bool,
    ) -> Result<(rampart_storage::repo::tokens::ChallengeRecord, UserRecord)> {
        let h = sha256_hex(session.as_bytes());
        let ch = if count_attempt {
            self.db().challenge_attempt(&h, self.now()).await?
        } else {
            self.db().challenge(&h, self.now()).await?
        };
        let ch = ch.ok_or(IdentityError::InvalidSession)?;
        if ch.attempts > MAX_CHALLENGE_ATTEMPTS {
            self.db().delete_challenge(&h).await?;
            return Err(IdentityError::InvalidSession);
        }
        let user = self.db().user_by_id(ch.user_id).await?.ok_or(IdentityError::InvalidSession)?;
        if user.status != UserStatus::Active {
            return Err(IdentityError::InvalidSession);
        }
        Ok((ch, user))
    }

    /// `POST /v1/auth/mfa/setup {session}`: during an `MFA_SETUP` challenge, starts TOTP
    /// enrolment for the signing-in user.
    pub async fn challenge_mfa_setup(&self, session: &str, meta: &RequestMeta) -> Result<crate::mfa::TotpEnrollment> {
        let (ch, user) = self.challenge_user(session, false).await?;
        if ch.kind != CHALLENGE_MFA_SETUP {
            return Err(IdentityError::InvalidSession);
        }
        self.begin_totp(&user, meta).await
    }

    /// `POST /v1/auth/challenge {session, code}`.
    pub async fn respond_to_challenge(&self, session: &str, code: &str, meta: &RequestMeta) -> Result<ChallengeTokens> {
        let (ch, user) = self.challenge_user(session, true).await?;
        let keys = Self::throttle_keys(&user.email, meta);
        self.check_locks(&keys).await?;
        let h = sha256_hex(session.as_bytes());
        let result = match ch.kind.as_str() {
            CHALLENGE_TOTP => self.check_second_factor(&user, code).await.map(|()| None),
            CHALLENGE_MFA_SETUP => self.finish_totp(&user, code, meta).await.map(Some),
            _ => Err(IdentityError::InvalidSession),
        };
        match result {
            Ok(recovery_codes) => {
                if !self.db().delete_challenge(&h).await? {
                    return Err(IdentityError::InvalidSession);
                }
                self.db().throttle_clear(&keys.pair).await?;
                self.audit(
                    meta,
                    Some((user.id, &user.email)),
                    "auth.mfa_challenge",
                    None,
                    AuditOutcome::Success,
                    Some(&ch.kind),
                )
                .await;
                let tokens = self.start_session(&user, meta).await?;
                Ok(ChallengeTokens { tokens, recovery_codes })
            }
            Err(IdentityError::InvalidCode) => {
                let locked = self.record_failure(&keys, true).await?;
                self.audit(
                    meta,
                    Some((user.id, &user.email)),
                    "auth.mfa_challenge",
                    None,
                    AuditOutcome::Failure,
                    Some(&ch.kind),
                )
                .await;
                match locked {
                    Some(until) => {
                        self.db().delete_challenge(&h).await?;
                        self.audit(
                            meta,
                            Some((user.id, &user.email)),
                            "auth.lockout",
                            None,
                            AuditOutcome::Locked,
                            None,
                        )
                        .await;
                        Err(IdentityError::Locked { retry_after_secs: secs_until(until, self.now()) })
                    }
                    None => Err(IdentityError::InvalidCode),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/auth/refresh`: rotates the refresh token. Presenting an already-rotated token
    /// revokes the whole family (someone else has a copy).
    pub async fn refresh(&self, refresh_token: &str, meta: &RequestMeta) -> Result<TokenSet> {
        self.refresh_for(refresh_token, None, meta).await
    }

    /// Refresh for a named client (`/oauth2/token`): the sign-in must have been issued to it.
    pub async fn refresh_for(
        &self,
        refresh_token: &str,
        client_id: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<TokenSet> {
        if refresh_token.len() > 256 {
            return Err(IdentityError::InvalidToken("malformed"));
        }
        let now = self.now();
        // The client is checked before the token is used up: the wrong one cannot burn it.
        if let Some(f) = self.db().refresh_token_family(&sha256_hex(refresh_token.as_bytes())).await? {
            self.check_refresh_client(&f, client_id)?;
        }
        let fam = match self.db().consume_refresh_token(&sha256_hex(refresh_token.as_bytes()), now).await? {
            RefreshLookup::Unknown => return Err(IdentityError::InvalidToken("unknown refresh token")),
            RefreshLookup::Reused(f) => {
                if self.db().revoke_family(f.id, f.user_id, "refresh_token_reuse", now).await? {
                    self.invalidate_auth_cache();
                    self.audit(
                        meta,
                        Some((f.user_id, "")),
                        "auth.token_family_revoked",
                        Some(f.id.to_string()),
                        AuditOutcome::Success,
                        Some("refresh_token_reuse"),
                    )
                    .await;
                    tracing::warn!(family = %f.id, "refresh token reuse detected; family revoked");
                }
                return Err(IdentityError::InvalidToken("refresh token reused"));
            }
            RefreshLookup::Fresh(f) => f,
        };
        if fam.revoked_at.is_some() || fam.expires_at <= now {
            return Err(IdentityError::InvalidToken("sign-in expired or revoked"));
        }
        self.check_refresh_client(&fam, client_id)?;
        let user = self.db().user_by_id(fam.user_id).await?.ok_or(IdentityError::InvalidToken("no such user"))?;
        if user.status != UserStatus::Active || !self.domain_allowed(&user) {
            return Err(IdentityError::InvalidToken("user disabled"));
        }
        let next = opaque_token();
        self.db().rotate_refresh_token(fam.id, &sha256_hex(next.as_bytes()), now).await?;
        let grant = fam.client_id.as_deref().map(|client_id| crate::tokens::Grant {
            client_id,
            scope: fam.scope.as_deref().unwrap_or(crate::oauth::OIDC_SCOPES),
            nonce: None,
            auth_time: fam.auth_time,
        });
        self.issue_tokens(&user, fam.id, next, grant)
    }

    /// `POST /v1/auth/logout {refreshToken}`: revokes the sign-in (and with it its access tokens).
    /// Always succeeds from the caller's point of view.
    pub async fn logout(&self, refresh_token: &str, meta: &RequestMeta) -> Result<()> {
        if refresh_token.len() > 256 {
            return Ok(());
        }
        let now = self.now();
        let fam = match self.db().consume_refresh_token(&sha256_hex(refresh_token.as_bytes()), now).await? {
            RefreshLookup::Unknown => return Ok(()),
            RefreshLookup::Reused(f) | RefreshLookup::Fresh(f) => f,
        };
        if self.db().revoke_family(fam.id, fam.user_id, "logout", now).await? {
            self.invalidate_auth_cache();
            self.audit(
                meta,
                Some((fam.user_id, "")),
                "auth.logout",
                Some(fam.id.to_string()),
                AuditOutcome::Success,
                None,
            )
            .await;
        }
        Ok(())
    }

    /// Revokes one of the caller's sign-ins (`DELETE /v1/me/sessions/{id}`) or all of them.
    pub async fn revoke_sessions(
        &self,
        user: UserId,
        family: Option<rampart_core::TokenFamilyId>,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let now = self.now();
        let n = match family {
            Some(f) => u64::from(self.db().revoke_family(f, user, "user_revoked", now).await?),
            None => self.db().revoke_all_families(user, "sign_out_everywhere", now).await?,
        };
        self.invalidate_auth_cache();
        if family.is_some() && n == 0 {
            return Err(IdentityError::NotFound);
        }
        self.audit(
            meta,
            Some((user, "")),
            "auth.token_family_revoked",
            family.map(|f| f.to_string()),
            AuditOutcome::Success,
            Some(if family.is_some() { "one" } else { "all" }),
        )
        .await;
        Ok(n)
    }

    /// `POST /v1/auth/register`. The answer is the same whether or not the email already had
    /// an account, so sign-up cannot be used to discover accounts.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<()> {
        let c = self.config();
        if !c.self_signup {
            return Err(IdentityError::SignupDisabled);
        }
        let email = validate::normalize_email(email)?;
        if !c.signup_email_domains.is_empty()
            && !c.signup_email_domains.iter().any(|d| d.eq_ignore_ascii_case(validate::email_domain(&email)))
        {
            self.audit(meta, None, "auth.register", Some(email), AuditOutcome::Denied, Some("domain_not_allowed"))
                .await;
            return Err(IdentityError::EmailDomainNotAllowed);
        }
        let new = self.prepare_local_user(&email, password, display_name)?;
        match self.insert_local_user(&new, &[]).await {
            Ok(u) => {
                self.audit(
                    meta,
                    Some((u.id, &u.email)),
                    "auth.register",
                    Some(u.id.to_string()),
                    AuditOutcome::Success,
                    None,
                )
                .await
            }
            Err(rampart_storage::StorageError::Conflict) => {
                self.audit(meta, None, "auth.register", Some(email), AuditOutcome::Failure, Some("exists")).await
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// On start with no users: makes a fresh one-time bootstrap code (only its hash is
    /// stored) and returns it for the caller to show. `None` once any user exists.
    ///
    /// The hash is added to those of earlier starts (one atomic statement), not put in their
    /// place: replicas that start together each print a code, and each code works (the newest
    /// [`BOOTSTRAP_CODES_KEPT`]) until one of them makes the first administrator, which ends
    /// them all. Replacing instead made every replica but the last print a dead code.
    pub async fn prepare_bootstrap(&self) -> Result<Option<String>> {
        if self.db().count_users().await? > 0 {
            self.db().meta_take(BOOTSTRAP_META).await?;
            return Ok(None);
        }
        let code = rampart_crypto::bootstrap_code();
        self.db().meta_append_word(BOOTSTRAP_META, &sha256_hex(code.as_bytes())).await?;
        Ok(Some(code))
    }

    /// Whether `code` is one of the pending bootstrap codes (`stored`: their hashes, oldest
    /// first). Every kept hash is compared, so the time taken does not say which one matched.
    fn bootstrap_code_matches(code: &str, stored: &str) -> bool {
        let given = sha256_hex(code.trim().as_bytes());
        let hashes: Vec<&str> = stored.split_whitespace().collect();
        let newest = hashes.len().saturating_sub(BOOTSTRAP_CODES_KEPT);
        hashes[newest..].iter().fold(false, |found, h| ct_eq(given.as_bytes(), h.as_bytes()) | found)
    }

    /// `POST /v1/auth/bootstrap {code, email, password}`: exchanges the code for the first admin.
    pub async fn bootstrap(
        &self,
        code: &str,
        email: &str,
        password: &str,
        display_name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<UserRecord> {
        // Per client address, not global: a global key would let anyone lock the operator out.
        // (The code carries 128 bits, so throttling only has to stop noise, not guessing.)
        let keys = ThrottleKeys {
            pair: format!("bootstrap:{}", meta.client_ip.as_deref().unwrap_or("-")),
            account: None,
            ip: meta.client_ip.as_ref().map(|i| format!("ip:{i}")),
        };
        self.check_locks(&keys).await?;
        let Some(stored) = self.db().meta_get(BOOTSTRAP_META).await? else {
            return Err(IdentityError::BootstrapUnavailable);
        };
        if self.db().count_users().await? > 0 {
            return Err(IdentityError::BootstrapUnavailable);
        }
        if !Self::bootstrap_code_matches(code, &stored) {
            self.record_failure(&keys, true).await?;
            self.audit(meta, None, "auth.bootstrap", None, AuditOutcome::Failure, Some("bad_code")).await;
            return Err(IdentityError::InvalidCode);
        }
        let new = self.prepare_local_user(email, password, display_name)?;
        if !self.db().meta_take(BOOTSTRAP_META).await? {
            return Err(IdentityError::BootstrapUnavailable);
        }
        let user = self.insert_local_user(&new, &[rampart_core::principal::ADMIN_GROUP.to_owned()]).await?;
        self.audit(
            meta,
            Some((user.id, &user.email)),
            "auth.bootstrap",
            Some(user.id.to_string()),
            AuditOutcome::Success,
            None,
        )
        .await;
        Ok(user)
    }
}
