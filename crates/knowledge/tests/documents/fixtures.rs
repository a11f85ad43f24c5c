//! Real files made in the test: PDFs written with lopdf, DOCX archives written with zip.

use lopdf::content::{Content, Operation};
use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions, Stream, dictionary};
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// A small deterministic generator (no dependency needed).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A PDF with one page per entry; each page is paragraphs of lines. Lines are 14 units apart,
/// paragraphs 36 (a gap the parser reads as a paragraph break).
pub fn pdf(pages: &[&[&[&str]]], title: Option<&str>) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for paragraphs in pages {
        let mut ops = vec![Operation::new("BT", vec![]), Operation::new("Tf", vec!["F1".into(), 12.into()])];
        ops.push(Operation::new("Td", vec![72.into(), 760.into()]));
        for (p, lines) in paragraphs.iter().enumerate() {
            if p > 0 {
                ops.push(Operation::new("Td", vec![0.into(), (-36).into()]));
            }
            for (l, line) in lines.iter().enumerate() {
                if l > 0 {
                    ops.push(Operation::new("Td", vec![0.into(), (-14).into()]));
                }
                ops.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
            }
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    if let Some(t) = title {
        let info = doc.add_object(dictionary! { "Title" => Object::string_literal(t) });
        doc.trailer.set("Info", info);
    }
    doc.trailer.set(
        "ID",
        vec![Object::string_literal(&b"0123456789abcdef"[..]), Object::string_literal(&b"0123456789abcdef"[..])],
    );
    doc.compress();
    doc
}

pub fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// `doc` encrypted with RC4-128 (standard security handler, revision 3).
pub fn encrypt(mut doc: Document, user_password: &str) -> Vec<u8> {
    let version = EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password,
        key_length: 128,
        permissions: Permissions::PRINTABLE,
    };
    let state = EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    save(&mut doc)
}

/// The three-page PDF most tests use.
pub fn three_page_pdf() -> Vec<u8> {
    save(&mut pdf(
        &[
            &[&["Alpha page one begins here.", "It continues on a second line."], &["A second paragraph on page one."]],
            &[&["Bravo page two text."]],
            &[&["Charlie page three closes the document."]],
        ],
        Some("Quarterly Report"),
    ))
}

/// A hand-written PDF whose trailer names an /Encrypt dictionary with an unknown handler.
pub fn handmade_encrypted_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        "<< /Filter /Secret /V 9 /R 9 /O (x) /U (y) /P -4 >>",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Encrypt 4 0 R /ID [(0123456789abcdef) (0123456789abcdef)] >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A zip archive of (name, content) entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap().into_inner()
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

/// Styles with a localised id for "heading 2", to check names are read from styles.xml.
const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:style w:type="paragraph" w:styleId="berschrift2"><w:name w:val="heading 2"/></w:style>
</w:styles>"#;

pub fn para(style: Option<&str>, text: &str) -> String {
    let ppr = style.map(|s| format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#)).unwrap_or_default();
    format!(r#"<w:p>{ppr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>"#)
}

pub fn docx_with_body(body: &str) -> Vec<u8> {
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    zip(&[
        ("[Content_Types].xml", CONTENT_TYPES.as_bytes()),
        ("word/styles.xml", STYLES.as_bytes()),
        ("word/document.xml", document.as_bytes()),
    ])
}

/// Title, headings (one through a localised style id), a list paragraph, a table, a text box
/// repeated in `mc:Fallback`, entities, a tab-stop definition that is not text.
pub fn docx() -> Vec<u8> {
    let cell = |t: &str| format!("<w:tc>{}</w:tc>", para(None, t));
    let row = |a: &str, b: &str| format!("<w:tr>{}{}</w:tr>", cell(a), cell(b));
    let body = [
        para(Some("Title"), "Employee Handbook"),
        para(Some("Heading1"), "Leave"),
        para(None, "Staff get 25 days &amp; public holidays."),
        r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Ask your manager first</w:t></w:r></w:p>"#.to_string(),
        para(Some("berschrift2"), "Sick leave"),
        para(None, "Report sickness before 9&#58;00."),
        format!("<w:tbl>{}{}</w:tbl>", row("Grade", "Days"), row("Junior", "25")),
        r#"<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p></w:txbxContent></mc:Choice><mc:Fallback><w:txbxContent><w:p><w:r><w:t>Boxed note</w:t></w:r></w:p></w:txbxContent></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>Outer text</w:t></w:r></w:p>"#.to_string(),
        para(Some("Heading1"), "Travel"),
        para(None, "Book trains in advance."),
    ]
    .concat();
    docx_with_body(&body)
}

pub const HTML: &str = r#"<!DOCTYPE html>
<html><head><title>Team &amp; Tools</title><style>body { color: red }</style>
<script>var hidden = "<p>not text</p>";</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Welcome</h1><p>First paragraph with <b>bold</b> and &eacute;l&egrave;ve.</p>
<p>Unclosed paragraph<div>In a div</div>
<h2>Lists</h2><ul><li>One<li>Two</ul>
<table><tr><th>Name<th>Role</tr><tr><td>Ada</td><td>Engineer</td></tr></table>
<pre>line 1
  line 2</pre>
<noscript>enable js</noscript>
</body></html>"#;

pub const MARKDOWN: &str = "# Guide\n\nIntro paragraph\nover two lines.\n\n## Install\n\n- first step\n- second step\n  - nested step\n\n```sh\ncargo build\ncargo test\n```\n\n| Key | Value |\n|-----|-------|\n| a   | 1     |\n\n## Use\n\nRun it.\n";

pub const CSV: &str = "name,city,note\nAda,London,\"likes, commas\"\nGrace,New York,\"two\nlines\"\nLinus,Helsinki,\n";

pub const JSON: &str = r#"{"service": "rampart", "limits": {"pages": 2000, "chars": 20000000}, "tags": ["a", "b"]}"#;

pub const TEXT: &str =
    "First paragraph of plain text,\nwrapped over lines.\n\nSecond paragraph.\n\n\nThird one after two blank lines.\n";
