//! Transcript segments with LMA's fields, and the transcript's export formats.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Which side of the meeting a segment came from (LMA's `Channel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelRole {
    /// Channel 0: the meeting (everyone but the user).
    Caller,
    /// Channel 1: the user's microphone.
    Agent,
    /// The meeting assistant's answers (LMA's `AGENT_ASSISTANT`), asked by the wake phrase.
    AgentAssistant,
}

impl ChannelRole {
    pub fn of_channel(ch: usize) -> Self {
        if ch == 0 { ChannelRole::Caller } else { ChannelRole::Agent }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelRole::Caller => "CALLER",
            ChannelRole::Agent => "AGENT",
            ChannelRole::AgentAssistant => "AGENT_ASSISTANT",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CALLER" => Some(ChannelRole::Caller),
            "AGENT" => Some(ChannelRole::Agent),
            "AGENT_ASSISTANT" => Some(ChannelRole::AgentAssistant),
            _ => None,
        }
    }
}

/// LMA's (Comprehend's) sentiment labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SentimentLabel {
    Positive,
    Negative,
    Neutral,
    Mixed,
}

/// Scores of a final segment's sentiment, each 0-1 (`Positive`, `Negative`, `Neutral`, `Mixed`)
/// and VADER's compound score, -1 to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SentimentScore {
    pub positive: f64,
    pub negative: f64,
    pub neutral: f64,
    pub mixed: f64,
    pub compound: f64,
}

/// A transcript segment, as LMA's clients read it (`ADD_TRANSCRIPT_SEGMENT`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Segment {
    /// Stable per utterance: a partial is replaced in place by the next hypothesis with the
    /// same id, and finally by the final one.
    pub segment_id: String,
    pub channel: ChannelRole,
    pub speaker: String,
    /// Seconds from the meeting's start.
    pub start_time: f64,
    pub end_time: f64,
    pub transcript: String,
    pub is_partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<SentimentLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment_score: Option<SentimentScore>,
}

/// What is sealed of a stored segment (the rest of it is in the clear for ordering).
#[derive(Serialize, Deserialize)]
pub(crate) struct SealedBody {
    pub speaker: String,
    pub transcript: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<SentimentLabel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment_score: Option<SentimentScore>,
}

/// The export formats of a transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TranscriptFormat {
    Json,
    Text,
    Srt,
    Vtt,
}

impl TranscriptFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            TranscriptFormat::Json => "application/json",
            TranscriptFormat::Text => "text/plain; charset=utf-8",
            TranscriptFormat::Srt => "application/x-subrip; charset=utf-8",
            TranscriptFormat::Vtt => "text/vtt; charset=utf-8",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            TranscriptFormat::Json => "json",
            TranscriptFormat::Text => "txt",
            TranscriptFormat::Srt => "srt",
            TranscriptFormat::Vtt => "vtt",
        }
    }
}

/// `h:mm:ss` + separator + milliseconds.
fn clock(secs: f64, sep: char) -> String {
    let ms = (secs.max(0.0) * 1000.0).round();
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "non-negative, rounded milliseconds")]
    let ms = ms as u64;
    format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// Cue text: one line, no cue-breaking sequences.
fn cue_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace("-->", "->")
}

/// The final segments as plain text, one line each: `[h:mm:ss] Speaker: text`.
pub fn to_text(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments.iter().filter(|s| !s.is_partial) {
        let t = clock(s.start_time, '.');
        let _ = writeln!(out, "[{}] {}: {}", &t[..8], s.speaker, cue_text(&s.transcript));
    }
    out
}

/// SubRip: numbered cues, `,` before the milliseconds.
pub fn to_srt(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().filter(|s| !s.is_partial).enumerate() {
        let _ = write!(
            out,
            "{}\n{} --> {}\n{}: {}\n\n",
            i + 1,
            clock(s.start_time, ','),
            clock(s.end_time.max(s.start_time), ','),
            cue_text(&s.speaker),
            cue_text(&s.transcript)
        );
    }
    out
}

/// WebVTT, the speaker as a voice span (escaped as cue text requires).
pub fn to_vtt(segments: &[Segment]) -> String {
    let esc = |s: &str| cue_text(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut out = String::from("WEBVTT\n\n");
    for s in segments.iter().filter(|s| !s.is_partial) {
        let _ = write!(
            out,
            "{} --> {}\n<v {}>{}\n\n",
            clock(s.start_time, '.'),
            clock(s.end_time.max(s.start_time), '.'),
            esc(&s.speaker),
            esc(&s.transcript)
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A segment without sentiment (tests here and of what is made of segments).
    pub(crate) fn on(ch: ChannelRole, id: &str, who: &str, start: f64, end: f64, text: &str, partial: bool) -> Segment {
        Segment {
            segment_id: id.into(),
            channel: ch,
            speaker: who.into(),
            start_time: start,
            end_time: end,
            transcript: text.into(),
            is_partial: partial,
            sentiment: None,
            sentiment_score: None,
        }
    }

    fn seg(id: &str, who: &str, start: f64, end: f64, text: &str, partial: bool) -> Segment {
        on(ChannelRole::Caller, id, who, start, end, text, partial)
    }

    #[test]
    fn formats() {
        let s = [
            seg("a", "Ana", 1.5, 3.25, "Hello  all", false),
            seg("b", "Bo", 3.5, 3.6, "ignored partial", true),
            seg("c", "Bo <x>", 3661.0, 3662.004, "a --> b & c", false),
        ];
        assert_eq!(to_text(&s), "[00:00:01] Ana: Hello all\n[01:01:01] Bo <x>: a -> b & c\n");
        assert_eq!(
            to_srt(&s),
            "1\n00:00:01,500 --> 00:00:03,250\nAna: Hello all\n\n2\n01:01:01,000 --> 01:01:02,004\nBo <x>: a -> b & c\n\n"
        );
        assert_eq!(
            to_vtt(&s),
            "WEBVTT\n\n00:00:01.500 --> 00:00:03.250\n<v Ana>Hello all\n\n01:01:01.000 --> 01:01:02.004\n<v Bo &lt;x&gt;>a -&gt; b &amp; c\n\n"
        );
    }

    #[test]
    fn lma_field_names() {
        let v = serde_json::to_value(seg("ch0-1", "Ana", 0.0, 1.0, "hi", true)).unwrap();
        for k in ["SegmentId", "Channel", "Speaker", "StartTime", "EndTime", "Transcript", "IsPartial"] {
            assert!(v.get(k).is_some(), "{k} in {v}");
        }
        assert_eq!(v["Channel"], "CALLER");
    }
}
