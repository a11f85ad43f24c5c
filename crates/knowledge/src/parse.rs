//! Document parsing. The format is chosen by sniffing the content, never the file name; each
//! format becomes a list of structural [`Block`]s (headings, paragraphs, list items, code, table
//! rows; pages for PDF) that the chunker follows and cites.
//!
//! Uploaded files are hostile input: every parser is bounded by [`Limits`] (file size, pages,
//! archive expansion and compression ratio, extracted text) and a bad file fails only its own
//! document with a [`ParseError`] whose [`code`](ParseError::code) is stable. Nothing here may
//! panic on bad bytes; the one place with a panic guard is the PDF library (see [`pdf`]).

use std::borrow::Cow;
use std::io::{Cursor, Read};

/// A document format, decided by [`sniff`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    Csv,
    Json,
}

impl Format {
    /// Stable lower-case name, as stored with the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// Bounds on what one document may cost to parse.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Size of the uploaded file.
    pub max_bytes: usize,
    /// PDF pages.
    pub max_pages: usize,
    /// Total uncompressed bytes read out of a DOCX archive or out of a PDF's compressed
    /// streams; an entry whose compression ratio exceeds [`MAX_COMPRESSION_RATIO`] fails too.
    pub max_expanded_bytes: u64,
    /// Characters of extracted text.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 50 << 20, max_pages: 2_000, max_expanded_bytes: 200 << 20, max_text_chars: 20_000_000 }
    }
}

/// Deflate can reach about 1000:1; real XML compresses 5–30:1. An archive entry of more than
/// [`RATIO_FLOOR`] bytes expanding more than this is treated as a decompression bomb.
pub const MAX_COMPRESSION_RATIO: u64 = 200;
const RATIO_FLOOR: u64 = 1 << 20;
/// Entries in a DOCX archive; real documents have a few dozen.
const MAX_ARCHIVE_ENTRIES: usize = 10_000;
/// Element nesting in DOCX XML; real documents stay far below.
const MAX_XML_DEPTH: usize = 256;

/// The parsed document: its format, a title if it declares one, and its blocks in reading order.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub format: Format,
    pub title: Option<String>,
    pub blocks: Vec<Block>,
}

/// One structural unit of text. Text is never empty; outside [`BlockKind::Code`] whitespace
/// is collapsed to single spaces.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub text: String,
    pub kind: BlockKind,
    /// 1-based page (PDF only).
    pub page: Option<u32>,
    /// The section the block belongs to: the enclosing headings, outermost first. A heading's
    /// path ends with the heading itself.
    pub heading_path: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Level 1 (top) to 6.
    Heading {
        level: u8,
    },
    Paragraph,
    ListItem,
    /// Preformatted text (code blocks, `<pre>`, JSON); line breaks are kept.
    Code,
    /// Cells joined with " | ", or "column: value; …" for CSV.
    TableRow,
}

/// Why a document could not be parsed. Shown to the uploader as the document's status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is too large ({size} bytes; the limit is {max})")]
    TooLarge { size: usize, max: usize },
    #[error("the document has too many pages ({pages}; the limit is {max})")]
    TooManyPages { pages: usize, max: usize },
    #[error("the file expands beyond the allowed size when decompressed")]
    ArchiveTooLarge,
    #[error("the document has more text than the limit of {max} characters")]
    TooMuchText { max: usize },
    #[error("the document is encrypted or password-protected")]
    Encrypted,
    #[error("the file is damaged: {0}")]
    Corrupt(String),
    #[error("unsupported file type")]
    Unsupported,
}

impl ParseError {
    /// Stable short code for the document status.
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::TooLarge { .. } => "too_large",
            ParseError::TooManyPages { .. } => "too_many_pages",
            ParseError::ArchiveTooLarge => "archive_too_large",
            ParseError::TooMuchText { .. } => "too_much_text",
            ParseError::Encrypted => "encrypted",
            ParseError::Corrupt(_) => "corrupt",
            ParseError::Unsupported => "unsupported",
        }
    }

    fn corrupt(detail: impl std::fmt::Display) -> Self {
        ParseError::Corrupt(detail.to_string().chars().take(200).collect())
    }
}

/// Magic of an OLE compound file: what Office writes for a password-protected DOCX (and old
/// .doc/.xls files, which are not supported either).
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Parses an uploaded file, choosing the parser by [`sniff`].
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::TooLarge { size: bytes.len(), max: limits.max_bytes });
    }
    if bytes.starts_with(CFB_MAGIC) {
        return Err(ParseError::Encrypted);
    }
    if is_pdf(bytes) {
        return pdf::parse(bytes, limits);
    }
    if is_zip(bytes) {
        return docx::parse(bytes, limits);
    }
    let text = decode_text(bytes).ok_or(ParseError::Unsupported)?;
    let mut b = Builder::new(limits);
    let format = sniff_text(&text);
    match format {
        Format::Json => parse_json(&text, &mut b)?,
        Format::Html => html::parse(&text, &mut b)?,
        Format::Markdown => markdown::parse(&text, &mut b)?,
        Format::Csv => parse_csv(&text, &mut b)?,
        Format::Text | Format::Pdf | Format::Docx => parse_plain(&text, &mut b)?,
    }
    Ok(b.finish(format))
}

