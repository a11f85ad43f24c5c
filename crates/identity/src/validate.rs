//! Input rules: emails, display names, passwords, group names.

use crate::config::PasswordPolicy;
use crate::error::{IdentityError, Result};

pub const MAX_EMAIL: usize = 254;
pub const MAX_PASSWORD: usize = 1024;
pub const MAX_DISPLAY_NAME: usize = 128;

/// Trims and lower-cases an email and checks its shape. Case-insensitive uniqueness follows.
pub fn normalize_email(raw: &str) -> Result<String> {
    let e = raw.trim().to_lowercase();
    let bad = || IdentityError::Invalid("email must be a valid address of at most 254 characters".into());
    if e.is_empty() || e.len() > MAX_EMAIL || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    {
        return Err(bad());
    }
    Ok(e)
}

pub fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

pub fn display_name(raw: Option<&str>, email: &str) -> Result<String> {
    let n = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or_else(|| email.split('@').next().unwrap_or(email));
    if n.chars().count() > MAX_DISPLAY_NAME || n.chars().any(char::is_control) {
        return Err(IdentityError::Invalid(
            "displayName must be at most 128 characters, without control characters".into(),
        ));
    }
    Ok(n.to_owned())
}

pub fn check_password(p: &PasswordPolicy, password: &str, email: &str) -> Result<()> {
    let weak = |m: String| Err(IdentityError::WeakPassword(m));
    let n = password.chars().count();
    if n < p.min_length {
        return weak(format!("the password must be at least {} characters long", p.min_length));
    }
    if password.len() > MAX_PASSWORD {
        return weak(format!("the password must be at most {MAX_PASSWORD} bytes"));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    if lower == email || (!local.is_empty() && lower == local) {
        return weak("the password must not be your email address".into());
    }
    if p.require_lowercase && !password.chars().any(char::is_lowercase) {
        return weak("the password must contain a lower-case letter".into());
    }
    if p.require_uppercase && !password.chars().any(char::is_uppercase) {
        return weak("the password must contain an upper-case letter".into());
    }
    if p.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
        return weak("the password must contain a digit".into());
    }
    if p.require_symbol && !password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
        return weak("the password must contain a symbol".into());
    }
    Ok(())
}

/// Group names: 1–64 of `a-z 0-9 _ - .`, starting with a letter or digit.
pub fn group_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid("invalid group name: use 1-64 characters of a-z, 0-9, '_', '-', '.'".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
        for bad in ["", "a", "a@b", "@b.c", "a@.b.c", "a b@c.d", "a@b..c", &format!("{}@b.cd", "a".repeat(300))] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
    #[test]
    fn passwords() {
        let p = PasswordPolicy::default();
        assert!(check_password(&p, "short", "a@b.cd").is_err());
        assert!(check_password(&p, "alice@example.com", "alice@example.com").is_err());
        assert!(check_password(&p, "a long enough passphrase", "a@b.cd").is_ok());
        let strict = PasswordPolicy { require_digit: true, require_uppercase: true, require_symbol: true, ..p };
        assert!(check_password(&strict, "a long enough passphrase", "a@b.cd").is_err());
        assert!(check_password(&strict, "A long enough passphrase 1!", "a@b.cd").is_ok());
    }
}
