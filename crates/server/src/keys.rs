//! The data directory and the master key.

use crate::config::{Config, KeySource};
use anyhow::{Context, bail};
use rampart_crypto::{Keyring, MasterKey};
use rampart_providers::keywrap::KeyWrap;
use std::io::Write;
use std::path::Path;

pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).with_context(|| format!("cannot create data dir {}", dir.display()))?;
    }
    Ok(())
}

/// Refuses a data directory that other users may read or write (unless `allow_open`): it holds
/// the database, the master key (by default), recordings, indexes and logs. The directory this
/// server makes is its owner's only; one made by hand (`mkdir`) usually is not.
pub fn check_data_dir_private(dir: &Path, allow_open: bool) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).with_context(|| format!("data dir {}", dir.display()))?.permissions().mode();
        if mode & 0o077 != 0 && !allow_open {
            bail!(
                "data dir {} may be read or written by other users (mode {:o}); run: chmod 700 {} \
                 (or set server.allow_open_data_dir = true to start anyway)",
                dir.display(),
                mode & 0o777,
                dir.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, allow_open);
    Ok(())
}

/// Writes a secret file readable by its owner only; refuses to overwrite.
pub fn write_secret_file(path: &Path, content: &str) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

fn read_key_file(path: &Path) -> anyhow::Result<MasterKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("master key file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "master key file {} is readable by other users (mode {:o}); run: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read master key file {}", path.display()))?,
    );
    MasterKey::from_encoded(&text).map_err(|e| {
        anyhow::anyhow!(
            "master key file {}: {e}. Generate one with: head -c 32 /dev/urandom | base64 > {} && chmod 600 {}",
            path.display(),
            path.display(),
            path.display()
        )
    })
}