/// The format of a file from its content alone; `None` for binary data that is none of them.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if is_pdf(bytes) {
        return Some(Format::Pdf);
    }
    if is_zip(bytes) {
        return docx::is_docx(bytes).then_some(Format::Docx);
    }
    if bytes.starts_with(CFB_MAGIC) {
        return None;
    }
    decode_text(bytes).map(|t| sniff_text(&t))
}

fn is_pdf(bytes: &[u8]) -> bool {
    // Readers accept the header anywhere in the first KiB.
    bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-")
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

// ---------------------------------------------------------------------------------------------
// Text decoding and sniffing

/// Decodes text: UTF-8 (BOM optional), UTF-16 with a BOM, or, failing those, Windows-1252 when
/// the bytes look like legacy text. `None` when the bytes look binary.
fn decode_text(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let text: Cow<'_, str> = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8_lossy(rest)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        Cow::Owned(decode_utf16(rest, u16::from_le_bytes))
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        Cow::Owned(decode_utf16(rest, u16::from_be_bytes))
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) if looks_binary(bytes.iter().take(8192).map(|&b| char::from(b))) => return None,
            Err(e) if e.valid_up_to() + 4 >= bytes.len() => String::from_utf8_lossy(bytes),
            Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0,
        }
    };
    (!looks_binary(text.chars().take(8192))).then_some(text)
}

fn decode_utf16(bytes: &[u8], f: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| f([c[0], c[1]]));
    char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

/// A NUL, or more than 1 in 100 control characters (other than whitespace, form feed, escape).
fn looks_binary(sample: impl Iterator<Item = char>) -> bool {
    let (mut n, mut control) = (0usize, 0usize);
    for c in sample {
        n += 1;
        if c == '\0' {
            return true;
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b') && !('\u{80}'..='\u{9f}').contains(&c) {
            control += 1;
        }
    }
    control * 100 > n
}

fn sniff_text(text: &str) -> Format {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if (t.starts_with('{') || t.starts_with('[')) && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok() {
        return Format::Json;
    }
    if looks_html(t) {
        return Format::Html;
    }
    let lines: Vec<&str> = t.lines().take(200).collect();
    if markdown_strong(&lines) {
        return Format::Markdown;
    }
    if csv_delimiter(t).is_some() {
        return Format::Csv;
    }
    if markdown_weak(&lines) {
        return Format::Markdown;
    }
    Format::Text
}

const HTML_TAGS: &[&str] = &[
    "html", "head", "body", "meta", "title", "link", "div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul",
    "ol", "section", "article", "main", "header", "nav", "span", "a", "br", "form", "script", "style",
];

fn looks_html(t: &str) -> bool {
    let mut s: String = t.chars().take(1024).collect::<String>().to_ascii_lowercase();
    // Skip an XML declaration and leading comments.
    loop {
        let trimmed = s.trim_start();
        let skip = if trimmed.starts_with("<?xml") {
            trimmed.find("?>").map(|i| i + 2)
        } else if trimmed.starts_with("<!--") {
            trimmed.find("-->").map(|i| i + 3)
        } else {
            break;
        };
        match skip {
            Some(i) => s = trimmed[i..].to_string(),
            None => return false,
        }
    }
    let s = s.trim_start();
    if s.starts_with("<!doctype html") {
        return true;
    }
    let Some(rest) = s.strip_prefix('<') else { return false };
    let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    let after = rest[name.len()..].chars().next();
    HTML_TAGS.contains(&name.as_str()) && matches!(after, Some('>' | '/' | ' ' | '\t' | '\r' | '\n'))
}

fn markdown_strong(lines: &[&str]) -> bool {
    let mut prev_text = false;
    for l in lines {
        let t = l.trim_end();
        let hashes = t.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') && t.len() > hashes + 1 {
            return true;
        }
        let s = t.trim_start();
        if s.starts_with("```") || s.starts_with("~~~") {
            return true;
        }
        let is_rule = |c: char| !s.is_empty() && s.chars().all(|x| x == c);
        if prev_text && (is_rule('=') || is_rule('-')) && s.len() >= 3 {
            return true;
        }
        if s.contains('|') && s.contains("---") && s.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            return true;
        }
        prev_text = !s.is_empty();
    }
    false
}

