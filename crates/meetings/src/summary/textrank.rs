//! The extractive summary, for when no model is configured: TextRank (Mihalcea & Tarau, 2004)
//! over the sentences of the final segments picks the key points, and sentences that say what
//! someone will do are listed as possible action items. Nothing is written that was not said.
//!
//! Hand-written (about a hundred lines) rather than a dependency: the crates that do it pull in
//! tokenizers or models we do not need, and this is deterministic, small and tested. Similarity
//! is the paper's: shared words over the sum of the logarithms of the sentences' lengths, with
//! stop words left out; PageRank with damping 0.85. Pairs are found through an index of words,
//! so a one-hour meeting (about 1,500 sentences) takes milliseconds.

use super::SummarySection;
use crate::segment::Segment;
use std::collections::HashMap;

/// Key points shown at most.
const KEY_POINTS: usize = 8;
/// Possible action items shown at most.
const ACTIONS: usize = 15;
/// Sentences with fewer words are not picked ("Okay.", "Thanks everyone.").
const MIN_WORDS: usize = 4;

const STOP: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but",
    "by", "can", "could", "did", "do", "does", "for", "from", "get", "got", "had", "has", "have", "he", "her", "here",
    "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "know", "like", "me", "my", "no", "not",
    "now", "of", "oh", "ok", "okay", "on", "one", "or", "our", "out", "really", "right", "she", "so", "some", "that",
    "the", "their", "them", "then", "there", "they", "think", "this", "to", "um", "uh", "up", "us", "very", "was",
    "we", "well", "were", "what", "when", "which", "who", "will", "with", "would", "yeah", "yes", "you", "your",
];

/// Phrases that announce something someone will do.
const ACTION_CUES: &[&str] = &[
    "i will",
    "i'll",
    "we will",
    "we'll",
    "you will",
    "you'll",
    "will send",
    "will follow",
    "action item",
    "to do",
    "todo",
    "follow up",
    "follow-up",
    "by monday",
    "by tuesday",
    "by wednesday",
    "by thursday",
    "by friday",
    "by tomorrow",
    "by next week",
    "by the end of",
    "deadline",
    "due date",
    "needs to",
    "need to",
    "let's make sure",
    "assign",
    "take care of",
];

struct Sentence<'a> {
    seg: &'a Segment,
    text: String,
    words: Vec<usize>,
}

/// The words of `text` that carry meaning: lowercased, stop words left out (also what the meeting
/// assistant matches questions with).
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty() && !STOP.contains(&w.as_str()))
}

/// The segments' sentences, each with its distinct words as ids.
fn sentences(segments: &[Segment]) -> Vec<Sentence<'_>> {
    let mut vocab: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for seg in segments {
        for raw in seg.transcript.split_inclusive(['.', '!', '?']) {
            let text = raw.trim();
            if text.is_empty() {
                continue;
            }
            let mut ids = Vec::new();
            for w in words(text) {
                let next = vocab.len();
                ids.push(*vocab.entry(w).or_insert(next));
            }
            ids.sort_unstable();
            ids.dedup();
            out.push(Sentence { seg, text: text.to_owned(), words: ids });
        }
    }
    out
}

/// TextRank scores of the sentences.
fn rank(s: &[Sentence<'_>]) -> Vec<f64> {
    let n = s.len();
    let mut postings: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, x) in s.iter().enumerate() {
        for w in &x.words {
            postings.entry(*w).or_default().push(i);
        }
    }
    let len = |i: usize| (s[i].words.len().max(1) as f64).ln();
    let mut edges: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    let mut shared = vec![0u32; n];
    for i in 0..n {
        let mut touched = Vec::new();
        for w in &s[i].words {
            for &j in postings.get(w).map_or(&[][..], Vec::as_slice) {
                if j > i {
                    if shared[j] == 0 {
                        touched.push(j);
                    }
                    shared[j] += 1;
                }
            }
        }
        for j in touched {
            let denom = len(i) + len(j);
            if denom > 0.0 {
                let w = f64::from(shared[j]) / denom;
                edges[i].push((j, w));
                edges[j].push((i, w));
            }
            shared[j] = 0;
        }
    }
    let out_weight: Vec<f64> = edges.iter().map(|e| e.iter().map(|(_, w)| w).sum()).collect();
    let mut score = vec![1.0; n];
    for _ in 0..30 {
        let next: Vec<f64> = (0..n)
            .map(|i| 0.15 + 0.85 * edges[i].iter().map(|&(j, w)| w / out_weight[j] * score[j]).sum::<f64>())
            .collect();
        let delta: f64 = next.iter().zip(&score).map(|(a, b)| (a - b).abs()).sum();
        score = next;
        if delta < 1e-6 {
            break;
        }
    }
    score
}

