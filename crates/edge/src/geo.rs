//! Geo allow- and deny-lists by ISO 3166 country code, from a MaxMind-format database
//! (GeoLite2 / GeoIP2 Country or City, DB-IP and other `.mmdb` files with `country.iso_code`).
//!
//! Internal addresses (loopback, private, link-local, unique-local) have no country and are
//! never geo-checked. A public address the database does not place is refused by an
//! allow-list (it is not in the list) and admitted by a deny-list.

use std::net::IpAddr;
use std::path::Path;

pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GeoDb({})", self.reader.metadata().database_type)
    }
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<Self, String> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { reader })
    }

    /// The ISO country code of `ip`, upper case, if the database has one.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let r = self.reader.lookup(ip).ok()?;
        let code: Option<&str> = r.decode_path(&maxminddb::path!["country", "iso_code"]).ok()?;
        code.map(str::to_ascii_uppercase)
    }
}

/// Addresses with no place in the world: never geo-checked.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_loopback() || v.is_private() || v.is_link_local() || v.is_unspecified(),
        IpAddr::V6(v) => v.is_loopback() || v.is_unspecified() || v.is_unique_local() || v.is_unicast_link_local(),
    }
}

/// The geo rules.
#[derive(Debug)]
pub struct GeoPolicy {
    pub db: GeoDb,
    /// Upper-case ISO codes; empty: no allow-list.
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl GeoPolicy {
    /// The rule that refuses `ip`, if one does. `ip` is canonical (IPv4-mapped folded).
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        if is_internal(ip) {
            return None;
        }
        let c = self.db.country(ip);
        if let Some(c) = &c
            && self.deny.iter().any(|d| d == c)
        {
            return Some("geo-deny-list");
        }
        if !self.allow.is_empty() && !c.as_ref().is_some_and(|c| self.allow.iter().any(|a| a == c)) {
            return Some("geo-allow-list");
        }
        None
    }
}
