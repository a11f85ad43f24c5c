use crate::fixtures::{self, Lcg};
use rampart_knowledge::chunk::{Chunk, ChunkConfig, Unit, chunk, full_text};
use rampart_knowledge::parse::{Block, BlockKind, Format, Limits, Parsed, parse};

fn measure(s: &str, unit: Unit) -> usize {
    match unit {
        Unit::Chars => s.chars().count(),
        Unit::Words => s.split_whitespace().count(),
    }
}

fn slice(full: &str, start: usize, end: usize) -> String {
    full.chars().skip(start).take(end - start).collect()
}

/// Properties every chunking must have.
fn check(parsed: &Parsed, cfg: &ChunkConfig) -> Vec<Chunk> {
    let chunks = chunk(parsed, cfg);
    let full = full_text(parsed);
    let mut last_end = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert!(!c.text.trim().is_empty(), "empty chunk {i}");
        assert_eq!(c.text, slice(&full, c.start, c.end), "chunk {i} is not its span");
        assert_eq!(c.text.trim(), c.text, "chunk {i} has outer whitespace");
        assert!(c.end > last_end, "chunk {i} does not advance");
        assert!(c.page <= c.page_end);
        last_end = c.end;
    }
    // Every non-space character is in some chunk.
    let covered: usize = chunks.iter().map(|c| c.end).max().unwrap_or(0);
    assert_eq!(covered, full.trim_end().chars().count());
    assert_eq!(chunks, chunk(parsed, cfg), "not deterministic");
    chunks
}

fn block(text: &str, kind: BlockKind, page: Option<u32>, path: &[&str]) -> Block {
    Block { text: text.into(), kind, page, heading_path: path.iter().map(|s| s.to_string()).collect() }
}

fn doc(blocks: Vec<Block>) -> Parsed {
    Parsed { format: Format::Text, title: None, blocks }
}

fn sentence(rng: &mut Lcg) -> String {
    const WORDS: &[&str] =
        &["alpha", "bravo", "charlie", "délta", "echo", "fox", "golf", "hotel", "índia", "日本語", "x"];
    let n = 3 + rng.below(12);
    let words: Vec<&str> = (0..n).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    format!("{}.", words.join(" "))
}

#[test]
fn spans_hold_for_every_format() {
    let files: Vec<Vec<u8>> = vec![
        fixtures::three_page_pdf(),
        fixtures::docx(),
        fixtures::HTML.as_bytes().to_vec(),
        fixtures::MARKDOWN.as_bytes().to_vec(),
        fixtures::CSV.as_bytes().to_vec(),
        fixtures::JSON.as_bytes().to_vec(),
        fixtures::TEXT.as_bytes().to_vec(),
    ];
    for bytes in files {
        let parsed = parse(&bytes, &Limits::default()).unwrap();
        for cfg in [
            ChunkConfig::default(),
            ChunkConfig { target: 12, overlap: 4, unit: Unit::Chars },
            ChunkConfig { target: 3, overlap: 1, unit: Unit::Words },
            ChunkConfig { target: 1, overlap: 0, unit: Unit::Words },
        ] {
            let chunks = check(&parsed, &cfg);
            assert!(!chunks.is_empty(), "{:?}", parsed.format);
        }
    }
}

#[test]
fn pages_are_followed_and_reported() {
    let parsed = parse(&fixtures::three_page_pdf(), &Limits::default()).unwrap();
    let pages = |target| -> Vec<(Option<u32>, Option<u32>)> {
        let chunks = check(&parsed, &ChunkConfig { target, overlap: 0, unit: Unit::Chars });
        chunks.iter().map(|c| (c.page, c.page_end)).collect()
    };
    // Block sizes are 58, 31 (page 1), 20 (page 2), 39 (page 3) characters. With 60, every
    // page change finds the chunk at least half full (58, 31) or the next block does not fit.
    assert_eq!(pages(60), [(Some(1), Some(1)), (Some(1), Some(1)), (Some(2), Some(2)), (Some(3), Some(3))]);
    // With 70, the 31-character chunk is under half full: page 2 joins it; then 53 is over.
    assert_eq!(pages(70), [(Some(1), Some(1)), (Some(1), Some(2)), (Some(3), Some(3))]);
    // Large target: short pages share a chunk, which reports both ends.
    let chunks = check(&parsed, &ChunkConfig { target: 10_000, overlap: 0, unit: Unit::Chars });
    assert_eq!(chunks.len(), 1);
    assert_eq!((chunks[0].page, chunks[0].page_end), (Some(1), Some(3)));
}

