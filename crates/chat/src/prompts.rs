//! Each user's prompt library: prompts saved with a title, offered in the composer. Titles and
//! texts are sealed at rest, the prompt's id bound as associated data.

use crate::error::{ChatError, Result};
use crate::service::ChatService;
use rampart_core::{Page, PageRequest, PromptId, UserId};
use rampart_storage::repo::prompts::PromptRecord;
use serde::{Deserialize, Serialize};

/// Most prompts one user may save.
pub const MAX_PROMPTS: u32 = 200;
/// Longest title.
pub const MAX_PROMPT_TITLE: usize = 100;
/// Longest text.
pub const MAX_PROMPT_TEXT: usize = 20_000;

/// `POST /v1/me/prompts` and `PUT /v1/me/prompts/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptInput {
    /// 1-100 characters on one line.
    pub title: String,
    /// 1-20,000 characters.
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromptView {
    pub id: PromptId,
    pub title: String,
    pub text: String,
    /// Unix seconds.
    pub updated_at: i64,
}

fn title_aad(p: PromptId) -> Vec<u8> {
    format!("user_prompt_title:{p}").into_bytes()
}
fn body_aad(p: PromptId) -> Vec<u8> {
    format!("user_prompt_body:{p}").into_bytes()
}

fn check(i: &PromptInput) -> Result<(&str, &str)> {
    let title = i.title.trim();
    if title.is_empty() || title.chars().count() > MAX_PROMPT_TITLE || title.chars().any(char::is_control) {
        return Err(ChatError::Invalid(format!("title must be 1-{MAX_PROMPT_TITLE} characters on one line")));
    }
    if i.text.trim().is_empty() || i.text.chars().count() > MAX_PROMPT_TEXT {
        return Err(ChatError::Invalid(format!("text must be 1-{MAX_PROMPT_TEXT} characters")));
    }
    Ok((title, &i.text))
}

impl ChatService {
    fn prompt_view(&self, r: &PromptRecord) -> Result<PromptView> {
        Ok(PromptView {
            id: r.id,
            title: self.open(&title_aad(r.id), &r.sealed_title)?,
            text: self.open(&body_aad(r.id), &r.sealed_body)?,
            updated_at: r.updated_at.secs(),
        })
    }

    pub async fn create_prompt(&self, user: UserId, i: &PromptInput) -> Result<PromptView> {
        let (title, text) = check(i)?;
        let id = PromptId::new();
        let now = self.now();
        let r = PromptRecord {
            id,
            user_id: user,
            sealed_title: self.keyring().seal(&title_aad(id), title.as_bytes()),
            sealed_body: self.keyring().seal(&body_aad(id), text.as_bytes()),
            created_at: now,
            updated_at: now,
        };
        if !self.db().create_prompt(&r, MAX_PROMPTS).await? {
            return Err(ChatError::Limit(format!("a prompt library holds at most {MAX_PROMPTS} prompts")));
        }
        self.prompt_view(&r)
    }

    pub async fn list_prompts(&self, user: UserId, page: &PageRequest) -> Result<Page<PromptView>> {
        let p = self.db().list_prompts(user, page).await?;
        let items = p.items.iter().map(|r| self.prompt_view(r)).collect::<Result<Vec<_>>>()?;
        Ok(Page { items, next_cursor: p.next_cursor })
    }

    pub async fn get_prompt(&self, user: UserId, id: PromptId) -> Result<PromptView> {
        self.prompt_view(&self.db().prompt(user, id).await?.ok_or(ChatError::NotFound)?)
    }

    pub async fn update_prompt(&self, user: UserId, id: PromptId, i: &PromptInput) -> Result<PromptView> {
        let (title, text) = check(i)?;
        let (t, b) = (
            self.keyring().seal(&title_aad(id), title.as_bytes()),
            self.keyring().seal(&body_aad(id), text.as_bytes()),
        );
        if !self.db().update_prompt(user, id, &t, &b, self.now()).await? {
            return Err(ChatError::NotFound);
        }
        self.get_prompt(user, id).await
    }

    pub async fn delete_prompt(&self, user: UserId, id: PromptId) -> Result<()> {
        if self.db().delete_prompt(user, id).await? { Ok(()) } else { Err(ChatError::NotFound) }
    }
}
