//! Service interruptions (GAIA bot management, seed 002): while one applies to a message's
//! service type (or `global` is active), the reply is the configured message and the model is
//! not called.

use crate::error::{ChatError, Result};
use crate::service::ChatService;
use rampart_core::{Timestamp, UserId};
use rampart_storage::repo::interruptions::InterruptionRecord;
use serde::{Deserialize, Serialize};

/// The service types (GAIA's, named after Rampart's assistant kinds).
pub const SERVICE_TYPES: &[&str] = &["global", "rag", "model", "custom", "agent"];
pub const MAX_MESSAGE: usize = 500;
pub const MAX_REASON: usize = 200;
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(7 * 86400);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    pub service_type: String,
    /// Shown to users instead of an answer; at most 500 characters.
    pub message: String,
    /// Why (for administrators); at most 200 characters.
    pub reason: String,
    /// How long: seconds, or a duration such as `"2h"`; at most 7 days.
    #[schema(value_type = String)]
    pub duration: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InterruptionStatus {
    pub service_type: String,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

fn status(service_type: &str, r: Option<&InterruptionRecord>) -> InterruptionStatus {
    InterruptionStatus {
        service_type: service_type.to_owned(),
        active: r.is_some(),
        message: r.map(|r| r.message.clone()),
        reason: r.map(|r| r.reason.clone()),
        activated_by: r.and_then(|r| r.activated_by.clone()),
        activated_at: r.map(|r| r.activated_at),
        expires_at: r.map(|r| r.expires_at),
    }
}

fn check_type(t: &str) -> Result<()> {
    if SERVICE_TYPES.contains(&t) {
        Ok(())
    } else {
        Err(ChatError::Invalid(format!("service_type must be one of: {}", SERVICE_TYPES.join(", "))))
    }
}

impl ChatService {
    pub async fn activate_interruption(
        &self,
        by: UserId,
        r: &ActivateRequest,
        duration: std::time::Duration,
    ) -> Result<InterruptionStatus> {
        check_type(&r.service_type)?;
        let message = r.message.trim();
        if message.is_empty() || message.chars().count() > MAX_MESSAGE {
            return Err(ChatError::Invalid(format!("message must be 1-{MAX_MESSAGE} characters")));
        }
        if r.reason.chars().count() > MAX_REASON {
            return Err(ChatError::Invalid(format!("reason must be at most {MAX_REASON} characters")));
        }
        if duration.is_zero() || duration > MAX_DURATION {
            return Err(ChatError::Invalid("duration must be more than 0 and at most 7 days".into()));
        }
        let now = self.now();
        let rec = InterruptionRecord {
            service_type: r.service_type.clone(),
            message: message.to_owned(),
            reason: r.reason.trim().to_owned(),
            activated_by: Some(by.to_string()),
            activated_at: now,
            expires_at: now.plus(duration),
        };
        self.db().put_interruption(&rec).await?;
        self.forget_interruptions();
        Ok(status(&rec.service_type, Some(&rec)))
    }

    /// Every service type with its status.
    pub async fn interruptions(&self) -> Result<Vec<InterruptionStatus>> {
        let active = self.db().active_interruptions(self.now()).await?;
        Ok(SERVICE_TYPES.iter().map(|t| status(t, active.iter().find(|a| a.service_type == *t))).collect())
    }

    pub async fn interruption(&self, service_type: &str) -> Result<InterruptionStatus> {
        check_type(service_type).map_err(|_| ChatError::NotFound)?;
        let active = self.db().active_interruptions(self.now()).await?;
        Ok(status(service_type, active.iter().find(|a| a.service_type == service_type)))
    }

    pub async fn deactivate_interruption(&self, service_type: &str) -> Result<()> {
        check_type(service_type).map_err(|_| ChatError::NotFound)?;
        let found = self.db().delete_interruption(service_type, self.now()).await?;
        self.forget_interruptions();
        if found { Ok(()) } else { Err(ChatError::NotFound) }
    }

    /// The message to answer with instead of calling the model, if `global` or the
    /// assistant's own service type is interrupted.
    /// The message of the interruption that applies to `service_type` (`global` first). Every
    /// reply asks, so the active list is remembered for [`INTERRUPTIONS_TTL`]: changes made
    /// through this process apply at once, other replicas' within that time.
    pub async fn interruption_message(&self, service_type: &str) -> Result<Option<String>> {
        let now = self.now();
        let cached = self.cached_interruptions();
        let active = match cached {
            Some(list) => list,
            None => {
                let list = std::sync::Arc::new(self.db().active_interruptions(now).await?);
                self.remember_interruptions(list.clone());
                list
            }
        };
        let live = |a: &&rampart_storage::repo::interruptions::InterruptionRecord| a.expires_at > now;
        Ok(active
            .iter()
            .filter(live)
            .find(|a| a.service_type == "global")
            .or_else(|| active.iter().filter(live).find(|a| a.service_type == service_type))
            .map(|a| a.message.clone()))
    }
}
