//! Structure-aware chunking of a [`Parsed`] document.
//!
//! The document's text is its blocks joined by [`SEPARATOR`] ([`full_text`]); every chunk is a
//! contiguous span of it, `text == full_text[start..end]` counted in characters, so a citation
//! can point back. Packing rules, in order:
//! - whole blocks are packed up to `target` units; a block longer than that is split at sentence
//!   ends, then at whitespace, then (a single word longer than the target) at characters;
//! - a top-level heading (the document's smallest heading level) always starts a new chunk, and
//!   any other heading does once the chunk is half full; a chunk never ends with a heading —
//!   headings travel into the chunk whose text they start;
//! - a page change starts a new chunk once the current one is half full, so chunks follow
//!   pages without producing a tiny chunk for each short page;
//! - a chunk that follows a split made for size (not at a heading) starts with up to `overlap`
//!   units of the previous chunk's tail, from a sentence start when one leaves at least half the
//!   overlap, else from a word start; overlap never reaches back past the chunk's section
//!   heading or the previous chunk's start.
//!
//! Sizes are measured on the span itself: characters, or whitespace-separated words.

use crate::parse::{Block, BlockKind, Parsed};
use serde::{Deserialize, Serialize};

/// What sizes are counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Chars,
    /// Whitespace-separated tokens.
    Words,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkConfig {
    /// Most units of a chunk's own text (0 is taken as 1).
    pub target: usize,
    /// Units carried over from the previous chunk; at most `target - 1` is used.
    pub overlap: usize,
    pub unit: Unit,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self { target: 1_000, overlap: 150, unit: Unit::Chars }
    }
}

/// A span of the document's [`full_text`], with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    /// Page of the first character (PDF).
    pub page: Option<u32>,
    /// Page of the last character (PDF).
    pub page_end: Option<u32>,
    /// The deepest section containing the whole chunk (the common prefix of its blocks'
    /// heading paths) joined with " › "; a chunk that packs two short subsections of "A" is in
    /// "A". `None` before the first heading.
    pub section: Option<String>,
    /// Character (not byte) offsets into [`full_text`], end exclusive.
    pub start: usize,
    pub end: usize,
}

/// Between blocks in [`full_text`].
pub const SEPARATOR: &str = "\n\n";

/// The text chunk spans index into: the blocks joined by [`SEPARATOR`].
pub fn full_text(parsed: &Parsed) -> String {
    let texts: Vec<&str> = parsed.blocks.iter().map(|b| b.text.as_str()).collect();
    texts.join(SEPARATOR)
}

/// A piece of one block, never split further; byte offsets into the full text.
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: usize,
    end: usize,
    size: usize,
    block: usize,
    /// Level, when the piece is a whole heading block.
    heading: Option<u8>,
}

/// Splits `parsed` into chunks; see the module documentation for the rules.
pub fn chunk(parsed: &Parsed, cfg: &ChunkConfig) -> Vec<Chunk> {
    let target = cfg.target.max(1);
    let overlap = cfg.overlap.min(target - 1);
    let full = full_text(parsed);
    let pieces = pieces(parsed, &full, target, cfg.unit);
    if pieces.is_empty() {
        return Vec::new();
    }
    let top_level = parsed
        .blocks
        .iter()
        .filter_map(|b| match b.kind {
            BlockKind::Heading { level } => Some(level),
            _ => None,
        })
        .min();
    let ranges = pack(parsed, &full, &pieces, target, cfg.unit, top_level);

    let mut starts = CharCursor::default();
    let mut ends = CharCursor::default();
    let mut out = Vec::with_capacity(ranges.len());
    for (k, &(a, b)) in ranges.iter().enumerate() {
        let own_start = pieces[a].start;
        let end = pieces[b - 1].end;
        let mut start = own_start;
        if k > 0 && overlap > 0 && pieces[a].heading.is_none() {
            let previous = pieces[ranges[k - 1].0].start;
            let section = pieces[..a].iter().rev().find(|p| p.heading.is_some()).map_or(0, |p| p.start);
            start = overlap_start(&full, previous.max(section), own_start, overlap, cfg.unit);
        }
        let first = pieces[pieces.partition_point(|p| p.start <= start).saturating_sub(1)].block;
        let last = pieces[b - 1].block;
        let section = common_path(&parsed.blocks[first..=last]);
        out.push(Chunk {
            text: full[start..end].to_string(),
            page: parsed.blocks[first].page,
            page_end: parsed.blocks[last].page,
            section: (!section.is_empty()).then(|| section.join(" › ")),
            start: starts.advance(&full, start),
            end: ends.advance(&full, end),
        });
    }
    out
}

