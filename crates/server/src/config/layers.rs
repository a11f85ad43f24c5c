//! The layers of the configuration, merged into one TOML table before it is read: the file,
//! then the environment (`RAMPART_` + the path in upper case, `__` between levels, and the short
//! aliases of DESIGN.md §3.1), then the command line.

use anyhow::{Context, bail};
use std::path::Path;
use toml::Value;

/// Short environment names of DESIGN.md §3.1, and what they stand for.
pub(super) const ALIASES: &[(&str, &str)] = &[
    ("RAMPART_LISTEN", "server.listen"),
    ("RAMPART_DATA_DIR", "server.data_dir"),
    ("RAMPART_PUBLIC_URL", "server.public_url"),
    ("RAMPART_DATABASE_URL", "database.url"),
    ("RAMPART_MASTER_KEY_FILE", "crypto.master_key_file"),
    ("RAMPART_MASTER_KEY", "crypto.master_key"),
];

/// Environment variables that are not configuration keys.
pub(super) fn ignored_env(name: &str) -> bool {
    name == "RAMPART_CONFIG" || name.starts_with("RAMPART_TEST_") || name == "RAMPART_LOG"
}

/// Command-line overrides (the highest layer).
#[derive(Clone, Debug, Default)]
pub struct Overrides(pub Vec<(String, Value)>);

fn set_path(root: &mut toml::Table, path: &str, v: Value) -> anyhow::Result<()> {
    let mut parts = path.split('.').peekable();
    let mut cur = root;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.to_owned(), v);
            return Ok(());
        }
        let e = cur.entry(p.to_owned()).or_insert_with(|| Value::Table(toml::Table::new()));
        cur = match e {
            Value::Table(t) => t,
            _ => bail!("configuration key {path}: {p} is not a section"),
        };
    }
    Ok(())
}

/// An environment value: TOML (`true`, `5`, `["a"]`) when it parses as such, else a string.
fn env_value(raw: &str) -> Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

/// The key an environment variable sets, and its value. Paths, URLs and addresses are always
/// strings (a path may look like a number).
pub(super) fn env_entry(name: &str, raw: &str) -> (String, Value) {
    let path = match ALIASES.iter().find(|(a, _)| *a == name) {
        Some((_, p)) => (*p).to_owned(),
        None => name["RAMPART_".len()..].to_lowercase().replace("__", "."),
    };
    let value =
        if path == "server.data_dir" || path.ends_with("_file") || path.ends_with("url") || path == "server.listen" {
            Value::String(raw.to_owned())
        } else {
            env_value(raw)
        };
    (path, value)
}

/// The file, the environment and the overrides, merged in that order.
pub(super) fn merge(
    file: Option<&Path>,
    env: &[(String, String)],
    overrides: &Overrides,
) -> anyhow::Result<toml::Table> {
    let mut root = toml::Table::new();
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read configuration file {}", f.display()))?;
        root = toml::from_str(&text).with_context(|| format!("{} is not valid TOML", f.display()))?;
    }
    for (k, v) in env {
        if !k.starts_with("RAMPART_") || ignored_env(k) {
            continue;
        }
        let (path, value) = env_entry(k, v);
        set_path(&mut root, &path, value).with_context(|| format!("environment variable {k}"))?;
    }
    for (p, v) in &overrides.0 {
        set_path(&mut root, p, v.clone())?;
    }
    Ok(root)
}
