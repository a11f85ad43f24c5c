//! Plain text, CSV and JSON.

use super::sniff::csv_delimiter;
use super::{BlockKind, Builder, ParseError, collapse};

/// Paragraphs separated by blank lines.
pub(super) fn parse_plain(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
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
pub(super) fn parse_csv(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
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
pub(super) fn parse_json(text: &str, b: &mut Builder<'_>) -> Result<(), ParseError> {
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