#[test]
fn sections_follow_headings() {
    let parsed = parse(fixtures::MARKDOWN.as_bytes(), &Limits::default()).unwrap();
    let chunks = check(&parsed, &ChunkConfig { target: 40, overlap: 0, unit: Unit::Chars });
    let got: Vec<(Option<&str>, &str)> = chunks.iter().map(|c| (c.section.as_deref(), c.text.as_str())).collect();
    assert_eq!(
        got,
        [
            (Some("Guide"), "Guide\n\nIntro paragraph over two lines."),
            // The heading opens the chunk of the text it starts.
            (Some("Guide › Install"), "Install\n\nfirst step\n\nsecond step"),
            (Some("Guide › Install"), "nested step\n\ncargo build\ncargo test"),
            // Under half full at "## Use": the short subsection joins, and the chunk is in "Guide".
            (Some("Guide"), "Key | Value\n\na | 1\n\nUse\n\nRun it."),
        ]
    );
    let chunks = check(&parsed, &ChunkConfig { target: 30, overlap: 0, unit: Unit::Chars });
    let run = chunks.iter().find(|c| c.text.contains("Run it.")).unwrap();
    assert_eq!((run.section.as_deref(), run.text.as_str()), (Some("Guide › Use"), "Use\n\nRun it."));
}

#[test]
fn top_level_headings_are_never_crossed() {
    let parsed = doc(vec![
        block("One", BlockKind::Heading { level: 1 }, None, &["One"]),
        block("Short body.", BlockKind::Paragraph, None, &["One"]),
        block("Two", BlockKind::Heading { level: 1 }, None, &["Two"]),
        block("Another body.", BlockKind::Paragraph, None, &["Two"]),
        block("Sub", BlockKind::Heading { level: 2 }, None, &["Two", "Sub"]),
        block("Sub body.", BlockKind::Paragraph, None, &["Two", "Sub"]),
    ]);
    let chunks = check(&parsed, &ChunkConfig { target: 1000, overlap: 100, unit: Unit::Chars });
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    // The level-2 heading joins its parent's chunk: that chunk is far from half full.
    assert_eq!(texts, ["One\n\nShort body.", "Two\n\nAnother body.\n\nSub\n\nSub body."]);
    assert_eq!(chunks[1].section.as_deref(), Some("Two"));
}

#[test]
fn long_blocks_split_at_sentences_then_words() {
    let mut rng = Lcg(1);
    let para: Vec<String> = (0..40).map(|_| sentence(&mut rng)).collect();
    let para = para.join(" ");
    let long_word = "x".repeat(250);
    let parsed = doc(vec![
        block(&para, BlockKind::Paragraph, None, &[]),
        block(&format!("short {long_word} tail"), BlockKind::Paragraph, None, &[]),
    ]);
    let cfg = ChunkConfig { target: 120, overlap: 0, unit: Unit::Chars };
    let chunks = check(&parsed, &cfg);
    for c in &chunks {
        assert!(measure(&c.text, Unit::Chars) <= 120, "{}", c.text.len());
    }
    let in_para: Vec<&Chunk> = chunks.iter().filter(|c| c.text.contains('.')).collect();
    let ends_at_sentence = in_para.iter().filter(|c| c.text.ends_with('.')).count();
    assert!(ends_at_sentence + 1 >= in_para.len(), "splits fall on sentence ends");
    assert!(chunks.iter().any(|c| c.text == "x".repeat(120)), "a word longer than the target is cut");
}

