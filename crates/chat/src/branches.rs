//! Editing a sent question, regenerating an answer and switching between the branches this
//! makes; every branch is kept. The tree is storage's (`repo::branches`, where the design is
//! written down): each message follows a parent, the session has an active leaf, and the
//! history users read and the model sees is the path to it.
//!
//! - Edit question Q: a new question with Q's parent (Q stays, as its sibling); the reply
//!   follows the new question.
//! - Regenerate answer A: the model sees the path to A's question, and the new reply is stored
//!   under it, a sibling of A, and becomes the leaf; the question is not stored again. Until
//!   then A stays the leaf, so a reply that fails or is stopped before any output leaves the
//!   conversation as it was.
//! - Switch to message M (a sibling shown as "2 / 3"): the newest message below M becomes the
//!   leaf.

use crate::error::{ChatError, Result};
use crate::service::{ChatService, MAX_MESSAGE_CHARS, content_aad};
use rampart_core::{MessageId, SessionId, UserId};
use rampart_storage::repo::branches::{TreeNode, Under};
use rampart_storage::repo::chat::NewMessage;
use std::collections::HashMap;

/// A session's messages grouped by parent, to list each message's siblings.
pub(crate) struct Tree {
    children: HashMap<Option<MessageId>, Vec<MessageId>>,
}

impl Tree {
    pub(crate) fn new(nodes: Vec<TreeNode>) -> Self {
        let mut children: HashMap<Option<MessageId>, Vec<MessageId>> = HashMap::new();
        for n in nodes {
            children.entry(n.parent_id).or_default().push(n.id);
        }
        Self { children }
    }

    /// The message and its siblings, oldest first; empty when it has none.
    pub(crate) fn siblings(&self, id: MessageId, parent: Option<MessageId>) -> Vec<MessageId> {
        match self.children.get(&parent) {
            Some(all) if all.len() > 1 && all.contains(&id) => all.clone(),
            _ => Vec::new(),
        }
    }
}

impl ChatService {
    /// Stores `text` as an edit of the user's question `of` (a new question beside it), which
    /// becomes the active leaf. `None` if the session or the message is not theirs.
    pub async fn edit_question(
        &self,
        user: UserId,
        sid: SessionId,
        of: MessageId,
        text: &str,
    ) -> Result<Option<MessageId>> {
        if text.trim().is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(ChatError::Invalid(format!("text must be 1-{MAX_MESSAGE_CHARS} characters")));
        }
        let Some(old) = self.db().owned_message(user, sid, of).await? else { return Ok(None) };
        if old.role != "user" {
            return Err(ChatError::Invalid("only your own messages can be edited".into()));
        }
        let mid = MessageId::new();
        let sealed = self.keyring().seal(&content_aad(mid), text.as_bytes());
        let msg = NewMessage {
            id: mid,
            role: "user",
            sealed_content: &sealed,
            sealed_parts: None,
            model_id: None,
            response_time_ms: None,
        };
        let stored = self.db().append_under(sid, user, Under::Parent(old.parent_id), &[msg], self.now()).await?;
        Ok(stored.then_some(mid))
    }

    /// The question that answer `of` replied to (or `of` itself, when it is a question), for a
    /// new reply beside the old one. `None` if the session or the message is not theirs.
    pub async fn regenerate_from(&self, user: UserId, sid: SessionId, of: MessageId) -> Result<Option<MessageId>> {
        let Some(m) = self.db().owned_message(user, sid, of).await? else { return Ok(None) };
        let question = match (m.role.as_str(), m.parent_id) {
            ("user", _) => m.id,
            ("assistant", Some(q)) => q,
            _ => return Err(ChatError::Invalid("this message has no question to answer again".into())),
        };
        Ok(Some(question))
    }

    /// Shows the branch through `to` (the newest message below it becomes the active leaf).
    pub async fn switch_branch(&self, user: UserId, sid: SessionId, to: MessageId) -> Result<MessageId> {
        self.db().switch_branch(user, sid, to).await?.ok_or(ChatError::NotFound)
    }
}
