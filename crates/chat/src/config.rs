//! The chat service's settings.

#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// Allowed feedback reasons (GAIA's `userFeedback.reasons`).
    pub feedback_reasons: Vec<String>,
    /// A session's title is its first user message, cut to this many characters.
    pub title_chars: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            feedback_reasons: ["accuracy", "unhelpful", "app_issue", "other"].map(String::from).to_vec(),
            title_chars: 100,
        }
    }
}
