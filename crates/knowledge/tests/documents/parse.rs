use crate::fixtures::{self, Lcg};
use rampart_knowledge::parse::{BlockKind, Format, Limits, ParseError, Parsed, parse, sniff};

fn ok(bytes: &[u8]) -> Parsed {
    parse(bytes, &Limits::default()).unwrap()
}

fn texts(p: &Parsed) -> Vec<&str> {
    p.blocks.iter().map(|b| b.text.as_str()).collect()
}

fn find<'a>(p: &'a Parsed, text: &str) -> &'a rampart_knowledge::parse::Block {
    p.blocks.iter().find(|b| b.text == text).unwrap_or_else(|| panic!("no block {text:?} in {:#?}", texts(p)))
}

#[test]
fn pdf_text_per_page_with_paragraphs_and_title() {
    let bytes = fixtures::three_page_pdf();
    assert_eq!(sniff(&bytes), Some(Format::Pdf));
    let p = ok(&bytes);
    assert_eq!(p.format, Format::Pdf);
    assert_eq!(p.title.as_deref(), Some("Quarterly Report"));
    let pages: Vec<(Option<u32>, &str)> = p.blocks.iter().map(|b| (b.page, b.text.as_str())).collect();
    assert_eq!(
        pages,
        vec![
            (Some(1), "Alpha page one begins here. It continues on a second line."),
            (Some(1), "A second paragraph on page one."),
            (Some(2), "Bravo page two text."),
            (Some(3), "Charlie page three closes the document."),
        ]
    );
    assert!(p.blocks.iter().all(|b| b.kind == BlockKind::Paragraph && b.heading_path.is_empty()));
}

#[test]
fn pdf_page_limit() {
    let limits = Limits { max_pages: 2, ..Limits::default() };
    assert_eq!(parse(&fixtures::three_page_pdf(), &limits), Err(ParseError::TooManyPages { pages: 3, max: 2 }));
}