fn markdown_weak(lines: &[&str]) -> bool {
    let mut score = 0;
    for l in lines {
        let s = l.trim_start();
        let numbered = s.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if s.starts_with("- ") || s.starts_with("* ") || s.starts_with("+ ") || s.starts_with("> ") || numbered {
            score += 1;
        }
        if s.contains("](") || s.contains("**") {
            score += 2;
        }
    }
    score >= 2
}

/// The delimiter of CSV-like text: the same non-zero count of one of `,` `;` tab `|` outside
/// quotes in every record of the first lines (at least two records, three when there are only
/// two columns, so that prose with a comma per line is not taken for a table).
fn csv_delimiter(t: &str) -> Option<u8> {
    let sample = &t[..floor_char_boundary(t, 64 * 1024)];
    let truncated = sample.len() < t.len();
    let mut best: Option<(usize, u8)> = None;
    for d in [b',', b';', b'\t', b'|'] {
        let mut counts = Vec::new();
        let (mut n, mut quoted, mut blank) = (0usize, false, true);
        for &c in sample.as_bytes() {
            match c {
                b'"' => quoted = !quoted,
                b'\n' if !quoted => {
                    if !blank {
                        counts.push(n);
                    }
                    (n, blank) = (0, true);
                    if counts.len() >= 20 {
                        break;
                    }
                    continue;
                }
                c if c == d && !quoted => n += 1,
                _ => {}
            }
            blank &= c.is_ascii_whitespace();
        }
        if !blank && !truncated && counts.len() < 20 {
            counts.push(n);
        }
        let Some(&first) = counts.first() else { continue };
        let needed = if first == 1 { 3 } else { 2 };
        if first > 0
            && counts.len() >= needed
            && counts.iter().all(|&c| c == first)
            && best.is_none_or(|(b, _)| first > b)
        {
            best = Some((first, d));
        }
    }
    best.map(|(_, d)| d)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/// Collects blocks, keeps the heading stack for `heading_path`, and enforces `max_text_chars`.
struct Builder<'l> {
    limits: &'l Limits,
    blocks: Vec<Block>,
    headings: Vec<(u8, String)>,
    chars: usize,
    page: Option<u32>,
    title: Option<String>,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Self { limits, blocks: Vec::new(), headings: Vec::new(), chars: 0, page: None, title: None }
    }

    fn push(&mut self, kind: BlockKind, raw: &str) -> Result<(), ParseError> {
        let text = if kind == BlockKind::Code { clean_code(raw) } else { collapse(raw) };
        if text.is_empty() {
            return Ok(());
        }
        self.chars = self.chars.saturating_add(text.chars().count() + 2);
        if self.chars > self.limits.max_text_chars {
            return Err(ParseError::TooMuchText { max: self.limits.max_text_chars });
        }
        if let BlockKind::Heading { level } = kind {
            while self.headings.last().is_some_and(|(l, _)| *l >= level) {
                self.headings.pop();
            }
            self.headings.push((level, text.clone()));
        }
        let heading_path = self.headings.iter().map(|(_, h)| h.clone()).collect();
        self.blocks.push(Block { text, kind, page: self.page, heading_path });
        Ok(())
    }

    fn set_title(&mut self, title: &str) {
        let t = collapse(title);
        if self.title.is_none() && !t.is_empty() {
            self.title = Some(t);
        }
    }

    fn finish(mut self, format: Format) -> Parsed {
        if self.title.is_none() {
            self.title = self.blocks.iter().find(|b| b.kind == BlockKind::Heading { level: 1 }).map(|b| b.text.clone());
        }
        Parsed { format, title: self.title, blocks: self.blocks }
    }
}

/// Whitespace runs to one space, control characters dropped, trimmed.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c.is_control()) {
        if !word.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// Line breaks kept (CRLF to LF), trailing spaces and control characters dropped, blank lines
/// at either end removed.
fn clean_code(s: &str) -> String {
    let lines: Vec<String> = s
        .lines()
        .map(|l| l.chars().filter(|c| *c == '\t' || !c.is_control()).collect::<String>().trim_end().to_string())
        .collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(a), Some(b)) => lines[a..=b].join("\n"),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Plain text, CSV, JSON

/// Paragraphs separated by blank lines.
fn parse_plain(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
    let mut para = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            b.push(BlockKind::Paragraph, &para)?;
            para.clear();
        } else {
            para.push_str(line);
            para.push('\n');
        }
    }
    b.push(BlockKind::Paragraph, &para)
}

