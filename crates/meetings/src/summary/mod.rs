//! Meeting summaries: written when a meeting ends (in the background) and when its owner or an
//! administrator asks again; one section per summary template, one model call per section
//! (`generate`, map-reduce for long transcripts); without a model, an extractive summary
//! (`textrank`), labelled as such. Sealed at rest with the meeting's id as associated data;
//! removed with the meeting and with its transcript.
//!
//! Durable: the request is stored before the work starts (`pending`), a job claims it
//! (`running`) and stores the outcome only while its generation is still the request's, and a
//! process that stops in between leaves it to the next start ([`MeetingService::resume_summaries`],
//! as unfinished meetings are ended at start-up). Then, if the meeting's end asked for it, the
//! meeting-end webhook is sent once ([`EndHook`]).
//!
//! Two ports: [`SummaryModels`] (which model, from the server's catalog) and [`EndHook`] (the
//! signed webhook, sent by the server through the edge's SSRF-safe client). And one seam for
//! meeting search: each stored summary is indexed (`index_summary`).

pub mod generate;
pub mod textrank;

use crate::error::{MeetingError, Result};
use crate::service::MeetingService;
use crate::templates::TemplateKind;
use crate::views::{MeetingStatus, MeetingView};
use rampart_core::embed::BoxFuture;
use rampart_core::llm::ChatModel;
use rampart_core::{MeetingKey, Principal, Timestamp};
use rampart_storage::repo::meetings::{MeetingAccess, MeetingRecord};
use rampart_storage::repo::summaries::{SummaryOutcome, SummaryRecord};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// Which model writes summaries now (`None`: extractive summaries). Asked at every summary, so
/// models administrators add or remove apply to the next one.
pub trait SummaryModels: Send + Sync + 'static {
    fn summary_model(&self) -> Option<Arc<dyn ChatModel>>;
}

/// Where the meeting-end webhook goes: the server signs `body` and posts it (retrying a few
/// times); `delivery` identifies it (the same on a redelivery).
pub trait EndHook: Send + Sync + 'static {
    fn deliver<'a>(&'a self, delivery: &'a str, body: Vec<u8>) -> BoxFuture<'a, std::result::Result<(), String>>;
}

/// One section of a summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SummarySection {
    /// The template's key (`SUMMARY`, `DETAILS`, `ACTIONS`…).
    pub key: String,
    pub title: String,
    /// Markdown.
    pub markdown: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SummaryStatus {
    /// None was asked for (a meeting that ended before summaries existed, or is live).
    None,
    /// Asked for; waiting for its turn.
    Pending,
    /// Being written.
    Running,
    Ready,
    /// The last attempt failed (`error` says why; the sections are the last good ones, if any).
    Failed,
}

