//! Markdown (CommonMark with tables, strikethrough and task lists) by pulldown-cmark.

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
