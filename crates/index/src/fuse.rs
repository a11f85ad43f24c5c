//! Reciprocal-rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009): each ranked list gives a
//! candidate `1 / (k + rank)`, summed over lists. Ranks, not scores, so BM25 and cosine
//! similarity need no calibration against each other.

use crate::IndexId;
use std::collections::HashMap;

/// The constant of the paper (and of most search engines that fuse this way).
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists (best first) into one, best first, with the fused scores. Ties keep the
/// order of first appearance, lists taken in the order given.
pub fn rrf<E: IndexId>(lists: &[&[E]], k: f32) -> Vec<(E, f32)> {
    let mut score: HashMap<E, (f32, usize)> = HashMap::new();
    let mut seen = 0usize;
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let e = score.entry(*id).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            e.0 += 1.0 / (k + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(E, f32, usize)> = score.into_iter().map(|(id, (s, first))| (id, s, first)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::ChunkId;

    #[test]
    fn agreement_wins_and_ties_keep_first_appearance() {
        let ids: Vec<ChunkId> = (0..5).map(|_| ChunkId::new()).collect();
        let (a, b, c, d, e) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        let lexical = [a, b, c];
        let dense = [d, b, e];
        let fused = rrf(&[&lexical, &dense], RRF_K);
        assert_eq!(fused[0].0, b, "in both lists");
        assert!((fused[0].1 - 2.0 / 62.0).abs() < 1e-6);
        // a and d both first in one list: a came first.
        assert_eq!(fused[1].0, a);
        assert_eq!(fused[2].0, d);
        assert_eq!(fused.len(), 5);
        assert!(rrf::<ChunkId>(&[], RRF_K).is_empty());
        assert_eq!(rrf(&[&lexical], RRF_K).iter().map(|x| x.0).collect::<Vec<_>>(), lexical.to_vec());
    }
}
