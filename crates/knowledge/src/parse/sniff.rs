//! Which format a file is, from its content alone, and text decoding (UTF-8, UTF-16 with a BOM,
//! Windows-1252) for the text formats.

use super::{Format, floor_char_boundary};
use std::borrow::Cow;

/// Magic of an OLE compound file: what Office writes for a password-protected DOCX (and old
/// .doc/.xls files, which are not supported either).
pub(super) const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

pub(super) fn is_pdf(bytes: &[u8]) -> bool {
    // Readers accept the header anywhere in the first KiB.
    bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-")
}

pub(super) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Decodes text: UTF-8 (BOM optional), UTF-16 with a BOM, or, failing those, Windows-1252 when
/// the bytes look like legacy text. `None` when the bytes look binary.
pub(super) fn decode_text(bytes: &[u8]) -> Option<Cow<'_, str>> {
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

pub(super) fn sniff_text(text: &str) -> Format {
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
pub(super) fn csv_delimiter(t: &str) -> Option<u8> {
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
