//! When the configuration does not read, which environment variable set the offending key, and
//! for a misspelt one the nearest valid name: `RAMPART_AUTH__MFAA` is refused as
//! `environment variable RAMPART_AUTH__MFAA: … did you mean RAMPART_AUTH__MFA?`.
//!
//! The valid names come from the error itself: serde lists the fields the section expects
//! (`unknown field `mfaa`, expected one of `mfa`, …`), so the list cannot drift from the types.

use super::layers::{ALIASES, env_entry, ignored_env};

/// `err` (the key path serde stopped at, and its message) explained in terms of the environment
/// variable that set that key; `None` when no variable did (the file or the command line).
pub(super) fn explain(path: &str, message: &str, env: &[(String, String)]) -> Option<String> {
    let path = path.trim_start_matches('.');
    let unknown = unknown_field(message);
    // The key the error is about: serde's path, with the unknown field when there is one.
    let key = match unknown {
        Some(f) if !(path == f || path.ends_with(&format!(".{f}"))) => join(path, f),
        _ => path.to_owned(),
    };
    let (var, var_path) = env
        .iter()
        .filter(|(k, _)| k.starts_with("RAMPART_") && !ignored_env(k))
        .map(|(k, v)| (k, env_entry(k, v).0))
        .find(|(_, p)| within(&key, p) || within(p, &key))?;
    let Some(field) = unknown else {
        return Some(format!("environment variable {var}: configuration key `{key}`: {message}"));
    };
    let section = key.strip_suffix(field).unwrap_or("").trim_end_matches('.');
    let fields = expected_fields(message);
    let hint = if var_path.len() >= key.len() {
        // The variable names the unknown key (or one under it): the nearest variable name, with
        // what comes after the unknown key kept (`RAMPART_AUHT__MFA` → `RAMPART_AUTH__MFA`).
        let rest = var_path.strip_prefix(key.as_str()).unwrap_or("");
        let mut names: Vec<String> = fields.iter().map(|f| env_name(&format!("{}{rest}", join(section, f)))).collect();
        if section.is_empty() {
            names.extend(ALIASES.iter().map(|(a, _)| (*a).to_owned()));
            names.push("RAMPART_CONFIG".to_owned());
        }
        names.into_iter().min_by_key(|n| strsim::levenshtein(n, var))
    } else {
        // The variable's value is a table holding the unknown key: the nearest key.
        fields.iter().map(|f| format!("`{}`", join(section, f))).min_by_key(|n| strsim::levenshtein(n, &key))
    };
    let hint = match hint {
        Some(n) => format!("; did you mean {n}?"),
        None => "; `rampart config example` lists every key".to_owned(),
    };
    Some(format!("environment variable {var}: `{key}` is not a configuration key{hint}"))
}

/// `outer` is `inner` or a key inside it (`auth.mfa` within `auth`, `models[0].id` within `models`).
fn within(outer: &str, inner: &str) -> bool {
    outer == inner || outer.strip_prefix(inner).is_some_and(|r| r.starts_with('.') || r.starts_with('['))
}

fn join(section: &str, field: &str) -> String {
    if section.is_empty() { field.to_owned() } else { format!("{section}.{field}") }
}

/// The variable that sets `key`: `RAMPART_` + the path in upper case, `__` between levels.
fn env_name(key: &str) -> String {
    format!("RAMPART_{}", key.to_uppercase().replace('.', "__"))
}

/// The field of serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// The fields of serde's "…, expected one of `a`, `b`" / "expected `a` or `b`" / "expected `a`".
fn expected_fields(message: &str) -> Vec<&str> {
    let Some((_, list)) = message.split_once("expected ") else { return Vec::new() };
    list.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serdes_messages_are_read() {
        let m = "unknown field `mfaa`, expected one of `mfa`, `self_signup`";
        assert_eq!(unknown_field(m), Some("mfaa"));
        assert_eq!(expected_fields(m), vec!["mfa", "self_signup"]);
        assert_eq!(expected_fields("unknown field `x`, expected `a` or `b`"), vec!["a", "b"]);
        assert_eq!(expected_fields("unknown field `x`, there are no fields"), Vec::<&str>::new());
        assert_eq!(unknown_field("invalid type: string, expected u32"), None);
    }
}
