//! SQL-injection and XSS detection over one decoded value.
//!
//! Three stages, cheapest first:
//! 1. A fast path: values made only of letters, digits and a few punctuation marks (ids,
//!    numbers, emails, slugs: most of an API's traffic) cannot carry an injection and skip the rest.
//! 2. Normalised forms of the value: a second percent-decoding (double encoding), `%uXXXX`,
//!    HTML character references, full-width forms folded to ASCII, and — for the keyword rules —
//!    lower case with SQL comments removed and whitespace collapsed.
//! 3. libinjection's tokenizers (`libinjectionrs`, a Rust port of the C library: SQL fingerprints
//!    and an HTML5 tokenizer) on the value and its decoded forms, then a short list of keyword
//!    rules of ours for what a tokenizer cannot see in a fragment: SQL functions and catalogue
//!    names, stacked and time-based queries, PostgreSQL JSON and NoSQL operators, JavaScript
//!    sinks, event-handler attributes and script URLs. Each rule has a stable id that the refusal
//!    log and metrics carry.
//!
//! Measured on the OWASP CRS regression tests in `bench/RESULTS.md` (`waf-eval`).

use regex::bytes::{RegexSet, RegexSetBuilder};
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// What fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// libinjection's SQL tokenizer.
    Sqli,
    /// libinjection's HTML5 tokenizer.
    Xss,
    /// One of [`RULES`], by id.
    Rule(&'static str),
}

impl Finding {
    /// A stable name for logs and metrics.
    pub fn rule_id(self) -> &'static str {
        match self {
            Finding::Sqli => "libinjection-sqli",
            Finding::Xss => "libinjection-xss",
            Finding::Rule(id) => id,
        }
    }
}