/// The external key service of `crypto.key_source`, if any.
pub fn key_wrapper(cfg: &Config) -> anyhow::Result<Option<Box<dyn KeyWrap>>> {
    let c = &cfg.crypto;
    match c.key_source {
        KeySource::VaultTransit => {
            let v = &c.vault;
            let token = match (&v.token, &v.token_file) {
                (Some(t), _) => t.clone(),
                (None, Some(f)) => rampart_core::Secret::new(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("crypto.vault.token_file {}", f.display()))?
                        .trim()
                        .to_owned(),
                ),
                (None, None) => bail!("crypto.vault needs token_file (or token)"),
            };
            let address =
                v.address.parse().with_context(|| format!("crypto.vault.address {:?} is not a URL", v.address))?;
            let w = rampart_providers::keywrap::VaultTransit::new(rampart_providers::keywrap::VaultConfig {
                address,
                mount: v.mount.clone(),
                key_name: v.key_name.clone(),
                token,
                namespace: v.namespace.clone(),
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Some(Box::new(w)))
        }
        #[cfg(feature = "aws-kms")]
        KeySource::AwsKms => {
            let k = &c.aws_kms;
            let endpoint_url = k
                .endpoint_url
                .as_deref()
                .map(|u| u.parse().with_context(|| format!("crypto.aws_kms.endpoint_url {u:?}")))
                .transpose()?;
            let w = rampart_providers::keywrap::AwsKms::new(rampart_providers::keywrap::AwsKmsConfig {
                key_id: k.key_id.clone(),
                region: k.region.clone(),
                endpoint_url,
                access_key_id: k.access_key_id.clone(),
                secret_access_key: k.secret_access_key.clone(),
                session_token: k.session_token.clone(),
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Some(Box::new(w)))
        }
        #[cfg(not(feature = "aws-kms"))]
        KeySource::AwsKms => {
            bail!("crypto.key_source = \"aws-kms\": this build has no AWS KMS support (cargo feature aws-kms)")
        }
        KeySource::Local => Ok(None),
    }
}

/// How key files hold the master key: the key itself (base64), or wrapped by a key service
/// (`<service>:<base64 of its ciphertext>`).
#[derive(Clone, Copy)]
enum KeyForm<'a> {
    Plain,
    Wrapped(&'a dyn KeyWrap),
}

impl KeyForm<'_> {
    /// Where the key is kept when `crypto.master_key_file` is not set.
    fn default_file(self, cfg: &Config) -> std::path::PathBuf {
        cfg.server.data_dir.join(match self {
            KeyForm::Plain => "master.key",
            KeyForm::Wrapped(_) => "master.key.wrapped",
        })
    }

    async fn read(self, path: &Path) -> anyhow::Result<MasterKey> {
        use base64::Engine as _;
        let KeyForm::Wrapped(w) = self else { return read_key_file(path) };
        let text = std::fs::read_to_string(path).with_context(|| format!("wrapped master key {}", path.display()))?;
        let (service, b64) = text.trim().split_once(':').unwrap_or(("", ""));
        if service != w.name() {
            bail!("{} holds a key wrapped by {:?}, but crypto.key_source is {:?}", path.display(), service, w.name());
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .with_context(|| format!("{}: not a wrapped master key", path.display()))?;
        let plain = zeroize::Zeroizing::new(
            w.unwrap(&blob)
                .await
                .map_err(|e| anyhow::anyhow!("cannot unwrap the master key {}: {e}", path.display()))?,
        );
        let text =
            std::str::from_utf8(&plain).map_err(|_| anyhow::anyhow!("{}: unwrapped to non-text", path.display()))?;
        MasterKey::from_encoded(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Makes a key and writes it to `path` (0600, never over an existing file).
    async fn generate(self, path: &Path) -> anyhow::Result<MasterKey> {
        use base64::Engine as _;
        let k = MasterKey::generate();
        let text = zeroize::Zeroizing::new(k.encode());
        let content = match self {
            KeyForm::Plain => format!("{}\n", *text),
            KeyForm::Wrapped(w) => {
                let blob =
                    w.wrap(text.as_bytes()).await.map_err(|e| anyhow::anyhow!("cannot wrap a new master key: {e}"))?;
                format!("{}:{}\n", w.name(), base64::engine::general_purpose::STANDARD.encode(blob))
            }
        };
        write_secret_file(path, &content)?;
        Ok(k)
    }
}

/// The master key: from `crypto.master_key`, from `crypto.master_key_file`, or from the data
/// dir, generated there on first start; with `crypto.key_source` = `aws-kms` / `vault-transit`
/// the files hold the key wrapped by the service, unwrapped here. A configured file that is
/// missing, weak, readable by others, or that the service will not unwrap stops start-up.
pub async fn load_keyring(cfg: &Config) -> anyhow::Result<Keyring> {
    let c = &cfg.crypto;
    let wrapper = key_wrapper(cfg)?;
    let form = wrapper.as_deref().map_or(KeyForm::Plain, KeyForm::Wrapped);
    let active = if let Some(k) = &c.master_key {
        // `local` only (checked with the configuration).
        MasterKey::from_encoded(k.expose()).map_err(|e| {
            anyhow::anyhow!("crypto.master_key: {e}. Generate one with: head -c 32 /dev/urandom | base64")
        })?
    } else if let Some(p) = &c.master_key_file {
        if !p.exists() {
            bail!(
                "crypto.master_key_file {} does not exist. Create it with: rampart keys new-master-key {}",
                p.display(),
                p.display()
            );
        }
        form.read(p).await?
    } else {
        let p = form.default_file(cfg);
        if p.exists() {
            form.read(&p).await?
        } else {
            let k = form.generate(&p).await?;
            tracing::warn!(path = %p.display(), key_id = k.id(), "generated a new master key in the data dir; back it up, or set RAMPART_MASTER_KEY_FILE to keep it elsewhere");
            k
        }
    };
    let mut ring = Keyring::new(active);
    for p in &c.previous_key_files {
        ring = ring.with_previous(form.read(p).await?);
    }
    Ok(ring)
}

const KEY_CHECK: &str = "master_key_check";
const KEY_CHECK_AAD: &[u8] = b"rampart-master-key-check";

/// A value sealed under the active key, for `meta.master_key_check`.
fn check_value(ring: &Keyring) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(ring.seal(KEY_CHECK_AAD, b"rampart"))
}

/// Stops start-up when the loaded master key(s) cannot open this database's data: a value
/// sealed when the database was first used (and re-wrapped by every rotation) must open. The
/// first start stores it only if no other start stored one meanwhile, then every start checks
/// the stored one: two processes started together with different master keys cannot both pass.
pub async fn check_master_key(db: &rampart_storage::Db, ring: &Keyring) -> anyhow::Result<()> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    if db.meta_get(KEY_CHECK).await?.is_none() {
        db.meta_insert_if_absent(KEY_CHECK, &check_value(ring)).await?;
    }
    match db.meta_get(KEY_CHECK).await? {
        None => bail!("meta master_key_check vanished while starting; start again"),
        Some(v) => {
            let blob = b64.decode(v.trim()).context("meta master_key_check is not base64")?;
            match ring.open(KEY_CHECK_AAD, &blob) {
                Ok(_) => Ok(()),
                Err(e) => {
                    let sealed_with = Keyring::key_id_of(&blob).unwrap_or_else(|_| "?".into());
                    bail!(
                        "the master key does not match this database ({e}): its data is sealed under master key id \
                         {sealed_with}, and the loaded key has id {}. Start with the key this database was created \
                         with (crypto.master_key_file / RAMPART_MASTER_KEY_FILE); after a rotation, keep the old key \
                         in crypto.previous_key_files until `rampart keys rotate-master` reports nothing left under it",
                        ring.active_id()
                    )
                }
            }
        }
    }
}

/// One sealed column's share of a rotation.
#[derive(Debug)]
pub struct ColumnRotation {
    pub column: String,
    pub scanned: u64,
    pub rewrapped: u64,
    /// Values no loaded key opens (sealed under a key that is neither active nor previous).
    pub unreadable: u64,
}

/// Re-wraps every data key not wrapped by the active master key, in every sealed column, in
/// batches, while servers keep running (they must already know both keys: the new one active,
/// the old one in `previous_key_files`). Content is not re-encrypted; only data keys are.
pub async fn rotate_master(db: &rampart_storage::Db, ring: &Keyring) -> anyhow::Result<Vec<ColumnRotation>> {
    let mut report = Vec::new();
    for c in rampart_storage::repo::sealed::SEALED_COLUMNS {
        let mut unreadable = 0u64;
        let r = db
            .rewrap_column(c, 500, |blob| {
                ring.rewrap(blob).unwrap_or_else(|_| {
                    unreadable += 1;
                    None
                })
            })
            .await?;
        report.push(ColumnRotation {
            column: format!("{}.{}", c.table, c.column),
            scanned: r.scanned,
            rewrapped: r.changed,
            unreadable,
        });
    }
    // Keys kept sealed in `meta` (base64).
    for name in rampart_meetings::service::SEALED_META {
        report.push(rewrap_meta(db, ring, name).await?);
    }
    // The start-up check value last: once it is under the new key, the old key is no longer
    // needed to start.
    if report.iter().all(|c| c.unreadable == 0) {
        db.meta_set(KEY_CHECK, &check_value(ring)).await?;
    }
    Ok(report)
}

/// Re-wraps one sealed `meta` value (base64) under the active master key.
async fn rewrap_meta(db: &rampart_storage::Db, ring: &Keyring, name: &str) -> anyhow::Result<ColumnRotation> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut r = ColumnRotation { column: format!("meta.{name}"), scanned: 0, rewrapped: 0, unreadable: 0 };
    let Some(v) = db.meta_get(name).await? else { return Ok(r) };
    r.scanned = 1;
    let blob = b64.decode(v.trim()).with_context(|| format!("meta {name} is not base64"))?;
    match ring.rewrap(&blob) {
        Ok(Some(new)) => {
            db.meta_set(name, &b64.encode(new)).await?;
            r.rewrapped = 1;
        }
        Ok(None) => {}
        Err(_) => r.unreadable = 1,
    }
    Ok(r)
}

/// Writes a new random master key to `path` (mode 0600; an existing file is not replaced):
/// wrapped by the key service of `cfg` when there is one, else the key itself.
pub async fn new_master_key_file(cfg: Option<&Config>, path: &Path) -> anyhow::Result<String> {
    if path.exists() {
        bail!("{} exists; a key file is never replaced", path.display());
    }
    let wrapper = cfg.map(key_wrapper).transpose()?.flatten();
    let form = wrapper.as_deref().map_or(KeyForm::Plain, KeyForm::Wrapped);
    Ok(form.generate(path).await?.id().to_owned())
}
