//! Typed identifiers: UUID v7 (time-ordered), parsed at the edge, never bare strings inside.

use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            pub fn parse(s: &str) -> Option<Self> {
                uuid::Uuid::parse_str(s).ok().map(Self)
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }
        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(/// A user account (local or provisioned from an external issuer).
    UserId);
typed_id!(/// A group of users.
    GroupId);
typed_id!(/// An API key.
    ApiKeyId);
typed_id!(/// A refresh-token family: one sign-in and all the refresh tokens rotated from it.
    TokenFamilyId);
typed_id!(/// An audit-log entry.
    AuditId);
typed_id!(/// A pending login challenge (TOTP or MFA setup).
    ChallengeId);
typed_id!(/// A chat session (a conversation).
    SessionId);
typed_id!(/// One message of a chat session.
    MessageId);
typed_id!(/// A feedback entry on an assistant message.
    FeedbackId);
typed_id!(/// A prompt a user saved in their prompt library.
    PromptId);
typed_id!(/// An async inference job.
    JobId);
typed_id!(/// A knowledge base.
    KnowledgeBaseId);
typed_id!(/// A document in a knowledge base.
    DocumentId);
typed_id!(/// A chunk of a document (the unit of retrieval and citation).
    ChunkId);
typed_id!(/// A meeting, as Rampart names it (its realtime channel, its recording's files); clients name
    /// it by the `callId` they started it with.
    MeetingKey);
typed_id!(/// A passage of a meeting (consecutive transcript segments of one speaker, or a part of its
    /// summary): the unit of meeting search and citation.
    PassageId);