/// Markdown-escaped text (what was said is shown as said).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn bullet(x: &Sentence<'_>) -> String {
    let t = x.seg.start_time.max(0.0) as u64;
    let at = format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
    format!("- **{}** ({at}): {}", escape(&x.seg.speaker), escape(&x.text))
}

/// The extractive summary's sections: key points, and possible action items.
pub fn extractive(segments: &[Segment]) -> Vec<SummarySection> {
    let all = sentences(segments);
    // Sentences of stop words only ("Okay.") take no part.
    let long: Vec<Sentence<'_>> = all.into_iter().filter(|s| !s.words.is_empty()).collect();
    let scores = rank(&long);
    let mut order: Vec<usize> =
        (0..long.len()).filter(|&i| long[i].text.split_whitespace().count() >= MIN_WORDS).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(KEY_POINTS);
    order.sort_unstable();
    let key = match order.is_empty() {
        true => "Nothing long enough was said to pick key points from.".to_owned(),
        false => order.iter().map(|&i| bullet(&long[i])).collect::<Vec<_>>().join("\n"),
    };
    let actions: Vec<String> = long
        .iter()
        .filter(|s| {
            let l = s.text.to_lowercase();
            ACTION_CUES.iter().any(|c| l.contains(c))
        })
        .take(ACTIONS)
        .map(bullet)
        .collect();
    let actions = match actions.is_empty() {
        true => "No sentence that announces an action was found.".to_owned(),
        false => actions.join("\n"),
    };
    vec![
        SummarySection { key: "SUMMARY".into(), title: "Key points".into(), markdown: key },
        SummarySection { key: "ACTIONS".into(), title: "Possible action items".into(), markdown: actions },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::ChannelRole;

    fn seg(t: f64, speaker: &str, text: &str) -> Segment {
        crate::segment::tests::on(ChannelRole::Caller, &format!("s{t}"), speaker, t, t + 1.0, text, false)
    }

    #[test]
    fn central_sentences_are_picked_in_time_order_and_actions_by_cue() {
        let mut segs = vec![
            seg(0.0, "Ana", "Welcome everyone. Okay."),
            seg(5.0, "Bo", "The budget review for the launch budget is the main topic today."),
            seg(10.0, "Cy", "My cat sat on the keyboard this morning, sorry about that."),
            seg(15.0, "Ana", "The launch budget needs a review before the launch date."),
            seg(20.0, "Bo", "I will send the revised launch budget by Friday."),
        ];
        for i in 0..20 {
            segs.push(seg(
                30.0 + f64::from(i),
                "Dee",
                &format!("Filler remark number {i} about weather patterns elsewhere."),
            ));
        }
        let s = extractive(&segs);
        assert_eq!(s[0].key, "SUMMARY");
        let key = &s[0].markdown;
        assert!(key.contains("**Bo** (00:00:05): The budget review"), "{key}");
        assert!(key.find("00:00:05").unwrap() < key.find("00:00:15").unwrap(), "time order: {key}");
        assert!(!key.contains("Okay."), "too short to be a key point: {key}");
        assert_eq!(s[1].markdown, "- **Bo** (00:00:20): I will send the revised launch budget by Friday.");
    }

    #[test]
    fn nothing_said_and_markdown_in_speech() {
        let s = extractive(&[]);
        assert!(s[0].markdown.starts_with("Nothing long enough"));
        let s = extractive(&[seg(0.0, "A_b", "We will *really* ship [this] <b>soon</b> today.")]);
        assert!(
            s[1].markdown.contains(r"We will \*really\* ship \[this\] \<b\>soon\</b\> today."),
            "{}",
            s[1].markdown
        );
        assert!(s[1].markdown.contains(r"**A\_b**"));
    }
}