/// Each record a row "header: value; …" under the first record's names.
fn parse_csv(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
    let delimiter = csv_delimiter(text).unwrap_or(b',');
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).has_headers(false).from_reader(text.as_bytes());
    let mut headers: Option<Vec<String>> = None;
    for record in reader.records() {
        let record = record.map_err(ParseError::corrupt)?;
        let Some(names) = &headers else {
            headers = Some(record.iter().map(collapse).collect());
            continue;
        };
        let row: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(i, v)| match names.get(i).filter(|n| !n.is_empty()) {
                Some(n) => format!("{n}: {}", v.trim()),
                None => format!("column {}: {}", i + 1, v.trim()),
            })
            .collect();
        b.push(BlockKind::TableRow, &row.join("; "))?;
    }
    if b.blocks.is_empty()
        && let Some(names) = headers
    {
        b.push(BlockKind::TableRow, &names.join("; "))?;
    }
    Ok(())
}

/// Pretty-printed: an array element or a top-level member per block.
fn parse_json(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
    let t = text.trim_start_matches('\u{feff}');
    let value: serde_json::Value = serde_json::from_str(t).map_err(ParseError::corrupt)?;
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    match &value {
        serde_json::Value::Array(items) => {
            for item in items {
                b.push(BlockKind::Code, &pretty(item))?;
            }
        }
        serde_json::Value::Object(members) => {
            for (k, v) in members {
                b.push(BlockKind::Code, &format!("{}: {}", pretty(&serde_json::Value::String(k.clone())), pretty(v)))?;
            }
        }
        v => b.push(BlockKind::Code, &pretty(v))?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Markdown

mod markdown {
    use super::{BlockKind, Builder, ParseError};
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    pub(super) fn parse(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
        let mut cur = String::new();
        let mut cells: Vec<String> = Vec::new();
        let mut items = 0usize;
        for event in Parser::new_ext(text, opts) {
            match event {
                Event::Start(Tag::Heading { .. } | Tag::CodeBlock(_) | Tag::TableHead | Tag::TableRow) => {
                    flush(b, &mut cur, items)?;
                }
                Event::Start(Tag::Item) => {
                    // A nested list: the parent item's own text comes first.
                    flush(b, &mut cur, items)?;
                    items += 1;
                }
                Event::End(TagEnd::Heading(level)) => {
                    b.push(BlockKind::Heading { level: level as u8 }, &cur)?;
                    cur.clear();
                }
                Event::End(TagEnd::CodeBlock) => {
                    b.push(BlockKind::Code, &cur)?;
                    cur.clear();
                }
                Event::End(TagEnd::Item) => {
                    flush(b, &mut cur, items)?;
                    items = items.saturating_sub(1);
                }
                Event::End(TagEnd::Paragraph) if items == 0 => flush(b, &mut cur, 0)?,
                Event::End(TagEnd::Paragraph) => cur.push(' '),
                Event::End(TagEnd::TableCell) => cells.push(std::mem::take(&mut cur)),
                Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                    let row: Vec<String> = cells.drain(..).map(|c| c.trim().to_string()).collect();
                    b.push(BlockKind::TableRow, &row.join(" | "))?;
                }
                Event::Text(t) | Event::Code(t) => cur.push_str(&t),
                Event::SoftBreak => cur.push(' '),
                Event::HardBreak => cur.push('\n'),
                Event::TaskListMarker(done) => cur.push_str(if done { "[x] " } else { "[ ] " }),
                _ => {}
            }
        }
        flush(b, &mut cur, items)
    }

    fn flush(b: &mut Builder<'_>, cur: &mut String, items: usize) -> Result<(), ParseError> {
        let kind = if items > 0 { BlockKind::ListItem } else { BlockKind::Paragraph };
        b.push(kind, cur)?;
        cur.clear();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// HTML

mod html {
    use super::{BlockKind, Builder, ParseError};
    use html5ever::TokenizerResult;
    use html5ever::tendril::StrTendril;
    use html5ever::tokenizer::states::RawKind;
    use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
    use std::cell::RefCell;

    /// Elements whose content is not document text.
    const SKIP: &[&str] = &["script", "style", "noscript", "template", "nav", "svg", "iframe", "object", "select"];
    /// Elements that start and end a block of text.
    const BLOCK: &[&str] = &[
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "blockquote",
        "figure",
        "figcaption",
        "form",
        "fieldset",
        "address",
        "dl",
        "dt",
        "dd",
        "table",
        "caption",
        "body",
        "ul",
        "ol",
        "hr",
        "details",
        "summary",
    ];

    #[derive(Default)]
    struct State {
        /// Names of the open skipped elements.
        skip: Vec<String>,
        in_title: bool,
        title: String,
        cur: String,
        kind: Option<BlockKind>,
        pre: usize,
        cells: Option<Vec<String>>,
        out: Vec<(BlockKind, String)>,
    }

    impl State {
        fn flush(&mut self) {
            let text = std::mem::take(&mut self.cur);
            let kind = self.kind.take().unwrap_or(if self.pre > 0 { BlockKind::Code } else { BlockKind::Paragraph });
            if let Some(cells) = &mut self.cells
                && kind != BlockKind::Code
                && !matches!(kind, BlockKind::Heading { .. })
            {
                if !text.trim().is_empty() {
                    cells.push(text.trim().to_string());
                }
                return;
            }
            if !text.trim().is_empty() {
                self.out.push((kind, text));
            }
        }

        fn end_row(&mut self) {
            self.flush();
            if let Some(cells) = self.cells.take()
                && !cells.is_empty()
            {
                self.out.push((BlockKind::TableRow, cells.join(" | ")));
            }
        }

        fn tag(&mut self, name: &str, start: bool) -> TokenSinkResult<()> {
            if let Some(open) = self.skip.last() {
                if !start && open == name {
                    self.skip.pop();
                }
                return TokenSinkResult::Continue;
            }
            if start && SKIP.contains(&name) {
                self.skip.push(name.to_string());
                return match name {
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "noscript" | "iframe" => TokenSinkResult::RawData(RawKind::Rawtext),
                    _ => TokenSinkResult::Continue,
                };
            }
            match name {
                "title" => {
                    self.in_title = start;
                    if start {
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                }
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                    self.flush();
                    if start {
                        let level = name.as_bytes()[1] - b'0';
                        self.kind = Some(BlockKind::Heading { level });
                    }
                }
                "li" => {
                    self.flush();
                    self.kind = start.then_some(BlockKind::ListItem);
                }
                "pre" => {
                    self.flush();
                    self.pre = if start { self.pre + 1 } else { self.pre.saturating_sub(1) };
                }
                "tr" => {
                    self.end_row();
                    if start {
                        self.cells = Some(Vec::new());
                    }
                }
                "td" | "th" => self.flush(),
                "table" | "thead" | "tbody" | "tfoot" => self.end_row(),
                "br" => self.cur.push('\n'),
                n if BLOCK.contains(&n) => self.flush(),
                _ => {}
            }
            TokenSinkResult::Continue
        }
    }

    struct Sink(RefCell<State>);

    impl TokenSink for Sink {
        type Handle = ();

        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            let mut st = self.0.borrow_mut();
            match token {
                Token::TagToken(tag) => return st.tag(&tag.name, tag.kind == TagKind::StartTag),
                Token::CharacterTokens(t) if st.skip.is_empty() => {
                    if st.in_title {
                        st.title.push_str(&t);
                    } else {
                        st.cur.push_str(&t);
                    }
                }
                _ => {}
            }
            TokenSinkResult::Continue
        }
    }

    pub(super) fn parse(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
        let tokenizer = Tokenizer::new(Sink(RefCell::new(State::default())), TokenizerOpts::default());
        let input = BufferQueue::default();
        // Tendrils hold at most 4 GiB; feed in pieces.
        let mut rest = text;
        while !rest.is_empty() {
            let cut = super::floor_char_boundary(rest, 1 << 20).max(rest.chars().next().map_or(0, char::len_utf8));
            input.push_back(StrTendril::from_slice(&rest[..cut]));
            rest = &rest[cut..];
            while let TokenizerResult::Script(()) = tokenizer.feed(&input) {}
        }
        tokenizer.end();
        let mut st = tokenizer.sink.0.into_inner();
        st.end_row();
        b.set_title(&st.title);
        for (kind, text) in st.out {
            b.push(kind, &text)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// DOCX

mod docx {
    use super::{BlockKind, Builder, Cursor, Format, Limits, ParseError, Parsed, Read};
    use super::{MAX_ARCHIVE_ENTRIES, MAX_COMPRESSION_RATIO, MAX_XML_DEPTH, RATIO_FLOOR};
    use quick_xml::XmlVersion;
    use quick_xml::events::{BytesStart, Event};
    use std::collections::HashMap;
    use zip::ZipArchive;
    use zip::result::ZipError;

    type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

    pub(super) fn is_docx(bytes: &[u8]) -> bool {
        ZipArchive::new(Cursor::new(bytes)).is_ok_and(|z| z.index_for_name("word/document.xml").is_some())
    }

    fn zip_error(e: ZipError) -> ParseError {
        match e {
            ZipError::InvalidPassword | ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => {
                ParseError::Encrypted
            }
            ZipError::DecompressedSizeLimitExceeded { .. } => ParseError::ArchiveTooLarge,
            e => ParseError::corrupt(e),
        }
    }

    pub(super) fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
        if zip.len() > MAX_ARCHIVE_ENTRIES {
            return Err(ParseError::ArchiveTooLarge);
        }
        if zip.index_for_name("word/document.xml").is_none() {
            return Err(ParseError::Unsupported);
        }
        // The central directory's sizes may lie; reads below are bounded by what is actually read.
        let mut declared = 0u64;
        for i in 0..zip.len() {
            declared = declared.saturating_add(zip.by_index_data(i).map_err(zip_error)?.size());
        }
        if declared > limits.max_expanded_bytes {
            return Err(ParseError::ArchiveTooLarge);
        }
        let mut budget = limits.max_expanded_bytes;
        let styles = match read_entry(&mut zip, "word/styles.xml", &mut budget)? {
            Some(xml) => read_styles(&xml),
            None => HashMap::new(),
        };
        let doc = read_entry(&mut zip, "word/document.xml", &mut budget)?
            .ok_or_else(|| ParseError::corrupt("no word/document.xml"))?;
        let mut b = Builder::new(limits);
        Walker { styles: &styles, stack: Vec::new(), skip: 0, in_text: false, in_run: 0 }.walk(&doc, &mut b)?;
        Ok(b.finish(Format::Docx))
    }

    fn read_entry(zip: &mut Archive<'_>, name: &str, budget: &mut u64) -> Result<Option<String>, ParseError> {
        let Some(i) = zip.index_for_name(name) else { return Ok(None) };
        let file = zip.by_index(i).map_err(zip_error)?;
        if file.encrypted() {
            return Err(ParseError::Encrypted);
        }
        let compressed = file.compressed_size().max(1);
        let too_dense = |n: u64| n > RATIO_FLOOR && n / compressed > MAX_COMPRESSION_RATIO;
        if file.size() > *budget || too_dense(file.size()) {
            return Err(ParseError::ArchiveTooLarge);
        }
        let mut buf = Vec::new();
        // One byte over the budget tells a lying size from an exact fit.
        file.take(budget.saturating_add(1)).read_to_end(&mut buf).map_err(ParseError::corrupt)?;
        let n = buf.len() as u64;
        if n > *budget || too_dense(n) {
            return Err(ParseError::ArchiveTooLarge);
        }
        *budget -= n;
        Ok(Some(String::from_utf8(buf).map_err(|_| ParseError::corrupt(format!("{name} is not UTF-8")))?))
    }

    /// What a paragraph style makes of a paragraph.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Style {
        Title,
        Heading(u8),
        List,
    }

    fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
        e.attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == key)
            .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
    }

    /// Style id to meaning, from styles.xml: the style's name ("heading 2", "Title", "List …")
    /// or its outline level, so that localised style ids still work.
    fn read_styles(xml: &str) -> HashMap<String, Style> {
        let mut map = HashMap::new();
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut current: Option<String> = None;
        while let Ok(event) = reader.read_event() {
            match event {
                Event::Start(e) if e.local_name().as_ref() == "style" => current = attr(&e, "styleId"),
                Event::End(e) if e.local_name().as_ref() == "style" => current = None,
                Event::Empty(e) => {
                    let Some(id) = &current else { continue };
                    let style = match e.local_name().as_ref() {
                        "name" => attr(&e, "val").and_then(|v| style_from_name(&v)),
                        "outlineLvl" => attr(&e, "val").and_then(|v| outline(&v)),
                        _ => None,
                    };
                    if let Some(s) = style {
                        map.entry(id.clone()).or_insert(s);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        map
    }

    fn style_from_name(name: &str) -> Option<Style> {
        let n = name.to_ascii_lowercase().replace(' ', "");
        if n == "title" {
            return Some(Style::Title);
        }
        if let Some(level) = n.strip_prefix("heading").and_then(|l| l.parse::<u8>().ok()) {
            return Some(Style::Heading(level.clamp(1, 6)));
        }
        (n.starts_with("list")).then_some(Style::List)
    }

    fn outline(val: &str) -> Option<Style> {
        let level: u8 = val.parse().ok()?;
        (level < 9).then_some(Style::Heading((level + 1).min(6)))
    }

    enum Node {
        Para { text: String, style: Option<Style>, list: bool },
        Row(Vec<String>),
        Cell(String),
    }

    struct Walker<'s> {
        styles: &'s HashMap<String, Style>,
        stack: Vec<Node>,
        /// Depth inside `mc:Fallback`, which repeats the `mc:Choice` content.
        skip: usize,
        in_text: bool,
        in_run: usize,
    }

    impl Walker<'_> {
        fn walk(mut self, xml: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
            let mut reader = quick_xml::Reader::from_str(xml);
            loop {
                match reader.read_event().map_err(ParseError::corrupt)? {
                    Event::Start(e) => self.start(&e)?,
                    Event::Empty(e) => {
                        self.start(&e)?;
                        self.end(e.local_name().as_ref(), b)?;
                    }
                    Event::End(e) => self.end(e.local_name().as_ref(), b)?,
                    Event::Text(t) if self.in_text && self.skip == 0 => self.text(&t.xml10_content()),
                    Event::GeneralRef(r) if self.in_text && self.skip == 0 => {
                        let c = match r.resolve_char_ref() {
                            Ok(Some(c)) => c.to_string(),
                            _ => quick_xml::escape::resolve_predefined_entity(&r).unwrap_or("").to_string(),
                        };
                        self.text(&c);
                    }
                    Event::Eof => return Ok(()),
                    _ => {}
                }
            }
        }

        fn text(&mut self, s: &str) {
            if let Some(Node::Para { text, .. }) = self.stack.last_mut() {
                text.push_str(s);
            }
        }

        fn start(&mut self, e: &BytesStart<'_>) -> Result<(), ParseError> {
            let name = e.local_name();
            let name = name.as_ref();
            if name == "Fallback" || self.skip > 0 {
                self.skip += usize::from(name == "Fallback");
                return Ok(());
            }
            if self.stack.len() > MAX_XML_DEPTH {
                return Err(ParseError::corrupt("elements nested too deeply"));
            }
            match name {
                "p" => self.stack.push(Node::Para { text: String::new(), style: None, list: false }),
                "tr" => self.stack.push(Node::Row(Vec::new())),
                "tc" => self.stack.push(Node::Cell(String::new())),
                "r" => self.in_run += 1,
                "t" => self.in_text = true,
                "tab" if self.in_run > 0 => self.text("\t"),
                "br" | "cr" if self.in_run > 0 => self.text("\n"),
                "pStyle" | "outlineLvl" | "numPr" => {
                    let found = match name {
                        "pStyle" => {
                            attr(e, "val").and_then(|v| self.styles.get(&v).copied().or_else(|| style_from_name(&v)))
                        }
                        "outlineLvl" => attr(e, "val").and_then(|v| outline(&v)),
                        _ => Some(Style::List),
                    };
                    if let Some(Node::Para { style, list, .. }) = self.stack.last_mut() {
                        match found {
                            Some(Style::List) => *list = true,
                            Some(s) => *style = style.or(Some(s)),
                            None => {}
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        }

        fn end(&mut self, name: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
            if self.skip > 0 {
                self.skip -= usize::from(name == "Fallback");
                return Ok(());
            }
            match name {
                "t" => self.in_text = false,
                "r" => self.in_run = self.in_run.saturating_sub(1),
                "p" => {
                    let Some(Node::Para { text, style, list }) = self.stack.pop() else { return Ok(()) };
                    match self.stack.last_mut() {
                        Some(Node::Cell(cell)) | Some(Node::Para { text: cell, .. }) => {
                            cell.push(' ');
                            cell.push_str(&text);
                            cell.push(' ');
                        }
                        _ => {
                            let kind = match style {
                                Some(Style::Title) => {
                                    b.set_title(&text);
                                    BlockKind::Heading { level: 1 }
                                }
                                Some(Style::Heading(level)) => BlockKind::Heading { level },
                                _ if list => BlockKind::ListItem,
                                _ => BlockKind::Paragraph,
                            };
                            b.push(kind, &text)?;
                        }
                    }
                }
                "tc" => {
                    if let Some(Node::Cell(text)) = self.stack.pop()
                        && let Some(Node::Row(cells)) = self.stack.last_mut()
                    {
                        cells.push(super::collapse(&text));
                    }
                }
                "tr" => {
                    if let Some(Node::Row(cells)) = self.stack.pop() {
                        let row = cells.into_iter().filter(|c| !c.is_empty()).collect::<Vec<_>>().join(" | ");
                        match self.stack.last_mut() {
                            Some(Node::Cell(cell)) => {
                                cell.push(' ');
                                cell.push_str(&row);
                            }
                            _ => b.push(BlockKind::TableRow, &row)?,
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PDF

/// PDF text per page with `lopdf`.
///
/// lopdf is written to return errors on bad input (recursion and reference-cycle limits,
/// bounded decompression), but it is a large parser of a hostile format; as a last resort its
/// calls run under `catch_unwind`, turning a library panic into `Corrupt` for this document.
pub mod pdf {
    use super::{BlockKind, Builder, Format, Limits, ParseError, Parsed};
    use lopdf::content::Content;
    use lopdf::{Document, Encoding, LoadOptions, Object, ObjectId};
    use std::collections::BTreeMap;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    fn guard<T>(f: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(ParseError::corrupt("the PDF reader failed")))
    }

    fn pdf_error(e: lopdf::Error) -> ParseError {
        match e {
            lopdf::Error::Decryption(_)
            | lopdf::Error::InvalidPassword
            | lopdf::Error::UnsupportedSecurityHandler(_)
            | lopdf::Error::AlreadyEncrypted => ParseError::Encrypted,
            lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => ParseError::ArchiveTooLarge,
            e => ParseError::corrupt(e),
        }
    }

    pub(super) fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
        let mut budget = usize::try_from(limits.max_expanded_bytes).unwrap_or(usize::MAX);
        let options = LoadOptions { max_decompressed_size: Some(budget), ..LoadOptions::default() };
        let doc = guard(|| Document::load_mem_with_options(bytes, options).map_err(pdf_error))?;
        // Loading decrypts with the empty user password when that is all it takes (owner-only
        // "protection"); /Encrypt is still in the trailer when a password is needed.
        if doc.is_encrypted() {
            return Err(ParseError::Encrypted);
        }
        let pages = guard(|| Ok(doc.get_pages()))?;
        if pages.len() > limits.max_pages {
            return Err(ParseError::TooManyPages { pages: pages.len(), max: limits.max_pages });
        }
        let mut b = Builder::new(limits);
        if let Some(title) = info_title(&doc) {
            b.set_title(&title);
        }
        let mut failed = 0usize;
        for (&number, &id) in &pages {
            b.page = Some(number);
            let text = match guard(|| page_text(&doc, id, &mut budget)) {
                Ok(t) => t,
                Err(ParseError::Corrupt(detail)) => {
                    tracing::debug!(page = number, %detail, "PDF page unreadable");
                    failed += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for para in text.split("\n\n") {
                b.push(BlockKind::Paragraph, para)?;
            }
        }
        if failed > 0 && failed == pages.len() {
            return Err(ParseError::corrupt("no page could be read"));
        }
        Ok(b.finish(Format::Pdf))
    }

    fn info_title(doc: &Document) -> Option<String> {
        let info = match doc.trailer.get(b"Info").ok()? {
            Object::Reference(id) => doc.get_dictionary(*id).ok()?,
            Object::Dictionary(d) => d,
            _ => return None,
        };
        lopdf::decode_text_string(info.get(b"Title").ok()?).ok()
    }

    fn number(o: Option<&Object>) -> f32 {
        o.and_then(|o| o.as_float().ok()).unwrap_or(0.0)
    }

    fn ends_with_space(s: &str) -> bool {
        s.is_empty() || s.ends_with(char::is_whitespace)
    }

    /// Text of one page; "\n" between lines, "\n\n" where the vertical step is clearly more
    /// than a line (a paragraph gap).
    fn page_text(doc: &Document, id: ObjectId, budget: &mut usize) -> Result<String, ParseError> {
        let fonts = doc.get_page_fonts(id).map_err(pdf_error)?;
        let encodings: BTreeMap<Vec<u8>, Encoding<'_>> = fonts
            .into_iter()
            .filter_map(|(name, font)| font.get_font_encoding_with_limit(doc, *budget).ok().map(|e| (name, e)))
            .collect();
        let content = doc.get_page_content_with_limit(id, *budget).map_err(pdf_error)?;
        *budget = budget.saturating_sub(content.len());
        let ops = Content::decode(&content).map_err(pdf_error)?.operations;
        let mut out = String::new();
        let mut encoding: Option<&Encoding<'_>> = None;
        let mut size = 12.0f32;
        for op in &ops {
            match op.operator.as_str() {
                "Tf" => {
                    encoding = op.operands.first().and_then(|o| o.as_name().ok()).and_then(|n| encodings.get(n));
                    let s = number(op.operands.get(1)).abs();
                    size = if s > 0.0 { s } else { size };
                }
                "Tj" | "TJ" | "'" | "\"" => {
                    if op.operator != "Tj" && op.operator != "TJ" && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    let shown = if op.operator == "\"" { op.operands.get(2..) } else { op.operands.get(..1) };
                    show(&mut out, encoding, shown.unwrap_or(&[]));
                }
                "Td" | "TD" => {
                    let (tx, ty) = (number(op.operands.first()), number(op.operands.get(1)));
                    if ty.abs() > size * 1.8 {
                        out.truncate(out.trim_end_matches([' ', '\n']).len());
                        out.push_str("\n\n");
                    } else if ty != 0.0 {
                        newline(&mut out);
                    } else if tx > 0.0 && !ends_with_space(&out) {
                        out.push(' ');
                    }
                }
                "T*" | "Tm" | "ET" => newline(&mut out),
                _ => {}
            }
        }
        Ok(out)
    }

    fn newline(out: &mut String) {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    }

    fn show(out: &mut String, encoding: Option<&Encoding<'_>>, operands: &[Object]) {
        for operand in operands {
            match operand {
                Object::String(bytes, _) => {
                    if let Some(enc) = encoding {
                        let _ = enc.write_to_string(bytes, out);
                    }
                }
                Object::Array(items) => show(out, encoding, items),
                // Kerning in thousandths of an em: a large move left is a word gap.
                o if o.as_float().is_ok_and(|n| n < -120.0) && !ends_with_space(out) => out.push(' '),
                _ => {}
            }
        }
    }
}
