//! The vocabulary of the audit log shared by everything that writes or reads it.

use serde::{Deserialize, Serialize};

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    /// Done.
    Success,
    /// Attempted and failed (a wrong password, a bad code).
    Failure,
    /// Refused by a rule (the last administrator, one's own account, a domain not allowed).
    Denied,
    /// Refused because of a lockout.
    Locked,
    /// A sign-in that continues with a second factor.
    Challenge,
}

impl AuditOutcome {
    pub const ALL: [AuditOutcome; 5] = [
        AuditOutcome::Success,
        AuditOutcome::Failure,
        AuditOutcome::Denied,
        AuditOutcome::Locked,
        AuditOutcome::Challenge,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Locked => "locked",
            AuditOutcome::Challenge => "challenge",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for o in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), serde_json::json!(o.as_str()));
        }
        assert_eq!(AuditOutcome::parse("ok"), None);
    }
}
