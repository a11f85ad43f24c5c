//! Document parsing. The format is chosen by sniffing the content, never the file name; each
//! format becomes a list of structural [`Block`]s (headings, paragraphs, list items, code, table
//! rows; pages for PDF) that the chunker follows and cites.
//!
//! Uploaded files are hostile input: every parser is bounded by [`Limits`] (file size, pages,
//! archive expansion and compression ratio, extracted text) and a bad file fails only its own
//! document with a [`ParseError`] whose [`code`](ParseError::code) is stable. Nothing here may
//! panic on bad bytes; the one place with a panic guard is the PDF library (see [`pdf`]).
//!
//! One file per format family: [`sniff()`] decides (with the helpers in `sniff.rs`,
//! which also decodes text), `text.rs` reads plain text, CSV and JSON, `markdown.rs`, `html.rs`,
//! `docx.rs` and [`pdf`] the others; all of them emit blocks through the one `Builder` here.

mod docx;
mod html;
mod markdown;
pub mod pdf;
mod sniff;
mod text;

use sniff::{CFB_MAGIC, decode_text, is_pdf, is_zip, sniff_text};
use text::{parse_csv, parse_json, parse_plain};

/// A document format, decided by [`sniff()`].
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

/// Parses an uploaded file, choosing the parser by [`sniff()`].
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
