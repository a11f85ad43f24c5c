//! The data directory and the master key.

use crate::config::Config;
use anyhow::{Context, bail};
use rampart_crypto::{Keyring, MasterKey};
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

/// The master key: inline (`crypto.master_key`), from `crypto.master_key_file`, or from
/// `{data_dir}/master.key`, generated there on first start. A configured file that is
/// missing, weak or readable by others stops start-up.
pub fn load_keyring(cfg: &Config) -> anyhow::Result<Keyring> {
    let c = &cfg.crypto;
    let active = if let Some(k) = &c.master_key {
        MasterKey::from_encoded(k.expose()).map_err(|e| {
            anyhow::anyhow!("crypto.master_key: {e}. Generate one with: head -c 32 /dev/urandom | base64")
        })?
    } else if let Some(p) = &c.master_key_file {
        if !p.exists() {
            bail!(
                "crypto.master_key_file {} does not exist. Create it with: head -c 32 /dev/urandom | base64 > {} && chmod 600 {}",
                p.display(),
                p.display(),
                p.display()
            );
        }
        read_key_file(p)?
    } else {
        let p = cfg.server.data_dir.join("master.key");
        if p.exists() {
            read_key_file(&p)?
        } else {
            let k = MasterKey::generate();
            write_secret_file(&p, &format!("{}\n", k.encode()))?;
            tracing::warn!(path = %p.display(), key_id = k.id(), "generated a new master key in the data dir; back it up, or set RAMPART_MASTER_KEY_FILE to keep it elsewhere");
            k
        }
    };
    let mut ring = Keyring::new(active);
    for p in &c.previous_key_files {
        ring = ring.with_previous(read_key_file(p)?);
    }
    Ok(ring)
}
