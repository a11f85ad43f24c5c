//! PDF text per page with `lopdf`.
//!
//! lopdf is written to return errors on bad input (recursion and reference-cycle limits,
//! bounded decompression), but it is a large parser of a hostile format; as a last resort its
//! calls run under `catch_unwind`, turning a library panic into `Corrupt` for this document.

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