/// Keyword rules, matched against the lower-cased, comment-free, whitespace-collapsed value.
/// Written for this project; each pattern is anchored on something that does not occur in prose
/// (a parenthesis right after a function name, an operator next to a quote, a catalogue name).
pub const RULES: &[(&str, &str)] = &[
    // SQL
    ("sql-union-select", r"\bunion\b(?: (?:all|distinct))? ?\(? ?select\b"),
    (
        "sql-function",
        r"\b(?:benchmark|sleep|pg_sleep|load_file|updatexml|extractvalue|sqlite_[a-z_]+|utl_(?:inaddr|http)\.[a-z_]+|dbms_[a-z_]+\.[a-z_]+|group_concat|concat_ws|json_extract|json_keys|lo_import|lo_export|unistr|char|chr|concat|substr|substring|mid|ascii|ord|hex|unhex|md5|sha1|version|database|schema|user|current_user|system_user|session_user|now|sysdate|if|ifnull|coalesce|cast|convert|length|rand|exp|floor|elt|make_set|name_const|xp_[a-z]+|sp_[a-z]+|pg_[a-z_]+|randomblob|to_char|ctxsys\.[a-z_]+|db_name|schema_name|find_in_set|compress|uncompress|xmltype|cos|sin|pow|decode|encode|insert|trim|rtrim|ltrim|strcmp|iif|lo_get|div|btoa)\(",
    ),
    (
        "sql-function-spaced",
        r"\b(?:benchmark|pg_sleep|load_file|updatexml|extractvalue|sqlite_[a-z_]+|group_concat|json_extract|lo_import|concat|database|compress|uncompress|rand) \(|\bpg_sleep\b|\bselect ?sleep\b|unionselect",
    ),
    (
        "sql-catalog",
        r"\b(?:information_schema|pg_catalog|pg_shadow|pg_user|pg_database|mysql\.(?:user|db)|sysobjects|syscolumns|sysdatabases|msdb|sqlite_(?:master|schema|temp_master)|all_tables|user_tables|dba_users|tempdb|northwind|msysaccessobjects|msysobjects|schema_name|db_name)\b|\bmaster\.\.|\bv\$version\b",
    ),
    (
        "sql-stacked",
        r#"; ?(?:drop|truncate|shutdown)\b|; ?(?:insert into|delete from|update [a-z0-9_.`"\[\]]+ set|select\b.{0,60}\bfrom\b|create (?:table|user|function|trigger)|alter (?:table|user|database)|exec(?:ute)? |declare @)|['"`)] ?; ?(?:select|insert|update|delete|drop|exec|declare|create|alter|waitfor|shutdown)\b"#,
    ),
    ("sql-outfile", r"\binto (?:outfile|dumpfile)\b|\bload data (?:local )?infile\b"),
    ("sql-time", r"\bwaitfor (?:delay|time)\b"),
    ("sql-leading-keyword", r#"^['"`] ?(?:select|union|insert|update|delete|drop|exec|declare)\b|^['"`] ?!"#),
    ("sql-alias", r#"['"`0-9] ?as ?['"`]?[a-z_0-9]*['"`]? ?from\b|` ?(?:regexp|rlike)\b"#),
    (
        "sql-magic-number",
        r"\b(?:4294967296|4294967295|2147483648|2147483647|9223372036854775807|9223372036854775808|18446744073709551615)\b",
    ),
    ("sql-scientific-trick", r"[0-9]\.e ?[(.]"),
    ("sql-insert-values", r"\b(?:insert|replace) (?:into )?[a-z0-9_.`]+ ?\([^)]*\) ?values ?\("),
    ("sql-quote-operator", r#"['"`] ?(?:or|and|xor|\|\||&&) ?['"`]?[a-z0-9_]*['"`]? ?(?:=|<|>|!=)"#),
    ("sql-quote-comment", r#"['"`] ?\)? ?(?:--|#)(?: |$)"#),
    ("sql-mysql-comment", r"/\*![0-9]*"),
    ("sql-pg-cast", r"::(?:int|integer|bigint|text|varchar|jsonb?|regclass|oid|numeric|bool|boolean)\b"),
    ("sql-json-operator", r#"['"\)] ?(?:@>|<@|\?\||\?&|#>>?|->>?|\? ?['"])|['"]\$[.\[]"#),
    (
        "sql-procedure",
        r"\bprocedure analyse\b|\bdeclare @[a-z0-9_]+|\bexec(?:ute)? (?:master\.|xp_|sp_|immediate\b)|\bselect\b.{0,80}\bfrom\b.{0,80}\bwhere\b.{0,40}=",
    ),
    (
        "sql-having",
        r"\bgroup by\b.{0,60}\bhaving\b|\border by [0-9]+ ?(?:--|#|$)|\b(?:and|or) [0-9]+ ?(?:=|<>|!=) ?[0-9]+\b",
    ),
    ("sql-like-paren", r"\) ?(?:like|rlike|regexp|sounds like) ?\("),
    (
        "sql-ddl",
        r"\balter (?:table|user|database|system)\b|\bdrop (?:table|database|user|view|function)\b|\bcreate (?:table|user|function|trigger)\b|\btruncate table\b|\binsert into\b.{0,120}\bvalues ?\(",
    ),
    ("sql-float-overflow", r"2\.2250738585072011e-308"),
    ("sql-email-quote", r"[a-z0-9._-]@[a-z0-9.-]+['\x22`] ?;"),
    // NoSQL (MongoDB-style operators in parameter names or JSON keys)
    (
        "nosql-operator",
        r#"\[\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|or|and|not|nor|expr|elemmatch|type|all|size|mod|text)\]|"?\$(?:where|regex|ne|gt|gte|lt|lte|nin|expr|function|accumulator)"? ?:"#,
    ),
    // XSS
    ("xss-event-handler", r#"(?:^|[\s"'`;/0-9=<>,(])(?:on[a-z]{3,60}|formaction|srcdoc|xlink:href) ?="#),
    (
        "xss-script-url",
        r#"\b(?:java|vb|live)script ?:|\bdata ?: ?(?:text/html|image/svg|application/(?:x-)?(?:javascript|ecmascript)|[a-z]+/[a-z+.-]+ ?;base64 ?,|,)|-moz-binding|\bexpression\(|url ?\( ?['"]? ?(?:java|vb)script"#,
    ),
    (
        "xss-js-sink",
        r#"\bdocument ?\. ?(?:cookie|domain|write|writeln|location|body|createelement|queryselector|getelementby[a-z]*)|\bwindow ?(?:\. ?(?:location|open|name)|\[)|\.(?:innerhtml|outerhtml|textcontent) ?=|\b(?:eval|settimeout|setinterval|execscript|fromcharcode|alert|prompt|confirm|atob)[(`]|\bnew function ?\(|\bimport ?\(|\b(?:self|window|document) ?\[|\b(?:top|parent|globalthis)\[|\(document\) ?\[|\bimport ?\{[^}]*\} ?from\b|\.call ?`|\breflect ?\.(?:apply|construct|get)"#,
    ),
    (
        "xss-tag",
        r"<[ /]*(?:script|iframe|frame|frameset|object|embed|applet|svg|math|style|link|meta|base|form|img|image|body|input|button|video|audio|source|isindex|marquee|dialog|details|template|xml|xss|div|keygen|textarea|select|option)\b",
    ),
    ("xss-spaced-tag", r"<(?:[a-z] ){2,}[a-z]|<[a-z]+:[a-z]+"),
    ("xss-doctype", r"<!(?:entity|doctype|element|attlist)\b|<\?xml|<!--#(?:exec|include|set|echo)"),
    ("xss-jsfuck", r"\(!\[\]\+\[\]\)|\[\]\[|\(\+\[\]\)|!!?\[ ?\]|\[[ 0-9]*\] ?\. ?(?:sort|constructor|map|filter)\b"),
    ("xss-utf7", r"\+adw-|\+ad4-"),
];

// ASCII classes and word boundaries (`unicode(false)`) over bytes: the rules are ASCII, and the
// lazy DFA then never has to fall back to a slower engine on non-ASCII input.
static SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSetBuilder::new(RULES.iter().map(|(_, p)| *p))
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("WAF rule does not compile: {e}"))
});

/// Values already found clean, by keyed hash (SipHash with a per-process random key, so a
/// value cannot be crafted to collide with a cached one). Browsers repeat the same
/// `User-Agent`, `Referer` and cookies on every request; the verdict for a value never changes.
struct CleanCache {
    slots: Box<[AtomicU64]>,
    keys: std::hash::RandomState,
}

const CACHE_SLOTS: usize = 8192;
const CACHE_MAX_LEN: usize = 1024;

static CACHE: LazyLock<CleanCache> = LazyLock::new(|| CleanCache {
    slots: (0..CACHE_SLOTS).map(|_| AtomicU64::new(0)).collect(),
    keys: std::hash::RandomState::new(),
});

impl CleanCache {
    fn slot(&self, value: &[u8]) -> (&AtomicU64, u64) {
        let h = self.keys.hash_one(value) | 1;
        (&self.slots[(h as usize) & (CACHE_SLOTS - 1)], h)
    }
}

/// Checks that every rule compiles (called at start-up so a bad rule fails there, not on a request).
pub fn init() {
    LazyLock::force(&SET);
}

/// Bytes that can never start or take part in an injection on their own.
fn inert(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b' ' | b'-' | b'_' | b'.' | b'@' | b':' | b'/' | b',')
}

/// The first finding in `value`, if any.
pub fn inspect(value: &[u8]) -> Option<Finding> {
    if value.len() < 4 && value.iter().all(|&b| inert(b)) {
        return None;
    }
    if value.len() > CACHE_MAX_LEN {
        return inspect_uncached(value);
    }
    let (slot, h) = CACHE.slot(value);
    if slot.load(Ordering::Relaxed) == h {
        return None;
    }
    let found = inspect_uncached(value);
    if found.is_none() {
        slot.store(h, Ordering::Relaxed);
    }
    found
}

fn inspect_uncached(value: &[u8]) -> Option<Finding> {
    if value.iter().all(|&b| inert(b)) {
        // Letters, digits and separators only: still run the keyword rules (a bare
        // `information_schema` or `onload=`-less sink such as `document.cookie` has no quote),
        // but only on values long enough to hold one.
        if value.len() < 4 {
            return None;
        }
        return keyword_rules(&String::from_utf8_lossy(value));
    }
    let forms = decoded_forms(value);
    for f in &forms {
        if libinjectionrs::detect_sqli(f).is_injection() {
            return Some(Finding::Sqli);
        }
        if libinjectionrs::detect_xss(f).is_injection() {
            return Some(Finding::Xss);
        }
    }
    for f in &forms {
        if let Some(hit) = keyword_rules(&String::from_utf8_lossy(f)) {
            return Some(hit);
        }
    }
    None
}

fn keyword_rules(s: &str) -> Option<Finding> {
    let norm = normalize(s);
    SET.matches(norm.as_bytes()).iter().next().map(|i| Finding::Rule(RULES[i].0))
}

/// Lower case, SQL comments (`/* … */` except MySQL's `/*! … */`) removed, whitespace
/// (and control characters) collapsed to one space.
fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let mut last_space = false;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') && b.get(i + 2) != Some(&b'!') {
            match s[i + 2..].find("*/") {
                Some(end) => i += end + 4,
                None => i = b.len(),
            }
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        let w = c.len_utf8();
        if c.is_whitespace() || c.is_control() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.extend(c.to_lowercase());
            last_space = false;
        }
        i += w;
    }
    out
}

