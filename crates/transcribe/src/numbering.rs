//! Transcribe's results as the port's hypotheses. Transcribe names each segment of speech by a
//! `ResultId`: the partial results of a segment and its final one share it, and a new segment
//! gets a new one. The port numbers utterances from 0 in the order they start, a partial and
//! its final sharing the number; so each `ResultId` seen for the first time takes the next
//! number, kept until its final.

use aws_sdk_transcribestreaming::types::{Result as TranscribeResult, TranscriptEvent};
use rampart_core::speech::Hypothesis;
use std::collections::HashMap;

/// The numbers of the segments still open, and the next number.
#[derive(Debug, Default)]
pub struct Numbering {
    open: HashMap<String, u64>,
    next: u64,
}

impl Numbering {
    /// One result (`id` absent: a segment of its own).
    pub fn hypothesis(&mut self, id: Option<&str>, start: f64, end: f64, partial: bool, text: &str) -> Hypothesis {
        let utterance = match id.and_then(|i| self.open.get(i).copied()) {
            Some(n) => n,
            None => {
                let n = self.next;
                self.next += 1;
                if let (Some(i), true) = (id, partial) {
                    self.open.insert(i.to_owned(), n);
                }
                n
            }
        };
        if !partial && let Some(i) = id {
            self.open.remove(i);
        }
        Hypothesis { utterance, text: text.to_owned(), start, end: end.max(start), is_final: !partial }
    }

    /// The hypotheses of one `TranscriptEvent`, in order (the first alternative of each result).
    pub fn event(&mut self, ev: &TranscriptEvent) -> Vec<Hypothesis> {
        let results: &[TranscribeResult] = ev.transcript().map(|t| t.results()).unwrap_or_default();
        results
            .iter()
            .map(|r| {
                let text = r.alternatives().first().and_then(|a| a.transcript()).unwrap_or_default();
                self.hypothesis(r.result_id(), r.start_time(), r.end_time(), r.is_partial(), text)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_and_its_final_share_a_number_and_the_next_segment_takes_the_next() {
        let mut n = Numbering::default();
        let a = n.hypothesis(Some("a"), 0.5, 1.0, true, "hello");
        let a2 = n.hypothesis(Some("a"), 0.5, 1.5, true, "hello there");
        let b = n.hypothesis(Some("b"), 2.0, 2.2, true, "how");
        let af = n.hypothesis(Some("a"), 0.5, 1.6, false, "Hello there.");
        let bf = n.hypothesis(Some("b"), 2.0, 2.5, false, "How are you?");
        let c = n.hypothesis(None, 3.0, 3.5, false, "Fine.");
        let got: Vec<(u64, bool)> = [a, a2, b, af.clone(), bf, c].iter().map(|h| (h.utterance, h.is_final)).collect();
        assert_eq!(got, vec![(0, false), (0, false), (1, false), (0, true), (1, true), (2, true)]);
        assert_eq!((af.start, af.end, af.text.as_str()), (0.5, 1.6, "Hello there."));
        assert!(n.open.is_empty(), "finals close their segments");
        // A final never seen as partial is a new utterance.
        assert_eq!(n.hypothesis(Some("d"), 4.0, 4.5, false, "Bye.").utterance, 3);
    }
}