#[test]
fn pdf_with_user_password_is_encrypted() {
    let doc = fixtures::pdf(&[&[&["Secret text"]]], None);
    let bytes = fixtures::encrypt(doc, "open-sesame");
    assert!(bytes.windows(8).any(|w| w == b"/Encrypt"));
    assert_eq!(sniff(&bytes), Some(Format::Pdf));
    let e = parse(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(e, ParseError::Encrypted);
    assert_eq!(e.code(), "encrypted");
}

#[test]
fn pdf_with_owner_password_only_is_read() {
    // No password is needed to open it, so its text is as public as a plain PDF's.
    let doc = fixtures::pdf(&[&[&["Readable without a password"]]], None);
    let p = ok(&fixtures::encrypt(doc, ""));
    assert_eq!(texts(&p), ["Readable without a password"]);
}

#[test]
fn pdf_with_unknown_security_handler_is_encrypted() {
    assert_eq!(parse(&fixtures::handmade_encrypted_pdf(), &Limits::default()), Err(ParseError::Encrypted));
}

#[test]
fn docx_headings_lists_tables_and_title() {
    let bytes = fixtures::docx();
    assert_eq!(sniff(&bytes), Some(Format::Docx));
    let p = ok(&bytes);
    assert_eq!(p.format, Format::Docx);
    assert_eq!(p.title.as_deref(), Some("Employee Handbook"));
    assert_eq!(
        texts(&p),
        [
            "Employee Handbook",
            "Leave",
            "Staff get 25 days & public holidays.",
            "Ask your manager first",
            "Sick leave",
            "Report sickness before 9:00.",
            "Grade | Days",
            "Junior | 25",
            "Boxed note Outer text",
            "Travel",
            "Book trains in advance.",
        ]
    );
    assert_eq!(find(&p, "Leave").kind, BlockKind::Heading { level: 1 });
    assert_eq!(find(&p, "Ask your manager first").kind, BlockKind::ListItem);
    let sick = find(&p, "Sick leave");
    assert_eq!(sick.kind, BlockKind::Heading { level: 2 }, "heading 2 through a localised style id");
    assert_eq!(sick.heading_path, ["Leave", "Sick leave"]);
    let row = find(&p, "Junior | 25");
    assert_eq!((row.kind, row.heading_path.clone()), (BlockKind::TableRow, vec!["Leave".into(), "Sick leave".into()]));
    assert_eq!(find(&p, "Book trains in advance.").heading_path, ["Travel"]);
}

#[test]
fn html_drops_script_style_nav_and_keeps_structure() {
    assert_eq!(sniff(fixtures::HTML.as_bytes()), Some(Format::Html));
    let p = ok(fixtures::HTML.as_bytes());
    assert_eq!(p.title.as_deref(), Some("Team & Tools"));
    assert_eq!(
        texts(&p),
        [
            "Welcome",
            "First paragraph with bold and élève.",
            "Unclosed paragraph",
            "In a div",
            "Lists",
            "One",
            "Two",
            "Name | Role",
            "Ada | Engineer",
            "line 1\n  line 2",
        ]
    );
    assert_eq!(find(&p, "Lists").kind, BlockKind::Heading { level: 2 });
    assert_eq!(find(&p, "Two").kind, BlockKind::ListItem);
    assert_eq!(find(&p, "Two").heading_path, ["Welcome", "Lists"]);
    assert_eq!(find(&p, "Ada | Engineer").kind, BlockKind::TableRow);
    assert_eq!(find(&p, "line 1\n  line 2").kind, BlockKind::Code);
}

#[test]
fn markdown_structure() {
    assert_eq!(sniff(fixtures::MARKDOWN.as_bytes()), Some(Format::Markdown));
    let p = ok(fixtures::MARKDOWN.as_bytes());
    assert_eq!(p.title.as_deref(), Some("Guide"));
    let kinds: Vec<(BlockKind, &str)> = p.blocks.iter().map(|b| (b.kind, b.text.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (BlockKind::Heading { level: 1 }, "Guide"),
            (BlockKind::Paragraph, "Intro paragraph over two lines."),
            (BlockKind::Heading { level: 2 }, "Install"),
            (BlockKind::ListItem, "first step"),
            (BlockKind::ListItem, "second step"),
            (BlockKind::ListItem, "nested step"),
            (BlockKind::Code, "cargo build\ncargo test"),
            (BlockKind::TableRow, "Key | Value"),
            (BlockKind::TableRow, "a | 1"),
            (BlockKind::Heading { level: 2 }, "Use"),
            (BlockKind::Paragraph, "Run it."),
        ]
    );
    assert_eq!(find(&p, "Run it.").heading_path, ["Guide", "Use"]);
}

#[test]
fn csv_rows_named_by_header() {
    assert_eq!(sniff(fixtures::CSV.as_bytes()), Some(Format::Csv));
    let p = ok(fixtures::CSV.as_bytes());
    assert_eq!(
        texts(&p),
        [
            "name: Ada; city: London; note: likes, commas",
            "name: Grace; city: New York; note: two lines",
            "name: Linus; city: Helsinki",
        ]
    );
    assert!(p.blocks.iter().all(|b| b.kind == BlockKind::TableRow));
    let semicolons = "a;b;c\n1;2;3\n4;5;6\n";
    assert_eq!(sniff(semicolons.as_bytes()), Some(Format::Csv));
}

#[test]
fn json_pretty_members() {
    assert_eq!(sniff(fixtures::JSON.as_bytes()), Some(Format::Json));
    let p = ok(fixtures::JSON.as_bytes());
    assert_eq!(p.blocks.len(), 3);
    // Members come in key order (serde_json without `preserve_order`).
    assert!(
        p.blocks[0].text.starts_with("\"limits\": {\n  \"chars\": 20000000,\n  \"pages\": 2000"),
        "{:?}",
        p.blocks[0].text
    );
    assert!(p.blocks.iter().all(|b| b.kind == BlockKind::Code));
}

#[test]
fn plain_text_paragraphs_and_encodings() {
    assert_eq!(sniff(fixtures::TEXT.as_bytes()), Some(Format::Text));
    let p = ok(fixtures::TEXT.as_bytes());
    assert_eq!(
        texts(&p),
        ["First paragraph of plain text, wrapped over lines.", "Second paragraph.", "Third one after two blank lines."]
    );
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("Grüße aus Köln\n\nZweiter".encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(sniff(&utf16), Some(Format::Text));
    assert_eq!(texts(&ok(&utf16)), ["Grüße aus Köln", "Zweiter"]);
    let latin = b"Caf\xe9 cr\xe8me, na\xefve.\n";
    assert_eq!(texts(&ok(latin)), ["Café crème, naïve."]);
}

#[test]
fn sniffing_ignores_names_and_refuses_binary() {
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), None);
    assert_eq!(parse(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", &Limits::default()), Err(ParseError::Unsupported));
    // A .txt that looks like Markdown is Markdown.
    assert_eq!(sniff(b"Notes\n=====\n\nsome text"), Some(Format::Markdown));
    assert_eq!(sniff(b"  \n<p>Just a fragment</p>"), Some(Format::Html));
    assert_eq!(sniff(b"<?xml version=\"1.0\"?><note>x</note>"), Some(Format::Text));
    assert_eq!(sniff(b"[not json"), Some(Format::Text));
    assert_eq!(sniff(b"Hello, world.\nGoodbye, world.\n"), Some(Format::Text), "two lines of prose are not CSV");
    // A zip that is not a DOCX.
    let other = fixtures::zip(&[("readme.txt", b"hello")]);
    assert_eq!(sniff(&other), None);
    assert_eq!(parse(&other, &Limits::default()), Err(ParseError::Unsupported));
}

#[test]
fn empty_oversized_and_too_much_text() {
    assert_eq!(parse(b"", &Limits::default()), Err(ParseError::Empty));
    let small = Limits { max_bytes: 16, ..Limits::default() };
    assert_eq!(parse(&[b'a'; 17], &small), Err(ParseError::TooLarge { size: 17, max: 16 }));
    assert_eq!(parse(&fixtures::docx(), &small).unwrap_err().code(), "too_large");
    let few_chars = Limits { max_text_chars: 20, ..Limits::default() };
    assert_eq!(parse(fixtures::TEXT.as_bytes(), &few_chars), Err(ParseError::TooMuchText { max: 20 }));
    assert_eq!(parse(&fixtures::three_page_pdf(), &few_chars), Err(ParseError::TooMuchText { max: 20 }));
}

#[test]
fn cfb_file_is_reported_encrypted() {
    let mut cfb = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    cfb.resize(4096, 0);
    assert_eq!(sniff(&cfb), None);
    assert_eq!(parse(&cfb, &Limits::default()), Err(ParseError::Encrypted));
}

#[test]
fn zip_bombs_are_refused() {
    // Over the expansion budget.
    let big = format!("<w:document><w:body>{}</w:body></w:document>", " ".repeat(3 << 20));
    let bytes = fixtures::zip(&[("word/document.xml", big.as_bytes())]);
    assert!(bytes.len() < 64 << 10, "the bomb is small: {}", bytes.len());
    let limits = Limits { max_expanded_bytes: 1 << 20, ..Limits::default() };
    assert_eq!(parse(&bytes, &limits), Err(ParseError::ArchiveTooLarge));
    // Within the budget but expanding more than 200:1.
    assert_eq!(parse(&bytes, &Limits::default()), Err(ParseError::ArchiveTooLarge));
    // Many entries that together exceed the budget.
    let chunk = vec![b'x'; 600 << 10];
    let many = fixtures::zip(&[("word/document.xml", b"<w:document/>"), ("a.bin", &chunk), ("b.bin", &chunk)]);
    assert_eq!(parse(&many, &limits), Err(ParseError::ArchiveTooLarge));
}

#[test]
fn corrupt_files_fail_cleanly() {
    let pdf = fixtures::three_page_pdf();
    let docx = fixtures::docx();
    assert_eq!(parse(&docx[..docx.len() / 2], &Limits::default()).unwrap_err().code(), "corrupt");
    assert_eq!(parse(b"%PDF-1.7\nthis is not a pdf at all", &Limits::default()).unwrap_err().code(), "corrupt");
    // A truncated PDF may still yield the pages before the cut; it must never panic.
    for cut in [10, pdf.len() / 3, pdf.len() / 2, pdf.len() - 10] {
        match parse(&pdf[..cut], &Limits::default()) {
            Ok(p) => assert_eq!(p.format, Format::Pdf),
            Err(e) => assert!(matches!(e, ParseError::Corrupt(_)), "{cut}: {e:?}"),
        }
    }
    let bad_xml = fixtures::docx_with_body("<w:p><w:r><w:t>open</w:r></w:p>");
    assert_eq!(parse(&bad_xml, &Limits::default()).unwrap_err().code(), "corrupt");
}

#[test]
fn hostile_bytes_never_panic() {
    let samples: Vec<Vec<u8>> = vec![
        fixtures::three_page_pdf(),
        fixtures::docx(),
        fixtures::HTML.as_bytes().to_vec(),
        fixtures::MARKDOWN.as_bytes().to_vec(),
        fixtures::CSV.as_bytes().to_vec(),
        fixtures::JSON.as_bytes().to_vec(),
    ];
    let mut rng = Lcg(7);
    let limits = Limits::default();
    for sample in &samples {
        for _ in 0..60 {
            let mut bytes = sample.clone();
            bytes.truncate(1 + rng.below(bytes.len()));
            for _ in 0..rng.below(8) {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            let _ = sniff(&bytes);
            if let Err(ParseError::Corrupt(detail)) = parse(&bytes, &limits) {
                assert_ne!(detail, "the PDF reader failed", "lopdf panicked");
            }
        }
    }
    for len in [1, 7, 100, 5000] {
        let garbage: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse(&garbage, &limits);
        let mut pdfish = b"%PDF-1.4\n".to_vec();
        pdfish.extend(&garbage);
        let _ = parse(&pdfish, &limits);
        let mut zipish = b"PK\x03\x04".to_vec();
        zipish.extend(&garbage);
        assert!(parse(&zipish, &limits).is_err());
    }
}

#[test]
fn error_codes_are_stable() {
    let codes: Vec<&str> = [
        ParseError::Empty,
        ParseError::TooLarge { size: 2, max: 1 },
        ParseError::TooManyPages { pages: 2, max: 1 },
        ParseError::ArchiveTooLarge,
        ParseError::TooMuchText { max: 1 },
        ParseError::Encrypted,
        ParseError::Corrupt("x".into()),
        ParseError::Unsupported,
    ]
    .iter()
    .map(ParseError::code)
    .collect();
    assert_eq!(
        codes,
        [
            "empty",
            "too_large",
            "too_many_pages",
            "archive_too_large",
            "too_much_text",
            "encrypted",
            "corrupt",
            "unsupported"
        ]
    );
}