/// The value as received, and each decoding that changes it.
fn decoded_forms(value: &[u8]) -> Vec<Cow<'_, [u8]>> {
    let mut forms: Vec<Cow<'_, [u8]>> = vec![Cow::Borrowed(value)];
    let mut cur: Cow<'_, [u8]> = Cow::Borrowed(value);
    if cur.contains(&b'%') {
        let d = percent_u_decode(&cur);
        let d: Vec<u8> = percent_encoding::percent_decode(&d).collect();
        if d.as_slice() != &*cur {
            cur = Cow::Owned(d);
            forms.push(cur.clone());
        }
    }
    if cur.contains(&b'&') {
        let d = html_decode(&cur);
        if d.as_slice() != &*cur {
            cur = Cow::Owned(d);
            forms.push(cur.clone());
        }
    }
    if cur.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) && cur.contains(&b':') {
        // Browsers drop tabs and newlines inside a URL scheme: `ja\tvascript:`.
        forms.push(Cow::Owned(cur.iter().copied().filter(|b| !matches!(b, b'\t' | b'\n' | b'\r')).collect()));
    }
    if std::str::from_utf8(&cur).is_err() {
        // Not UTF-8: a 7-bit reading (`\xbcscript\xbe` is `<script>` to a browser that drops the high bit).
        forms.push(Cow::Owned(cur.iter().map(|b| b & 0x7f).collect()));
    }
    if let Ok(s) = std::str::from_utf8(&cur)
        && s.chars().any(|c| ('\u{ff01}'..='\u{ff5e}').contains(&c) || c == '\u{3000}')
    {
        let folded: String = s
            .chars()
            .map(|c| match c {
                '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xff01 + 0x21).unwrap_or(c),
                '\u{3000}' => ' ',
                c => c,
            })
            .collect();
        forms.push(Cow::Owned(folded.into_bytes()));
    }
    forms
}

