//! `Principal`: who is calling, however they proved it.

use crate::ids::{ApiKeyId, TokenFamilyId, UserId};
use serde::{Deserialize, Serialize};

/// The built-in administrators' group.
pub const ADMIN_GROUP: &str = "admin";

/// What a credential may be used for. Session tokens carry every scope the user's groups
/// allow; API keys carry the scopes chosen when they were created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Chat sessions, messages, feedback and the OpenAI-compatible API.
    Chat,
    /// Knowledge bases: read and search.
    Knowledge,
    /// Meetings and transcripts.
    Meetings,
    /// The MCP endpoint.
    Mcp,
    /// Administration (only effective for members of `admin`).
    Admin,
}

impl Scope {
    pub const ALL: &'static [Scope] = &[Scope::Chat, Scope::Knowledge, Scope::Meetings, Scope::Mcp, Scope::Admin];
    /// The scopes an API key gets when none are requested: everything but `admin`.
    pub const DEFAULT_API_KEY: &'static [Scope] = &[Scope::Chat, Scope::Knowledge, Scope::Meetings, Scope::Mcp];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Chat => "chat",
            Scope::Knowledge => "knowledge",
            Scope::Meetings => "meetings",
            Scope::Mcp => "mcp",
            Scope::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

/// How the caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// An access token issued by this server; `family` is the sign-in it belongs to.
    Session { family: TokenFamilyId },
    /// An access token issued to a registered OAuth client: identity only (no API scopes, never
    /// accepted where a Rampart session is required) — unless it was granted for a `resource`
    /// (RFC 8707; today only the MCP endpoint, with the `mcp` scope), and then it is accepted
    /// at that resource alone.
    OAuthClient { family: TokenFamilyId, client_id: String, resource: Option<String> },
    /// An API key.
    ApiKey { key: ApiKeyId },
    /// A JWT from a configured external issuer.
    External { issuer: String },
    /// A single-use socket ticket, minted over HTTPS by one of the user's other credentials
    /// (browsers cannot send headers on WebSockets).
    Ticket,
}

impl AuthMethod {
    /// The resource an access token is bound to (its audience), if any.
    pub fn resource(&self) -> Option<&str> {
        match self {
            AuthMethod::OAuthClient { resource, .. } => resource.as_deref(),
            _ => None,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            AuthMethod::Session { .. } => "session",
            AuthMethod::OAuthClient { .. } => "oauth_client",
            AuthMethod::ApiKey { .. } => "api_key",
            AuthMethod::External { .. } => "external",
            AuthMethod::Ticket => "ticket",
        }
    }
}

/// The one identity every credential resolves to.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub scopes: Vec<Scope>,
    pub auth_method: AuthMethod,
    pub mfa_enabled: bool,
}

impl Principal {
    pub fn in_group(&self, g: &str) -> bool {
        self.groups.iter().any(|x| x == g)
    }
    pub fn has_scope(&self, s: Scope) -> bool {
        self.scopes.contains(&s)
    }
    /// Admin rights need both membership of `admin` and the `admin` scope, so an API key
    /// created without `admin` never acts as an administrator.
    pub fn is_admin(&self) -> bool {
        self.in_group(ADMIN_GROUP) && self.has_scope(Scope::Admin)
    }
}