#[test]
fn target_and_overlap_in_both_units() {
    let mut rng = Lcg(42);
    let blocks: Vec<Block> = (0..30).map(|_| block(&sentence(&mut rng), BlockKind::Paragraph, None, &[])).collect();
    let parsed = doc(blocks);
    let full = full_text(&parsed);
    for (unit, target, overlap) in [(Unit::Words, 40, 10), (Unit::Chars, 300, 60)] {
        let cfg = ChunkConfig { target, overlap, unit };
        let chunks = check(&parsed, &cfg);
        assert!(chunks.len() > 2);
        for pair in chunks.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(b.start < a.end, "overlap: {a:?} {b:?}");
            let carried = slice(&full, b.start, a.end);
            let n = measure(&carried, unit);
            assert!(n >= 1 && n <= overlap, "{unit:?}: carried {n} > {overlap}: {carried:?}");
            // Whole words: the carried text starts at a word start.
            let before = slice(&full, b.start.saturating_sub(1), b.start);
            assert!(before.trim().is_empty(), "overlap starts inside a word: {before:?}");
        }
        for c in &chunks {
            assert!(measure(&c.text, unit) <= target + overlap, "{unit:?}: {}", measure(&c.text, unit));
        }
    }
}

#[test]
fn random_documents_keep_every_property() {
    let mut rng = Lcg(2024);
    for round in 0..150 {
        let mut blocks = Vec::new();
        let mut path: Vec<String> = Vec::new();
        let mut page = 1u32;
        for _ in 0..rng.below(25) {
            if rng.below(5) == 0 {
                let level = 1 + rng.below(3) as u8;
                path.truncate(level as usize - 1);
                let h = format!("H{round}-{}", rng.below(100));
                path.push(h.clone());
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                blocks.push(block(&h, BlockKind::Heading { level }, Some(page), &p));
                continue;
            }
            page += u32::from(rng.below(4) == 0);
            let max = if rng.below(6) == 0 { 60 } else { 6 };
            let n = 1 + rng.below(max);
            let mut text: Vec<String> = (0..n).map(|_| sentence(&mut rng)).collect();
            if rng.below(10) == 0 {
                text.push("y".repeat(rng.below(400)));
            }
            let kind = [BlockKind::Paragraph, BlockKind::ListItem, BlockKind::Code][rng.below(3)];
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            blocks.push(block(
                text.join(if kind == BlockKind::Code { "\n" } else { " " }).trim(),
                kind,
                Some(page),
                &p,
            ));
        }
        let parsed = doc(blocks);
        let unit = if rng.below(2) == 0 { Unit::Chars } else { Unit::Words };
        let target = 1 + rng.below(if unit == Unit::Chars { 600 } else { 80 });
        let cfg = ChunkConfig { target, overlap: rng.below(target + 5), unit };
        let chunks = check(&parsed, &cfg);
        let full = full_text(&parsed);
        for c in &chunks {
            // Page and section come from the blocks the span covers.
            let touched = blocks_of(&parsed, c);
            assert_eq!(c.page, touched[0].page);
            assert_eq!(c.page_end, touched[touched.len() - 1].page);
            // The section contains every block the chunk touches.
            let section = c.section.clone().unwrap_or_default();
            for b in blocks_of(&parsed, c) {
                assert!(b.heading_path.join(" › ").starts_with(&section), "{section:?} vs {:?}", b.heading_path);
            }
            assert!(c.end <= full.chars().count());
        }
    }
}

/// The blocks a chunk's span touches.
fn blocks_of<'a>(parsed: &'a Parsed, c: &Chunk) -> Vec<&'a Block> {
    let mut out = Vec::new();
    let mut at = 0;
    for b in &parsed.blocks {
        let end = at + b.text.chars().count();
        if end > c.start && at < c.end {
            out.push(b);
        }
        at = end + 2;
    }
    out
}

#[test]
fn empty_document_has_no_chunks() {
    assert!(chunk(&doc(vec![]), &ChunkConfig::default()).is_empty());
    let cfg = ChunkConfig { target: 0, overlap: 10, unit: Unit::Words };
    let chunks = check(&doc(vec![block("a b c", BlockKind::Paragraph, None, &[])]), &cfg);
    assert_eq!(chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
}