/// `%uXXXX` (IIS-style) escapes to UTF-8.
fn percent_u_decode(v: &[u8]) -> Cow<'_, [u8]> {
    if !v.windows(2).any(|w| w[0] == b'%' && (w[1] == b'u' || w[1] == b'U')) {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && i + 5 < v.len()
            && matches!(v[i + 1], b'u' | b'U')
            && let Some(cp) = std::str::from_utf8(&v[i + 2..i + 6]).ok().and_then(|h| u32::from_str_radix(h, 16).ok())
            && let Some(c) = char::from_u32(cp)
        {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            i += 6;
            continue;
        }
        out.push(v[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// HTML character references: numeric (`&#60;`, `&#x3c;`, with or without `;`) and the named
/// ones that matter for markup and script (`&lt; &gt; &quot; &apos; &amp; &tab; &newline; &colon;
/// &lpar; &rpar;`).
fn html_decode(v: &[u8]) -> Vec<u8> {
    const NAMED: &[(&[u8], char)] = &[
        (b"lt", '<'),
        (b"gt", '>'),
        (b"quot", '"'),
        (b"apos", '\''),
        (b"amp", '&'),
        (b"tab", '\t'),
        (b"newline", '\n'),
        (b"colon", ':'),
        (b"lpar", '('),
        (b"rpar", ')'),
        (b"sol", '/'),
        (b"bsol", '\\'),
        (b"semi", ';'),
        (b"equals", '='),
    ];
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'&' {
            let rest = &v[i + 1..];
            if rest.first() == Some(&b'#') {
                let (hex, start) = match rest.get(1) {
                    Some(b'x' | b'X') => (true, 2),
                    _ => (false, 1),
                };
                let digits = rest[start..]
                    .iter()
                    .take_while(|b| if hex { b.is_ascii_hexdigit() } else { b.is_ascii_digit() })
                    .count();
                if digits > 0 && digits <= 8 {
                    let txt = std::str::from_utf8(&rest[start..start + digits]).unwrap_or("0");
                    let cp = u32::from_str_radix(txt, if hex { 16 } else { 10 }).unwrap_or(0);
                    if let Some(c) = char::from_u32(cp) {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        let mut used = 1 + start + digits;
                        if rest.get(start + digits) == Some(&b';') {
                            used += 1;
                        }
                        i += used;
                        continue;
                    }
                }
            } else {
                let name_len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
                let name = rest[..name_len].to_ascii_lowercase();
                if let Some((_, c)) = NAMED.iter().find(|(n, _)| *n == name.as_slice()) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    let mut used = 1 + name_len;
                    if rest.get(name_len) == Some(&b';') {
                        used += 1;
                    }
                    i += used;
                    continue;
                }
            }
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_compile() {
        init();
    }

    #[test]
    fn attacks_are_found() {
        for a in [
            "1' OR '1'='1",
            "1 UNION SELECT username, password FROM users--",
            "x' AND sleep(5)--",
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "＜script＞alert(1)＜/script＞",
            "javascript:alert(document.cookie)",
            "1; DROP TABLE users",
            "SELECT * FROM information_schema.tables",
            "' INTO OUTFILE '/tmp/x",
            "u[$ne]=1",
            "'; WAITFOR DELAY '0:0:5'--",
        ] {
            assert!(inspect(a.as_bytes()).is_some(), "missed: {a}");
        }
    }

    #[test]
    fn ordinary_values_pass() {
        for ok in [
            "hello world",
            "0190a9f0-7c1e-7a2b-9d1f-0123456789ab",
            "alice@example.com",
            "What is the refund policy for annual plans?",
            "Tom's order (the second one) shipped on 2024-05-01.",
            "The select committee met on Monday; members from both parties attended.",
            "Patients who lacked sleep (n = 42) were more likely to report pain.",
            "Union members select their delegates.",
            "Q&A: rock & roll, fish & chips",
            "a+b=c",
            "price <= 100 and >= 10",
            "C++ or C#?",
            "50% off",
            "see https://example.com/docs?page=2&lang=en",
        ] {
            assert_eq!(inspect(ok.as_bytes()), None, "false positive: {ok}");
        }
    }

    #[test]
    fn verdicts_are_the_same_from_the_cache() {
        for _ in 0..3 {
            assert!(inspect(b"1' OR '1'='1").is_some());
            assert_eq!(inspect(b"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"), None);
        }
    }

    #[test]
    fn decoders_decode() {
        assert_eq!(html_decode(b"&#60;a&#x3e;&lt;&amp;&colon;"), "<a><&:".as_bytes());
        assert_eq!(&*percent_u_decode(b"%uff1cx%u0020"), "＜x ".as_bytes());
        assert_eq!(normalize("SeLeCt/* c */1\t\n  FROM"), "select 1 from");
    }
}
