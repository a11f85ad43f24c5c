//! DOCX (a zip of WordprocessingML) with zip + quick-xml: styles give headings, titles and
//! lists; archive size and compression ratio are checked before and while reading.

use super::{BlockKind, Builder, Format, Limits, MAX_COMPRESSION_RATIO, ParseError, Parsed, RATIO_FLOOR};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use zip::ZipArchive;
use zip::result::ZipError;

/// Entries in a DOCX archive; real documents have a few dozen.
const MAX_ARCHIVE_ENTRIES: usize = 10_000;
/// Element nesting in DOCX XML; real documents stay far below.
const MAX_XML_DEPTH: usize = 256;

type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

pub(super) fn is_docx(bytes: &[u8]) -> bool {
    ZipArchive::new(Cursor::new(bytes)).is_ok_and(|z| z.index_for_name("word/document.xml").is_some())
}

fn zip_error(e: ZipError) -> ParseError {
    match e {
        ZipError::InvalidPassword | ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => ParseError::Encrypted,
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