/// `GET /v1/meetings/{id}/summary`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryView {
    pub status: SummaryStatus,
    /// Written without a model: sentences picked from the transcript (TextRank), not a model's
    /// words.
    pub extractive: bool,
    /// The model that wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The last good summary, in template order (kept while a new one is written).
    pub sections: Vec<SummarySection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What writing one summary did (the benchmark's figures).
#[derive(Clone, Copy, Debug, Default)]
pub struct SummaryReport {
    pub extractive: bool,
    pub sections: usize,
    pub model_calls: usize,
    pub map_calls: usize,
}

/// The summaries' ports and their jobs' limit (a field of the service).
pub(crate) struct Ports {
    models: OnceLock<Arc<dyn SummaryModels>>,
    hook: OnceLock<Arc<dyn EndHook>>,
    jobs: tokio::sync::Semaphore,
}

/// Summaries written at once on one replica (each makes up to `summary_concurrency` calls).
const JOBS_AT_ONCE: usize = 2;
/// A request not claimed or finished for this long is taken for abandoned (regenerating may
/// supersede it).
const STALE: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Jobs of one request a restart may resume before it is given up.
const MAX_ATTEMPTS: i64 = 3;
const FAILED_MODEL: &str = "The model provider failed. Regenerate the summary to try again later.";
const FAILED: &str = "The summary could not be written. Regenerate it to try again.";
const GAVE_UP: &str = "Writing the summary was interrupted several times. Regenerate it to try again.";

impl Default for Ports {
    fn default() -> Self {
        Self { models: OnceLock::new(), hook: OnceLock::new(), jobs: tokio::sync::Semaphore::new(JOBS_AT_ONCE) }
    }
}

fn aad(key: MeetingKey) -> Vec<u8> {
    format!("meeting_summary:{key}").into_bytes()
}

#[derive(Serialize, Deserialize)]
struct Body {
    sections: Vec<SummarySection>,
}

fn status(s: &str) -> SummaryStatus {
    match s {
        "pending" => SummaryStatus::Pending,
        "running" => SummaryStatus::Running,
        "ready" => SummaryStatus::Ready,
        _ => SummaryStatus::Failed,
    }
}

impl MeetingService {
    /// The model summaries are written with (set once at start-up; none: extractive).
    pub fn set_summary_models(&self, m: Arc<dyn SummaryModels>) {
        let _ = self.0.summaries.models.set(m);
    }

    /// The meeting-end webhook (set once at start-up, when one is configured).
    pub fn set_end_hook(&self, h: Arc<dyn EndHook>) {
        let _ = self.0.summaries.hook.set(h);
    }

    /// A meeting's summary, if the caller may read the meeting.
    pub async fn summary(&self, p: &Principal, call_id: &str) -> Result<SummaryView> {
        let m = self.readable(p, call_id).await?;
        self.summary_view(m.id).await
    }

    pub(crate) async fn summary_view(&self, key: MeetingKey) -> Result<SummaryView> {
        let Some(r) = self.db().meeting_summary(key).await? else {
            return Ok(SummaryView {
                status: SummaryStatus::None,
                extractive: false,
                model_id: None,
                sections: Vec::new(),
                generated_at: None,
                error: None,
            });
        };
        Ok(SummaryView {
            status: status(&r.status),
            extractive: r.extractive,
            model_id: r.model_id.clone(),
            sections: self.open_summary(&r)?,
            generated_at: r.generated_at,
            error: r.error,
        })
    }

    fn open_summary(&self, r: &SummaryRecord) -> Result<Vec<SummarySection>> {
        let Some(sealed) = &r.sealed_body else { return Ok(Vec::new()) };
        let plain = self.0.keyring.open(&aad(r.meeting_id), sealed)?;
        Ok(serde_json::from_slice::<Body>(&plain)?.sections)
    }

    /// Writes the summary again (owner or administrator), in the background: the answer is the
    /// summary as it is, `pending`.
    pub async fn regenerate_summary(&self, p: &Principal, call_id: &str) -> Result<SummaryView> {
        let m = self.changeable(p, call_id).await?;
        if m.status == MeetingStatus::Live.as_str() || m.status == MeetingStatus::Processing.as_str() {
            return Err(MeetingError::State("The meeting has not ended; its summary is written when it ends.".into()));
        }
        if m.transcript_deleted_at.is_some() {
            return Err(MeetingError::State("The transcript was removed by the retention period.".into()));
        }
        // One being written blocks another, unless it has not moved for long (its replica died
        // and none has restarted since to resume it).
        let stale = self.now().minus(STALE);
        let busy = self
            .db()
            .meeting_summary(m.id)
            .await?
            .is_some_and(|r| matches!(r.status.as_str(), "pending" | "running") && r.updated_at > stale);
        if busy {
            return Err(MeetingError::State("A summary is being written; wait for it to finish.".into()));
        }
        let generation = self.db().request_summary(m.id, false, self.now()).await?;
        self.spawn_summary(m.id, generation);
        self.summary_view(m.id).await
    }

    /// A meeting ended: its summary is asked for (with the webhook, when one is configured).
    pub(crate) async fn summarize_on_end(&self, key: MeetingKey) {
        let notify = self.0.summaries.hook.get().is_some();
        match self.db().request_summary(key, notify, self.now()).await {
            Ok(generation) => self.spawn_summary(key, generation),
            Err(e) => tracing::error!(meeting = %key, error = %e, "the meeting's summary could not be asked for"),
        }
    }

    /// At start-up (before unfinished meetings are ended): summaries a previous process left
    /// unfinished are written now; one interrupted too often is given up.
    pub async fn resume_summaries(&self) -> Result<usize> {
        let mut n = 0;
        for r in self.db().unfinished_summaries().await? {
            if r.attempts >= MAX_ATTEMPTS {
                let o = SummaryOutcome { status: "failed", error: Some(GAVE_UP), ..outcome(self.now()) };
                self.db().finish_summary(r.meeting_id, r.generation, &o).await?;
                self.notify_end(r.meeting_id, r.generation).await;
                continue;
            }
            self.spawn_summary(r.meeting_id, r.generation);
            n += 1;
        }
        Ok(n)
    }

    fn spawn_summary(&self, key: MeetingKey, generation: i64) {
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.run_summary(key, generation).await {
                tracing::error!(meeting = %key, error = %e, "a meeting summary failed");
            }
            me.notify_end(key, generation).await;
        });
    }

    /// Asks for a summary and writes it now (benchmarks; the webhook is not sent).
    pub async fn summarize_now(&self, key: MeetingKey) -> Result<SummaryReport> {
        let generation = self.db().request_summary(key, false, self.now()).await?;
        self.run_summary(key, generation).await.map(Option::unwrap_or_default)
    }

    /// The job: claims the request, writes the summary, stores it (or the failure).
    async fn run_summary(&self, key: MeetingKey, generation: i64) -> Result<Option<SummaryReport>> {
        let _turn = self.0.summaries.jobs.acquire().await;
        if !self.db().claim_summary(key, generation, self.now()).await? {
            return Ok(None);
        }
        let Some(rec) = self.db().meeting(MeetingAccess::Anyone, key).await? else { return Ok(None) };
        match self.write_summary(&rec).await {
            Ok((sections, model_id, report)) => {
                self.store_summary(&rec, generation, sections, model_id.as_deref(), report.extractive).await?;
                Ok(Some(report))
            }
            Err(e) => {
                let error = if matches!(e, MeetingError::Model(_)) { FAILED_MODEL } else { FAILED };
                let o = SummaryOutcome { status: "failed", error: Some(error), ..outcome(self.now()) };
                self.db().finish_summary(key, generation, &o).await?;
                Err(e)
            }
        }
    }

    async fn write_summary(&self, m: &MeetingRecord) -> Result<(Vec<SummarySection>, Option<String>, SummaryReport)> {
        let segments = self.said(m.id).await?;
        let model = self.0.summaries.models.get().and_then(|m| m.summary_model());
        let Some(model) = model.filter(|_| !segments.is_empty()) else {
            let sections = textrank::extractive(&segments);
            let report = SummaryReport { extractive: true, sections: sections.len(), ..SummaryReport::default() };
            return Ok((sections, None, report));
        };
        let templates = self.templates_in_effect(TemplateKind::Summary).await?;
        let lines: Vec<String> = crate::segment::to_text(&segments).lines().map(str::to_owned).collect();
        let c = self.config();
        let budget = generate::Budget {
            context_tokens: c.summary_context_tokens as usize,
            max_tokens: c.summary_max_tokens,
            concurrency: c.summary_concurrency,
        };
        let w = generate::with_model(model.as_ref(), &templates, lines, budget)
            .await
            .map_err(|e| MeetingError::Model(e.detail))?;
        let report = SummaryReport {
            extractive: false,
            sections: w.sections.len(),
            model_calls: w.model_calls,
            map_calls: w.map_calls,
        };
        Ok((w.sections, Some(model.model_id().to_owned()), report))
    }

    async fn store_summary(
        &self,
        m: &MeetingRecord,
        generation: i64,
        sections: Vec<SummarySection>,
        model_id: Option<&str>,
        extractive: bool,
    ) -> Result<()> {
        let text: Vec<String> = sections.iter().map(|s| format!("{}\n{}", s.title, s.markdown)).collect();
        let sealed = self.0.keyring.seal(&aad(m.id), &serde_json::to_vec(&Body { sections })?);
        let o = SummaryOutcome { extractive, model_id, sealed_body: Some(&sealed), ..outcome(self.now()) };
        if !self.db().finish_summary(m.id, generation, &o).await? {
            return Ok(());
        }
        // Searchable with its meeting (replacing the summary indexed before); a failure here
        // leaves the summary stored, and the index's upkeep does not redo it: logged.
        if let Err(e) = self.index_summary(m.id, &text.join("\n\n")).await {
            tracing::warn!(meeting = %m.id, error = %e, "a meeting's summary could not be indexed");
        }
        Ok(())
    }

    /// Sends the meeting-end webhook if this generation's job is the one to (once).
    async fn notify_end(&self, key: MeetingKey, generation: i64) {
        let Some(hook) = self.0.summaries.hook.get().cloned() else { return };
        match self.db().take_summary_notify(key, generation).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::error!(meeting = %key, error = %e, "the meeting-end webhook was not sent"),
        }
        let delivery = format!("{key}.{generation}");
        let body = match self.end_payload(key, &delivery).await {
            Ok(b) => b,
            Err(e) => return tracing::error!(meeting = %key, error = %e, "the meeting-end webhook was not sent"),
        };
        if let Err(e) = hook.deliver(&delivery, body).await {
            tracing::warn!(meeting = %key, error = %e, "the meeting-end webhook could not be delivered");
        }
    }

    /// The webhook's body (docs/meeting-webhook.md).
    async fn end_payload(&self, key: MeetingKey, delivery: &str) -> Result<Vec<u8>> {
        let rec = self.db().meeting(MeetingAccess::Anyone, key).await?.ok_or(MeetingError::NotFound)?;
        let meeting: MeetingView = self.view(&self.open(rec)?)?;
        let summary = self.summary_view(key).await?;
        Ok(serde_json::to_vec(&serde_json::json!({
            "event": "meeting.ended",
            "deliveryId": delivery,
            "sentAt": self.now(),
            "meeting": meeting,
            "summary": summary,
        }))?)
    }
}

/// A ready outcome with nothing in it yet (fields are filled in by the caller).
fn outcome<'a>(now: Timestamp) -> SummaryOutcome<'a> {
    SummaryOutcome { status: "ready", extractive: false, model_id: None, sealed_body: None, error: None, now }
}
