//! The command line: `serve`, `user`, `apikey`, `config`, `keys`, `kb`, `audit`.

use crate::AppState;
use crate::config::{Config, EXAMPLE, Overrides};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use rampart_core::error::PublicError as _;
use rampart_identity::RequestMeta;
use std::io::{Read, Write};
use std::path::PathBuf;
use toml::Value;

#[derive(Parser, Debug)]
#[command(name = "rampart", version, about = "Self-hosted, security-first GenAI assistant platform")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every data-touching command shares (each overrides file and environment).
#[derive(Args, Debug, Default, Clone)]
pub struct Common {
    /// TOML configuration file [env: RAMPART_CONFIG]
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory [env: RAMPART_DATA_DIR]
    #[arg(long, global = true)]
    pub data_dir: Option<String>,
    /// Database URL: sqlite://… or postgres://… [env: RAMPART_DATABASE_URL]
    #[arg(long, global = true)]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on [env: RAMPART_LISTEN]
        #[arg(long)]
        listen: Option<String>,
        /// Public URL (token issuer) [env: RAMPART_PUBLIC_URL]
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
        #[command(flatten)]
        common: Common,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        cmd: ApiKeyCmd,
        #[command(flatten)]
        common: Common,
    },
    /// Configuration reference and validation.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
        #[command(flatten)]
        common: Common,
    },
    /// Knowledge bases.
    Kb {
        #[command(subcommand)]
        cmd: KbCmd,
        #[command(flatten)]
        common: Common,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
        #[command(flatten)]
        common: Common,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Walk the hash chain and report any record edited, deleted or inserted out of chain.
    /// Prints the head (`SEQ:HASH`); keep it elsewhere and pass it later as `--expect-head`
    /// to also detect deletion of the newest records. Exits non-zero when anything is wrong.
    Verify {
        /// A head printed by an earlier run (`SEQ:HASH`).
        #[arg(long)]
        expect_head: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KbCmd {
    /// Upload files and folders (recursively) into an existing knowledge base. They are ingested
    /// right away when no running server holds the index, otherwise by that server.
    Import {
        /// The knowledge base's name.
        #[arg(long)]
        kb: String,
        /// Files and folders to upload (folders recursively; hidden entries skipped).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Rebuild the lexical index from the database (with the server stopped).
    Reindex,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user; prints the new user id.
    Add {
        /// The user's email address (their sign-in name).
        #[arg(long)]
        email: String,
        /// A group to put the user in (repeat for several; `admin` makes an administrator).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// The name shown in the app (default: the email address's local part).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (otherwise a temporary one is printed to stderr).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password from standard input; ends their sign-ins.
    SetPassword {
        /// The user's email address.
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCmd {
    /// Create an API key for a user; prints the key once.
    Create {
        /// The email address of the user the key acts as.
        #[arg(long)]
        email: String,
        /// A name to recognise the key by in lists.
        #[arg(long)]
        name: String,
        /// A scope the key may use: chat, knowledge, meetings, mcp or admin (repeat for several;
        /// default: every scope but admin).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Days until the key expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCmd {
    /// Print a commented reference of every key.
    Example,
    /// Validate a configuration file (with the current environment applied).
    Check {
        /// The TOML configuration file to check.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Start signing with a new key; the old public key stays in the JWKS until its tokens expire.
    RotateSigning,
    /// Write a new random master key to FILE (mode 0600; never overwrites), wrapped by the key
    /// service when `crypto.key_source` names one. Prints its id.
    NewMasterKey {
        /// Where to write the key (must not exist).
        file: PathBuf,
    },
    /// Re-wrap every data key under the active master key, while servers keep running.
    /// Procedure: create a key (`keys new-master-key`), restart every replica with it as
    /// `crypto.master_key_file` and the old one in `crypto.previous_key_files`, run this, then
    /// drop the old key from `previous_key_files`. Exits non-zero if anything could not be opened.
    RotateMaster,
}

fn env_pairs() -> Vec<(String, String)> {
    std::env::vars().collect()
}

fn load(common: &Common, extra: Vec<(String, Value)>) -> anyhow::Result<Config> {
    let file = common.config.clone().or_else(|| std::env::var_os("RAMPART_CONFIG").map(PathBuf::from));
    let mut o = extra;
    if let Some(d) = &common.data_dir {
        o.push(("server.data_dir".into(), Value::String(d.clone())));
    }
    if let Some(u) = &common.database_url {
        o.push(("database.url".into(), Value::String(u.clone())));
    }
    Config::load(file.as_deref(), &env_pairs(), &Overrides(o))
}

fn read_stdin_secret() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    let s = s.trim_end_matches(['\n', '\r']).to_owned();
    if s.is_empty() {
        bail!("no password on standard input");
    }
    Ok(s)
}

fn cli_meta() -> RequestMeta {
    RequestMeta { client_ip: None, request_id: Some("cli".into()), user_agent: Some("rampart-cli".into()) }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Serve { common, listen, public_url } => {
            drop(out);
            serve(&common, listen, public_url).await
        }
        Command::Config { cmd: ConfigCmd::Example } => Ok(out.write_all(EXAMPLE.as_bytes())?),
        Command::Config { cmd: ConfigCmd::Check { file } } => {
            Config::load(Some(&file), &env_pairs(), &Overrides::default())?;
            Ok(writeln!(out, "{}: ok", file.display())?)
        }
        Command::Openapi => Ok(writeln!(out, "{}", crate::openapi::document().to_pretty_json()?)?),
        Command::User { cmd, common } => {
            let cfg = load(&common, Vec::new())?;
            crate::telemetry::init(&Config {
                log: crate::config::LogConfig { format: crate::config::LogFormat::Text, level: "warn".into() },
                otel: crate::config::OtelConfig::default(),
                ..cfg.clone()
            })?;
            with_state(cfg, async |st| user_command(st, cmd, &mut out).await).await
        }
        Command::Apikey { cmd, common } => {
            with_state(load(&common, Vec::new())?, async |st| apikey_command(st, cmd, &mut out).await).await
        }
        Command::Kb { cmd, common } => {
            with_state(load(&common, Vec::new())?, async |st| kb_command(st, cmd, &mut out).await).await
        }
        Command::Audit { cmd: AuditCmd::Verify { expect_head }, common } => {
            audit_verify(&load(&common, Vec::new())?, expect_head.as_deref(), &mut out).await
        }
        Command::Keys { cmd, common } => keys_command(load(&common, Vec::new())?, cmd, &mut out).await,
    }
}

/// `rampart serve`: the server until a shutdown signal.
async fn serve(common: &Common, listen: Option<String>, public_url: Option<String>) -> anyhow::Result<()> {
    let mut extra = Vec::new();
    if let Some(l) = listen {
        extra.push(("server.listen".into(), Value::String(l)));
    }
    if let Some(p) = public_url {
        extra.push(("server.public_url".into(), Value::String(p)));
    }
    let cfg = load(common, extra)?;
    let telemetry = crate::telemetry::init(&cfg)?;
    let r = crate::serve::run(cfg).await;
    telemetry.shutdown();
    r
}

/// Runs a command on the application state (the database opened and migrated), then closes
/// the database whatever the command's result.
async fn with_state(cfg: Config, f: impl AsyncFnOnce(&AppState) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let st = crate::build_state(cfg).await?;
    let r = f(&st).await;
    st.db.close().await;
    r
}

fn public(e: rampart_identity::IdentityError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.public_message())
}

async fn user_by_email(st: &AppState, email: &str) -> anyhow::Result<rampart_storage::repo::users::UserRecord> {
    let email = rampart_identity::validate::normalize_email(email).map_err(public)?;
    st.db.user_by_email(&email).await?.context("no such user")
}

/// `rampart user add|set-password`.
async fn user_command(st: &AppState, cmd: UserCmd, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add { email, groups, display_name, password_stdin } => {
            let pw = if password_stdin { Some(read_stdin_secret()?) } else { None };
            let c = st
                .identity
                .create_user(None, &email, pw.as_deref(), &groups, display_name.as_deref(), &cli_meta())
                .await
                .map_err(public)?;
            writeln!(out, "{}", c.user.id)?;
            if let Some(t) = c.temporary_password {
                writeln!(std::io::stderr().lock(), "temporary password (shown once): {t}")?;
            }
        }
        UserCmd::SetPassword { email } => {
            let pw = read_stdin_secret()?;
            let u = user_by_email(st, &email).await?;
            st.identity.set_password(u.id, &pw).await.map_err(public)?;
            writeln!(out, "{}", u.id)?;
        }
    }
    Ok(())
}

/// `rampart apikey create`.
async fn apikey_command(st: &AppState, cmd: ApiKeyCmd, out: &mut impl Write) -> anyhow::Result<()> {
    let ApiKeyCmd::Create { email, name, scopes, expires_in_days } = cmd;
    let u = user_by_email(st, &email).await?;
    let scopes = (!scopes.is_empty()).then_some(scopes);
    let k = st
        .identity
        .create_api_key_for_user(u.id, &name, scopes.as_deref(), expires_in_days, &cli_meta())
        .await
        .map_err(public)?;
    writeln!(out, "{}", k.key)?;
    Ok(())
}

/// `rampart audit verify [--expect-head SEQ:HASH]`.
async fn audit_verify(cfg: &Config, expect_head: Option<&str>, out: &mut impl Write) -> anyhow::Result<()> {
    let expect = match expect_head {
        None => None,
        Some(h) => {
            let (seq, hash) = h
                .split_once(':')
                .and_then(|(s, h)| Some((s.parse::<i64>().ok()?, h)))
                .filter(|(_, h)| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .context("--expect-head must be SEQ:HASH as printed by `rampart audit verify`")?;
            Some((seq, hash.to_ascii_lowercase()))
        }
    };
    let db = crate::database::open(&cfg.database_url()).await?;
    let v = db.verify_audit(expect.as_ref().map(|(s, h)| (*s, h.as_str()))).await;
    db.close().await;
    let v = v?;
    for p in &v.problems {
        writeln!(out, "TAMPERED: {p}")?;
    }
    match (v.first_seq, v.last_seq, &v.head) {
        (Some(a), Some(b), Some(h)) => writeln!(out, "{} records, seq {a}..{b}, head {b}:{h}", v.records)?,
        _ => writeln!(out, "the audit log is empty")?,
    }
    if !v.ok() {
        bail!("the audit log failed verification ({} problem(s))", v.problems.len());
    }
    writeln!(out, "audit chain intact")?;
    Ok(())
}

/// `rampart keys new-master-key|rotate-master|rotate-signing`.
async fn keys_command(cfg: Config, cmd: KeysCmd, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        KeysCmd::NewMasterKey { file } => {
            let id = crate::keys::new_master_key_file(Some(&cfg), &file).await?;
            writeln!(out, "{id}")?;
        }
        KeysCmd::RotateMaster => rotate_master(&cfg, out).await?,
        KeysCmd::RotateSigning => {
            with_state(cfg, async |st| {
                let kid = st.identity.rotate_signing_key().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(writeln!(out, "{kid}")?)
            })
            .await?;
        }
    }
    Ok(())
}

async fn rotate_master(cfg: &Config, out: &mut impl Write) -> anyhow::Result<()> {
    let ring = crate::keys::load_keyring(cfg).await?;
    let db = crate::database::open(&cfg.database_url()).await?;
    let report = crate::keys::rotate_master(&db, &ring).await;
    db.close().await;
    let report = report?;
    let mut unreadable = 0;
    for c in &report {
        writeln!(
            out,
            "{:<32} {:>9} scanned {:>9} re-wrapped {:>6} unreadable",
            c.column, c.scanned, c.rewrapped, c.unreadable
        )?;
        unreadable += c.unreadable;
    }
    if unreadable > 0 {
        bail!(
            "{unreadable} value(s) are sealed under a master key that is not loaded; add it to crypto.previous_key_files and run again"
        );
    }
    writeln!(
        out,
        "every sealed value is under master key {}; older keys may be removed from crypto.previous_key_files",
        ring.active_id()
    )?;
    Ok(())
}

/// Files under `paths` (folders recursively, hidden entries skipped), sorted.
fn files_under(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).with_context(|| format!("{}", p.display()))? {
                let e = e?;
                if !e.file_name().to_string_lossy().starts_with('.') {
                    stack.push(e.path());
                }
            }
        } else if meta.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

async fn kb_command(st: &AppState, cmd: KbCmd, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        KbCmd::Import { kb, paths } => {
            let record =
                st.db.all_kbs().await?.into_iter().find(|k| k.name == kb).with_context(|| {
                    format!("no knowledge base named {kb:?} (create it with POST /v1/knowledge-bases)")
                })?;
            // The command acts with administrator rights, on behalf of the knowledge base's owner.
            let p = rampart_core::Principal {
                user_id: record.owner_id.unwrap_or_default(),
                email: "cli".into(),
                display_name: "rampart kb import".into(),
                groups: vec!["admin".into()],
                scopes: rampart_core::Scope::ALL.to_vec(),
                auth_method: rampart_core::AuthMethod::External { issuer: "cli".into() },
                mfa_enabled: false,
            };
            let files = files_under(&paths)?;
            let (mut new, mut dup) = (0, 0);
            for batch in files.chunks(50) {
                let mut items = Vec::with_capacity(batch.len());
                for f in batch {
                    let name =
                        f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "untitled".into());
                    items.push((name, std::fs::read(f).with_context(|| format!("{}", f.display()))?));
                }
                for d in st.knowledge.upload(&p, record.id, items).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                    if d.status == "duplicate" {
                        dup += 1;
                    } else {
                        new += 1;
                    }
                }
            }
            writeln!(out, "{new} document(s) queued, {dup} already present")?;
            if st.knowledge.index().flush().is_err() {
                writeln!(out, "the running server holds the index and will ingest them")?;
                return Ok(());
            }
            st.knowledge.open_indexes().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut done = 0;
            while st.knowledge.ingest_next().await.map_err(|e| anyhow::anyhow!("{e}"))? {
                done += 1;
            }
            st.knowledge.settle().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            st.knowledge.save_indexes().map_err(|e| anyhow::anyhow!("{e}"))?;
            writeln!(out, "{done} document(s) ingested")?;
            Ok(())
        }
        KbCmd::Reindex => {
            let n = st.knowledge.rebuild_index().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            writeln!(out, "{n} chunk(s) indexed")?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command and every flag or argument (the built-in `--help`/`--version` included).
    fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>, seen: &mut usize) {
        let path = format!("{path} {}", c.get_name()).trim().to_owned();
        if c.get_about().is_none() {
            missing.push(path.clone());
        }
        for a in c.get_arguments() {
            *seen += 1;
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {}", a.get_id()));
            }
        }
        for s in c.get_subcommands() {
            walk(s, &path, missing, seen);
        }
    }

    #[test]
    fn every_command_flag_and_argument_has_help_text() {
        let mut cli = Cli::command();
        cli.build();
        let (mut missing, mut seen) = (Vec::new(), 0);
        walk(&cli, "", &mut missing, &mut seen);
        assert!(missing.is_empty(), "without help text: {missing:?}");
        assert!(seen > 40, "the walk reached the arguments ({seen})");
    }
}