/// The deepest section containing all of `blocks`: the common prefix of their heading paths.
fn common_path(blocks: &[Block]) -> &[String] {
    let Some((head, rest)) = blocks.split_first() else { return &[] };
    let mut path = head.heading_path.as_slice();
    for b in rest {
        let n = path.iter().zip(&b.heading_path).take_while(|(x, y)| x == y).count();
        path = &path[..n];
    }
    path
}

fn measure(s: &str, unit: Unit) -> usize {
    match unit {
        Unit::Chars => s.chars().count(),
        Unit::Words => s.split_whitespace().count(),
    }
}

/// Converts increasing byte offsets to character offsets in one forward pass.
#[derive(Default)]
struct CharCursor {
    byte: usize,
    chars: usize,
}

impl CharCursor {
    fn advance(&mut self, text: &str, byte: usize) -> usize {
        self.chars += text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

/// Every block as one piece, or split into pieces of at most `target` units.
fn pieces(parsed: &Parsed, full: &str, target: usize, unit: Unit) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, block) in parsed.blocks.iter().enumerate() {
        let (start, end) = (offset, offset + block.text.len());
        offset = end + SEPARATOR.len();
        let heading = match block.kind {
            BlockKind::Heading { level } => Some(level),
            _ => None,
        };
        let Some((s, e)) = trim(full, start, end) else { continue };
        let size = measure(&full[s..e], unit);
        if size <= target {
            out.push(Piece { start: s, end: e, size, block: i, heading });
            continue;
        }
        let mut segments = Vec::new();
        for (a, b) in sentences(full, s, e) {
            if measure(&full[a..b], unit) <= target {
                segments.push((a, b));
                continue;
            }
            for (wa, wb) in words(full, a, b) {
                hard_split(full, wa, wb, target, unit, &mut segments);
            }
        }
        for (a, b, size) in pack_segments(full, &segments, target, unit) {
            out.push(Piece { start: a, end: b, size, block: i, heading: None });
        }
    }
    out
}

/// `start..end` without surrounding whitespace; `None` if nothing is left.
fn trim(full: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let s = &full[start..end];
    let t = s.trim_start();
    let s2 = start + (s.len() - t.len());
    let e2 = s2 + t.trim_end().len();
    (s2 < e2).then_some((s2, e2))
}

/// Sentences of `start..end`: ends after `.`, `!`, `?`, `…` (or their CJK forms) followed by
/// whitespace or a CJK end, and at line breaks. Trimmed, never empty.
fn sentences(full: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let text = &full[start..end];
    let mut out = Vec::new();
    let mut from = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let cut = match c {
            '。' | '！' | '？' => true,
            '.' | '!' | '?' | '…' | ';' => next.is_some_and(char::is_whitespace),
            '\n' => true,
            _ => false,
        };
        if cut {
            let to = i + c.len_utf8();
            out.extend(trim(full, start + from, start + to));
            from = to;
        }
    }
    out.extend(trim(full, start + from, end));
    out
}

/// Whitespace-separated words of `start..end`.
fn words(full: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let text = &full[start..end];
    let mut out = Vec::new();
    let mut word: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), word) {
            (true, Some(w)) => {
                out.push((start + w, start + i));
                word = None;
            }
            (false, None) => word = Some(i),
            _ => {}
        }
    }
    if let Some(w) = word {
        out.push((start + w, end));
    }
    out
}

/// Longest run of characters kept together in `Words` mode, where a single token always fits.
const MAX_WORD_CHARS: usize = 100;

/// A word, or pieces of it: `target` characters each (`Chars`), [`MAX_WORD_CHARS`] (`Words`).
fn hard_split(full: &str, start: usize, end: usize, target: usize, unit: Unit, out: &mut Vec<(usize, usize)>) {
    let max = match unit {
        Unit::Chars => target,
        Unit::Words => MAX_WORD_CHARS,
    };
    let mut from = start;
    let mut n = 0;
    for (i, _) in full[start..end].char_indices() {
        if n == max {
            out.push((from, start + i));
            (from, n) = (start + i, 0);
        }
        n += 1;
    }
    out.push((from, end));
}

