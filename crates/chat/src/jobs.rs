//! Async inference jobs (seed 003: long inference without holding a connection open): the
//! request returns a job id at once; the reply is computed in the background and stored sealed;
//! only the owner can read it. Jobs interrupted by a restart are marked failed at start-up.

use crate::assistants::{Assistant, Overrides};
use crate::error::{ChatError, Result};
use crate::service::ChatService;
use crate::turn::{Conversation, TurnRequest, whole_reply};
use rampart_core::llm::ChatMessage;
use rampart_core::{JobId, Timestamp, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub content: String,
    pub model_id: String,
    pub response_time_ms: i64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: JobId,
    /// `pending`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub assistant: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn aad(j: JobId) -> Vec<u8> {
    format!("job_result:{j}").into_bytes()
}

const FAILED: &str = "The model provider failed. Try again later.";

impl ChatService {
    /// Starts a job; returns its id at once.
    pub async fn submit_job(
        &self,
        p: &rampart_core::Principal,
        a: Arc<Assistant>,
        history: Vec<ChatMessage>,
        o: Overrides,
    ) -> Result<JobId> {
        let jid = JobId::new();
        self.db().create_job(jid, p.user_id, &a.id, self.now()).await?;
        let me = self.clone();
        let p = p.clone();
        tokio::spawn(async move {
            if let Err(e) = me.run_job(jid, a, &p, history, o).await {
                tracing::warn!(job = %jid, error = %e, "job failed");
                if let Err(e) = me.db().update_job(jid, "failed", None, Some(FAILED), me.now()).await {
                    tracing::error!(job = %jid, error = %e, "could not record a failed job");
                }
            }
        });
        Ok(jid)
    }

    async fn run_job(
        &self,
        jid: JobId,
        a: Arc<Assistant>,
        p: &rampart_core::Principal,
        history: Vec<ChatMessage>,
        o: Overrides,
    ) -> Result<()> {
        self.db().update_job(jid, "running", None, None, self.now()).await?;
        let started = std::time::Instant::now();
        let model_id = a.model_id().to_owned();
        let turn = TurnRequest {
            principal: p.clone(),
            assistant: a,
            conversation: Conversation::Messages(history),
            overrides: o,
            run: None,
            knowledge_bases: Vec::new(),
            tools: None,
            grounding: None,
        };
        let reply = whole_reply(self.start_turn(turn).await?).await?;
        let usage = reply.usage.unwrap_or_default();
        let result = JobResult {
            content: reply.text,
            model_id,
            response_time_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        };
        let json = serde_json::to_vec(&result)?;
        let sealed = self.keyring().seal(&aad(jid), &json);
        self.db().update_job(jid, "succeeded", Some(&sealed), None, self.now()).await?;
        Ok(())
    }

    /// One of the user's jobs; another user's id is "not found".
    pub async fn job(&self, user: UserId, jid: JobId) -> Result<JobView> {
        let j = self.db().job(user, jid).await?.ok_or(ChatError::NotFound)?;
        let result = match &j.sealed_result {
            Some(s) => {
                let bytes = self.keyring().open(&aad(j.id), s)?;
                Some(serde_json::from_slice(&bytes)?)
            }
            None => None,
        };
        Ok(JobView {
            id: j.id,
            status: j.status,
            assistant: j.assistant_id,
            created_at: j.created_at,
            updated_at: j.updated_at,
            result,
            error: j.error,
        })
    }

    /// At start-up: jobs a previous process left unfinished cannot complete any more.
    pub async fn fail_unfinished_jobs(&self) -> Result<u64> {
        Ok(self.db().fail_unfinished_jobs("Interrupted by a server restart; submit the job again.", self.now()).await?)
    }
}
