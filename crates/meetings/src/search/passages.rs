//! What meeting search indexes: a transcript's final segments grouped into passages (one
//! speaker's consecutive words, cut at a pause or a length), and a summary's text in passages of
//! paragraphs. Pure functions, so the grouping is tested on its own.

use crate::segment::{ChannelRole, Segment};

/// A passage grows to about this many characters (a segment is never split).
const MAX_CHARS: usize = 600;
/// A pause this long (milliseconds) between one speaker's segments starts a new passage.
const MAX_GAP_MS: i64 = 15_000;

/// A passage before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Draft {
    pub channel: Option<ChannelRole>,
    pub speaker: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub text: String,
}

#[expect(clippy::cast_possible_truncation, reason = "milliseconds of a meeting fit an i64")]
fn ms(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

/// Whether `s` continues the passage `d`: the same channel and speaker, soon after, and room
/// left.
fn continues(d: &Draft, s: &Segment) -> bool {
    d.channel == Some(s.channel)
        && d.speaker.as_deref() == Some(s.speaker.as_str())
        && ms(s.start_time) - d.end_ms.unwrap_or(0) <= MAX_GAP_MS
        && d.text.len() + 1 + s.transcript.len() <= MAX_CHARS
}

/// The passages of a transcript's final segments (partials and empty ones are left out), in
/// time order.
pub(crate) fn from_segments(segments: &[Segment]) -> Vec<Draft> {
    let mut finals: Vec<&Segment> =
        segments.iter().filter(|s| !s.is_partial && !s.transcript.trim().is_empty()).collect();
    finals.sort_by(|a, b| a.start_time.total_cmp(&b.start_time));
    let mut out: Vec<Draft> = Vec::new();
    for s in finals {
        let text = s.transcript.trim();
        match out.last_mut() {
            Some(d) if continues(d, s) => {
                d.text.push(' ');
                d.text.push_str(text);
                d.end_ms = Some(d.end_ms.unwrap_or(0).max(ms(s.end_time)));
            }
            _ => out.push(Draft {
                channel: Some(s.channel),
                speaker: Some(s.speaker.clone()),
                start_ms: Some(ms(s.start_time)),
                end_ms: Some(ms(s.end_time)),
                text: text.to_owned(),
            }),
        }
    }
    out
}

/// The passages of a summary: its paragraphs (blank-line separated), joined up to the passage
/// length.
pub(crate) fn from_summary(text: &str) -> Vec<Draft> {
    let mut out: Vec<Draft> = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        match out.last_mut() {
            Some(d) if d.text.len() + 2 + para.len() <= MAX_CHARS => {
                d.text.push_str("\n\n");
                d.text.push_str(para);
            }
            _ => out.push(Draft { channel: None, speaker: None, start_ms: None, end_ms: None, text: para.to_owned() }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::tests::on;

    fn seg(id: &str, ch: ChannelRole, who: &str, start: f64, end: f64, text: &str, partial: bool) -> Segment {
        on(ch, id, who, start, end, text, partial)
    }

    #[test]
    fn one_speakers_consecutive_words_make_a_passage_until_a_pause_a_turn_or_the_length() {
        use ChannelRole::{Agent, Caller};
        let long = "word ".repeat(130);
        let segs = vec![
            seg("3", Caller, "Bo", 4.0, 5.0, "and the budget.", false),
            seg("1", Caller, "Bo", 0.0, 1.5, "We looked at the roadmap", false),
            seg("2", Caller, "Bo", 1.5, 3.9, "for next quarter", false),
            seg("4", Agent, "Ana", 5.2, 6.0, "Sounds good.", false),
            seg("5", Agent, "Ana", 6.1, 6.5, "in progr", true),
            seg("6", Agent, "Ana", 30.0, 31.0, "After a long pause.", false),
            seg("7", Caller, "Cy", 32.0, 40.0, long.trim(), false),
            seg("8", Caller, "Cy", 40.0, 41.0, "More from Cy.", false),
            seg("9", Caller, "Cy", 41.0, 42.0, "  ", false),
        ];
        let p = from_segments(&segs);
        let texts: Vec<&str> = p.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts[0], "We looked at the roadmap for next quarter and the budget.");
        assert_eq!((p[0].start_ms, p[0].end_ms), (Some(0), Some(5000)));
        assert_eq!((p[0].channel, p[0].speaker.as_deref()), (Some(Caller), Some("Bo")));
        assert_eq!(texts[1], "Sounds good.", "another speaker; partials left out");
        assert_eq!(texts[2], "After a long pause.");
        assert_eq!(p[3].text.len(), long.trim().len());
        assert_eq!(texts[4], "More from Cy.", "past the length");
        assert_eq!(p.len(), 5, "empty segments left out");
    }

    #[test]
    fn a_summary_is_cut_at_paragraphs() {
        let para = "x".repeat(580);
        let text = format!("## Summary\n\nShort one.\n\n\n{para}\n\nlast");
        let p = from_summary(&text);
        assert_eq!(
            p.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
            vec!["## Summary\n\nShort one.", &format!("{para}\n\nlast"),]
        );
        assert!(p.iter().all(|d| d.start_ms.is_none() && d.speaker.is_none()));
        assert!(from_summary(" \n\n ").is_empty());
    }
}