/// Greedy packing of consecutive segments into spans of at most `target` units.
fn pack_segments(full: &str, segments: &[(usize, usize)], target: usize, unit: Unit) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    let mut cur: Option<(usize, usize, usize)> = None;
    for &(s, e) in segments {
        // A word cut by `hard_split` continues without a gap: in `Words` mode it is a token of its own.
        let size = match unit {
            Unit::Words => measure(&full[s..e], unit).max(1),
            Unit::Chars => measure(&full[s..e], unit),
        };
        cur = match cur {
            Some((cs, ce, csize)) => {
                let joined = csize + measure(&full[ce..s], unit) + size;
                if joined <= target {
                    Some((cs, e, joined))
                } else {
                    out.push((cs, ce, csize));
                    Some((s, e, size))
                }
            }
            None => Some((s, e, size)),
        };
    }
    out.extend(cur);
    out
}

/// Groups pieces into chunks: half-open ranges of piece indices.
fn pack(
    parsed: &Parsed,
    full: &str,
    pieces: &[Piece],
    target: usize,
    unit: Unit,
    top_level: Option<u8>,
) -> Vec<(usize, usize)> {
    let span_size = |a: usize, b: usize| -> usize {
        let gaps: usize = (a + 1..b).map(|i| measure(&full[pieces[i - 1].end..pieces[i].start], unit)).sum();
        pieces[a..b].iter().map(|p| p.size).sum::<usize>() + gaps
    };
    let page = |p: &Piece| parsed.blocks[p.block].page;
    let mut out = Vec::new();
    let (mut a, mut size) = (0, pieces[0].size);
    for i in 1..pieces.len() {
        let (p, prev) = (&pieces[i], &pieces[i - 1]);
        let joined = size + measure(&full[prev.end..p.start], unit) + p.size;
        let has_body = pieces[a..i].iter().any(|q| q.heading.is_none());
        let half_full = size * 2 >= target;
        let split = has_body
            && (joined > target
                || p.heading.is_some_and(|l| Some(l) <= top_level)
                || (p.heading.is_some() && half_full)
                || (page(p) != page(prev) && half_full));
        if !split {
            size = joined;
            continue;
        }
        // Headings at the end move on with the text they start.
        let mut c = i;
        while c > a + 1 && pieces[c - 1].heading.is_some() {
            c -= 1;
        }
        out.push((a, c));
        a = c;
        size = span_size(a, i + 1);
    }
    out.push((a, pieces.len()));
    out
}

/// Where the overlap of a chunk whose own text starts at `own` begins: at most `overlap` units
/// back, not before `floor`, at a sentence start when that keeps at least half the overlap.
fn overlap_start(full: &str, floor: usize, own: usize, overlap: usize, unit: Unit) -> usize {
    let region = &full[floor..own];
    // (byte offset, characters before it in the region) of each word start.
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut prev_ws = true;
    let mut n = 0;
    for (i, c) in region.char_indices() {
        if prev_ws && !c.is_whitespace() {
            starts.push((i, n));
        }
        prev_ws = c.is_whitespace();
        n += 1;
    }
    let total = n;
    let fits = |k: usize| match unit {
        Unit::Chars => total - starts[k].1 <= overlap,
        Unit::Words => starts.len() - k <= overlap,
    };
    let Some(first) = (0..starts.len()).find(|&k| fits(k)) else { return own };
    let is_sentence_start = |k: usize| {
        let before = &region[..starts[k].0];
        let gap = &before[before.trim_end().len()..];
        k == 0 && floor == 0
            || gap.contains('\n')
            || before.trim_end().ends_with(['.', '!', '?', '…', ';', ':', '。', '！', '？'])
    };
    let half = |k: usize| match unit {
        Unit::Chars => (total - starts[k].1) * 2 >= overlap,
        Unit::Words => (starts.len() - k) * 2 >= overlap,
    };
    let chosen = (first..starts.len()).find(|&k| is_sentence_start(k) && half(k)).unwrap_or(first);
    floor + starts[chosen].0
}
