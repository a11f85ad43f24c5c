//! Single-use tickets for WebSockets that browsers open: a browser's `WebSocket` cannot send an
//! `Authorization` header, and a token in the URL would end up in proxies' and browsers'
//! histories. The web app asks for a ticket over HTTPS with its own credential and puts the
//! ticket (256 bits, good for a minute, for one purpose, taken by its first use) in the socket's
//! URL instead.

use crate::error::{IdentityError, Result};
use crate::service::Identity;
use rampart_core::{AuthMethod, Principal, Scope};
use rampart_crypto::{opaque_token, sha256_hex};
use rampart_storage::repo::tickets::TicketRecord;
use rampart_storage::repo::users::UserStatus;
use std::time::Duration;

impl Identity {
    /// A ticket for `purpose` that stands for `p` (same user, same scopes) once, within `ttl`.
    pub async fn mint_ticket(&self, p: &Principal, purpose: &str, ttl: Duration) -> Result<String> {
        let ticket = opaque_token();
        let scopes: Vec<&str> = p.scopes.iter().map(|s| s.as_str()).collect();
        let rec = TicketRecord { user_id: p.user_id, purpose: purpose.to_owned(), scopes: scopes.join(" ") };
        self.db().create_ticket(&sha256_hex(ticket.as_bytes()), &rec, self.now().plus(ttl)).await?;
        Ok(ticket)
    }

    /// The principal a ticket stands for; the ticket is used up whether or not it holds.
    pub async fn redeem_ticket(&self, ticket: &str, purpose: &str) -> Result<Principal> {
        if ticket.is_empty() || ticket.len() > 128 {
            return Err(IdentityError::InvalidToken("malformed ticket"));
        }
        let rec = self
            .db()
            .take_ticket(&sha256_hex(ticket.as_bytes()), self.now())
            .await?
            .filter(|r| r.purpose == purpose)
            .ok_or(IdentityError::InvalidToken("unknown, used or expired ticket"))?;
        let user = self.db().user_by_id(rec.user_id).await?.ok_or(IdentityError::InvalidToken("user gone"))?;
        if user.status != UserStatus::Active {
            return Err(IdentityError::InvalidToken("user disabled"));
        }
        let scopes = rec.scopes.split_whitespace().filter_map(Scope::parse).collect();
        let groups = user.groups.clone();
        Ok(Self::principal(user, groups, scopes, AuthMethod::Ticket))
    }
}
