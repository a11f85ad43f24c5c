//! Sentiment of final segments with VADER (Hutto & Gilbert's lexicon and rules, through
//! `vader-parity`, which matches the Python reference exactly), labelled as LMA's (Comprehend's)
//! labels, and aggregated per channel and per quarter of the meeting (LMA's trend chart).

use crate::segment::{ChannelRole, Segment, SentimentLabel, SentimentScore};
use serde::Serialize;
use std::sync::LazyLock;
use vader_parity::SentimentIntensityAnalyzer;

static ANALYZER: LazyLock<SentimentIntensityAnalyzer> = LazyLock::new(SentimentIntensityAnalyzer::new);

/// VADER's own thresholds for a positive or negative compound score.
const THRESHOLD: f64 = 0.05;
/// Both positive and negative words carry at least this share: the text is mixed.
const MIXED: f64 = 0.2;

/// The sentiment of one utterance.
pub fn score(text: &str) -> (SentimentLabel, SentimentScore) {
    let s = ANALYZER.polarity_scores(text);
    let mixed = if s.pos >= MIXED && s.neg >= MIXED { s.pos.min(s.neg) * 2.0 } else { 0.0 };
    let label = if mixed > 0.0 {
        SentimentLabel::Mixed
    } else if s.compound >= THRESHOLD {
        SentimentLabel::Positive
    } else if s.compound <= -THRESHOLD {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    };
    (label, SentimentScore { positive: s.pos, negative: s.neg, neutral: s.neu, mixed, compound: s.compound })
}

/// Average compound sentiment (-1 to 1) over some segments, and how many there were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Average {
    pub compound: f64,
    pub segments: u32,
}

impl Average {
    fn add(&mut self, compound: f64) {
        self.compound = (self.compound * f64::from(self.segments) + compound) / f64::from(self.segments + 1);
        self.segments += 1;
    }
}

/// A meeting's sentiment: per channel, and per channel and quarter of the meeting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentimentSummary {
    pub caller: Average,
    pub agent: Average,
    /// Four averages each, first quarter of the meeting first.
    pub caller_quarters: [Average; 4],
    pub agent_quarters: [Average; 4],
}

/// Aggregates the scored final segments of a meeting that lasted `duration` seconds.
pub fn summarize(segments: &[Segment], duration: f64) -> SentimentSummary {
    let mut out = SentimentSummary::default();
    let quarter = (duration / 4.0).max(f64::EPSILON);
    for s in segments.iter().filter(|s| !s.is_partial) {
        let Some(sc) = s.sentiment_score else { continue };
        let mid = (s.start_time + s.end_time) / 2.0;
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to 0..=3")]
        let q = (mid / quarter).floor().clamp(0.0, 3.0) as usize;
        let (all, quarters) = match s.channel {
            ChannelRole::Caller => (&mut out.caller, &mut out.caller_quarters),
            ChannelRole::Agent => (&mut out.agent, &mut out.agent_quarters),
            ChannelRole::AgentAssistant => continue,
        };
        all.add(sc.compound);
        quarters[q].add(sc.compound);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(score("This is a great plan, thank you!").0, SentimentLabel::Positive);
        assert_eq!(score("This is terrible and I am angry.").0, SentimentLabel::Negative);
        assert_eq!(score("The meeting starts at ten.").0, SentimentLabel::Neutral);
        assert_eq!(score("Good news and bad news.").0, SentimentLabel::Mixed);
    }

    #[test]
    fn quarters() {
        let mk = |ch, start: f64, text: &str| {
            let (l, s) = score(text);
            Segment {
                segment_id: format!("{start}"),
                channel: ch,
                speaker: "x".into(),
                start_time: start,
                end_time: start + 1.0,
                transcript: text.into(),
                is_partial: false,
                sentiment: Some(l),
                sentiment_score: Some(s),
            }
        };
        let segs = [
            mk(ChannelRole::Caller, 0.0, "great"),
            mk(ChannelRole::Caller, 90.0, "terrible"),
            mk(ChannelRole::Agent, 50.0, "fine thanks"),
        ];
        let s = summarize(&segs, 100.0);
        assert_eq!(s.caller.segments, 2);
        assert_eq!(s.caller_quarters[0].segments, 1);
        assert!(s.caller_quarters[0].compound > 0.0 && s.caller_quarters[3].compound < 0.0);
        assert_eq!(s.agent_quarters[2].segments, 1);
    }
}
