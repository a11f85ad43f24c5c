//! HTML by the html5ever tokenizer: text blocks, headings, list items, preformatted text, table
//! rows and the title; scripts, styles and navigation skipped.

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
