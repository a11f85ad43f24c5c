use super::*;
use rampart_identity::MfaPolicy;
use std::time::Duration;
use toml::Value;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn layers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:9000\"\n[auth]\nmfa = \"off\"\naccess_token_ttl = \"2h\"\n")
        .unwrap();
    let c = Config::load(
        Some(&f),
        &env(&[("RAMPART_AUTH__MFA", "required"), ("RAMPART_TEST_POSTGRES_URL", "x")]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9000");
    assert_eq!(c.auth.mfa, MfaPolicy::Required, "env beats file");
    assert_eq!(c.auth.access_token_ttl.0, Duration::from_secs(7200));
    let o = Overrides(vec![("server.listen".into(), Value::String("127.0.0.1:9001".into()))]);
    let c = Config::load(Some(&f), &env(&[("RAMPART_LISTEN", "127.0.0.1:9002")]), &o).unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9001", "CLI beats env");
    let c = Config::load(
        None,
        &env(&[("RAMPART_AUTH__SIGNUP_EMAIL_DOMAINS", "[\"a.com\"]"), ("RAMPART_AUTH__SELF_SIGNUP", "true")]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.auth.signup_email_domains, vec!["a.com"]);
    assert!(c.auth.self_signup);
}

#[test]
fn unknown_keys_are_named() {
    let e = Config::load(None, &env(&[("RAMPART_AUTH__MFAA", "off")]), &Overrides::default()).unwrap_err();
    assert!(format!("{e:#}").contains("mfaa"), "{e:#}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "[server]\nlisen = \"x\"\n").unwrap();
    let e = Config::load(Some(&f), &[], &Overrides::default()).unwrap_err();
    assert!(format!("{e:#}").contains("lisen"), "{e:#}");
    let e = Config::load(None, &env(&[("RAMPART_AUTH__ACCESS_TOKEN_TTL", "soon")]), &Overrides::default()).unwrap_err();
    assert!(format!("{e:#}").contains("auth.access_token_ttl"), "{e:#}");
}

#[test]
fn fails_closed_on_bad_values() {
    for (k, v) in [
        ("RAMPART_DATABASE_URL", "mysql://x"),
        ("RAMPART_AUTH__PASSWORD__MIN_LENGTH", "4"),
        ("RAMPART_AUTH__SIGNING_ALG", "HS256"),
        ("RAMPART_LISTEN", "nope"),
        ("RAMPART_AUTH__ARGON2__MEMORY_KIB", "64"),
        ("RAMPART_MODELS", r#"[{id = "m", provider = "mystery", base_url = "https://x", model = "c"}]"#),
        ("RAMPART_MODELS", r#"[{id = "m", provider = "bedrock", model = "c"}]"#),
        ("RAMPART_MODELS", r#"[{id = "m", provider = "http", base_url = "https://x/invocations"}]"#),
        ("RAMPART_ASSISTANTS", r#"[{id = "a", kind = "custom", webhook_url = "https://x", webhook_secret = "short"}]"#),
        ("RAMPART_MODELS", r#"[{id = "m", provider = "openai", base_url = "ftp://x", model = "c"}]"#),
        ("RAMPART_ASSISTANTS", r#"[{id = "a", kind = "model", model = "missing"}]"#),
        ("RAMPART_ASSISTANTS", r#"[{id = "a", kind = "rag"}]"#),
        ("RAMPART_ASSISTANTS", r#"[{id = "Bad Id", kind = "extractive"}]"#),
        ("RAMPART_MEETINGS__SUMMARY_MODEL", "missing"),
        ("RAMPART_MEETINGS__SUMMARY_CONTEXT_TOKENS", "1500"),
        ("RAMPART_MEETINGS__SUMMARY_CONCURRENCY", "0"),
        ("RAMPART_MEETINGS__WEBHOOK_URL", "https://hooks.example.com/x"),
        ("RAMPART_MEETINGS__WEBHOOK_URL", "ftp://hooks.example.com/x"),
        ("RAMPART_MEETINGS__WEBHOOK_SECRET", "a secret without a URL, long enough to pass"),
        ("RAMPART_EDGE__OUTBOUND_ALLOWED_RANGES", r#"["not a range"]"#),
        ("RAMPART_AUTH__OAUTH_CLIENTS", r#"[{client_id = "w", redirect_uris = ["http://wiki.example.com/cb"]}]"#),
        ("RAMPART_AUTH__OAUTH_CLIENTS", r#"[{client_id = "w", redirect_uris = ["https://wiki.example.com/cb#x"]}]"#),
        (
            "RAMPART_AUTH__OAUTH_CLIENTS",
            r#"[{client_id = "rampart", redirect_uris = ["https://wiki.example.com/cb"]}]"#,
        ),
        (
            "RAMPART_AUTH__OAUTH_CLIENTS",
            r#"[{client_id = "w", redirect_uris = ["https://wiki.example.com/cb"], client_secret = "too-short"}]"#,
        ),
        (
            "RAMPART_AUTH__OAUTH_CLIENTS",
            r#"[{client_id = "w", redirect_uris = ["https://wiki.example.com/cb"], client_secret_file = "/nonexistent/secret"}]"#,
        ),
    ] {
        assert!(Config::load(None, &env(&[(k, v)]), &Overrides::default()).is_err(), "{k}={v}");
    }
}

/// Every key the example must mention.
const EXAMPLE_KEYS: &[&str] = &[
    "[mail]",
    "password_reset_ttl",
    "password_file",
    "listen",
    "public_url",
    "data_dir",
    "max_body_bytes",
    "request_timeout",
    "shutdown_grace",
    "max_in_flight",
    "url",
    "mfa",
    "self_signup",
    "signup_email_domains",
    "access_token_ttl",
    "refresh_token_ttl",
    "allowed_groups",
    "signing_alg",
    "client_id",
    "min_length",
    "require_lowercase",
    "require_uppercase",
    "require_digit",
    "require_symbol",
    "memory_kib",
    "iterations",
    "parallelism",
    "lockout_threshold",
    "lockout_window",
    "lockout_duration",
    "ip_failure_limit",
    "token_leeway",
    "external_issuers",
    "issuer",
    "jwks_url",
    "oauth_clients",
    "redirect_uris",
    "client_secret_file",
    "client_ids",
    "token_use",
    "groups_claim",
    "group_map",
    "algorithms",
    "master_key",
    "master_key_file",
    "previous_key_files",
    "trusted_proxies",
    "[[models]]",
    "provider",
    "base_url",
    "api_key_file",
    "max_retries",
    "tools = ",
    "[[assistants]]",
    "kind",
    "system_prompt",
    "inference_max_tokens",
    "inference_temperature",
    "inference_top_p",
    "feedback_reasons",
    "title_chars",
    "catalog_refresh",
    "nats_url",
    "subject_prefix",
    "language",
    "ingest_concurrency",
    "max_document_bytes",
    "max_upload_bytes",
    "max_pages",
    "chunk_size",
    "chunk_overlap",
    "chunk_unit",
    "index_dir",
    "dense_index_dir",
    "embedding_model",
    "local_embedder",
    "local_model_dir",
    "reranker",
    "rerank_candidates",
    "fusion_depth",
    "dimensions",
    "query_prefix",
    "document_prefix",
    "batch_size",
    "knowledge_bases",
    "kb_number_of_results",
    "prompt_template",
    "display_inline_citations",
    "region",
    "aws_access_key_id",
    "request_template",
    "response_pointer",
    "webhook_url",
    "webhook_secret",
    "record",
    "max_frame_bytes",
    "max_duration",
    "max_live_per_user",
    "max_live",
    "ticket_ttl",
    "recordings_dir",
    "recording_chunk_secs",
    "final_timeout",
    "wake_phrase",
    "summary_model",
    "summary_context_tokens",
    "summary_max_tokens",
    "summary_concurrency",
    "webhook_url",
    "webhook_secret_file",
    "webhook_timeout",
    "outbound_allowed_ranges",
    "engine",
    "model_dir",
    "replicas",
    "threads",
    "partial_interval",
    "pause",
    "max_utterance",
    "passthrough_interval",
    "openai_language",
    "openai_base_url",
    "openai_allow_plain_http",
    "openai_model",
    "openai_api_key",
    "openai_api_key_file",
    "openai_prompt",
    "openai_max_concurrent",
    "openai_timeout",
    "openai_max_retries",
    "transcribe_region",
    "transcribe_language",
    "transcribe_endpoint",
    "transcribe_vocabulary",
    "transcribe_access_key_id",
    "transcribe_secret_access_key",
    "transcribe_session_token",
    "max_connections_per_user",
    "max_subscriptions",
    "max_replies_per_user",
    "publish_rate",
    "publish_burst",
    "outbox_frames",
    "keepalive_interval",
    "idle_timeout",
    "format",
    "level",
    "allow_remote",
    "admin_endpoint",
    "allow_plain_http",
    "allow_open_data_dir",
    "sample_ratio",
    "service_name",
    "export_interval",
    "key_source",
    "key_id",
    "key_name",
    "token_file",
    "geo_database",
    "geo_allow_countries",
    "geo_deny_countries",
    "redis_url",
    "redis_ca_file",
    "redis_prefix",
    "target",
    "max_files",
    "cert_file",
    "key_file",
    "min_version",
    "reload_interval",
    "redirect_listen",
    "sessions_days",
    "feedback_days",
    "meetings_days",
    "event_cache_hours",
    "audit_days",
];

#[test]
fn example_is_valid_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("example.toml");
    std::fs::write(&f, EXAMPLE).unwrap();
    Config::load(Some(&f), &[], &Overrides::default()).unwrap();
    for key in EXAMPLE_KEYS {
        assert!(EXAMPLE.contains(key), "example misses {key}");
    }
}

#[test]
fn errors_name_the_full_key_path() {
    for (k, v, key) in [
        ("RAMPART_EDGE__WAF_MODE", "loud", "edge.waf_mode"),
        ("RAMPART_EDGE__API_KEY_RATE", "0", "edge.api_key_rate"),
        ("RAMPART_KNOWLEDGE__CHUNK_SIZE", "10", "knowledge.chunk_size"),
        ("RAMPART_KNOWLEDGE__CHUNK_UNIT", "tokens", "knowledge.chunk_unit"),
        ("RAMPART_KNOWLEDGE__EMBEDDING_MODEL", "nope", "knowledge.embedding_model"),
        ("RAMPART_CRYPTO__KEY_SOURCE", "hsm", "crypto.key_source"),
        ("RAMPART_ACCESS_LOG__TARGET", "syslog", "access_log.target"),
        ("RAMPART_TLS__MIN_VERSION", "\"1.1\"", "tls.min_version"),
        ("RAMPART_LOG__FORMAT", "xml", "log.format"),
        ("RAMPART_AUTH__SIGNING_ALG", "HS256", "auth.signing_alg"),
        ("RAMPART_AUTH__PASSWORD__MIN_LENGTH", "4", "auth.password.min_length"),
        ("RAMPART_REALTIME__OUTBOX_FRAMES", "1", "realtime.outbox_frames"),
        ("RAMPART_BUS__NATS_URL", "http://x", "bus.nats_url"),
        ("RAMPART_DATABASE_URL", "mysql://x", "database.url"),
        ("RAMPART_RETENTION__BATCH", "0", "retention.batch"),
        ("RAMPART_CHAT__TITLE_CHARS", "1", "chat.title_chars"),
        ("RAMPART_SERVER__MAX_BODY_BYTES", "\"1KB\"", "server.max_body_bytes"),
        ("RAMPART_MODELS", r#"[{id = "m", kind = "vision", provider = "openai"}]"#, "models[0].kind"),
        ("RAMPART_MODELS", r#"[{id = "m", provider = "bedrock", model = "c"}]"#, "models[m].region"),
        ("RAMPART_ASSISTANTS", r#"[{id = "a", kind = "model", model = "missing"}]"#, "assistants[a].model"),
        (
            "RAMPART_AUTH__EXTERNAL_ISSUERS",
            r#"[{issuer = "https://i", jwks_url = "https://i/j", client_ids = ["c"], token_use = "refresh"}]"#,
            "auth.external_issuers[0].token_use",
        ),
    ] {
        let e = Config::load(None, &env(&[(k, v)]), &Overrides::default()).unwrap_err();
        assert!(format!("{e:#}").contains(key), "{k}={v}: {e:#}");
    }
    // Sizes also read with units; the example's integers stay what they were.
    let c = Config::load(None, &env(&[("RAMPART_KNOWLEDGE__MAX_UPLOAD_BYTES", "\"200MiB\"")]), &Overrides::default())
        .unwrap();
    assert_eq!(c.knowledge.max_upload_bytes, ByteSize::mib(200));
    assert_eq!(Config::default().server.max_body_bytes.0, 1_048_576);
}

/// A misspelt variable is refused by its own name, with the nearest valid name.
#[test]
fn a_misspelt_environment_variable_is_named_with_the_nearest_valid_name() {
    for (var, value, nearest) in [
        ("RAMPART_AUTH__MFAA", "off", "RAMPART_AUTH__MFA"),
        ("RAMPART_AUHT__MFA", "off", "RAMPART_AUTH__MFA"),
        ("RAMPART_LISTN", "127.0.0.1:1", "RAMPART_LISTEN"),
        ("RAMPART_CONFG", "x.toml", "RAMPART_CONFIG"),
        ("RAMPART_AUTH__PASSWORD__MIN_LENGHT", "14", "RAMPART_AUTH__PASSWORD__MIN_LENGTH"),
        ("RAMPART_SERVER__DATADIR", "/tmp", "RAMPART_SERVER__DATA_DIR"),
    ] {
        let e =
            Config::load(None, &env(&[("RAMPART_AUTH__MFA", "off"), (var, value)]), &Overrides::default()).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.starts_with(&format!("environment variable {var}: ")), "{var}: {e}");
        assert!(e.ends_with(&format!("did you mean {nearest}?")), "{var}: {e}");
    }
    // A table set by one variable: the variable, and the nearest key inside it.
    let e = Config::load(None, &env(&[("RAMPART_AUTH", "{ mfaa = \"off\" }")]), &Overrides::default()).unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "environment variable RAMPART_AUTH: `auth.mfaa` is not a configuration key; did you mean `auth.mfa`?"
    );
    // A bad value names its variable and its key; an unknown key in the file names the key.
    let e = Config::load(None, &env(&[("RAMPART_AUTH__ACCESS_TOKEN_TTL", "soon")]), &Overrides::default()).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.starts_with("environment variable RAMPART_AUTH__ACCESS_TOKEN_TTL: configuration key `auth.access_token_ttl`"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "[auth]\nmfaa = \"off\"\n").unwrap();
    let e = Config::load(Some(&f), &env(&[("RAMPART_AUTH__MFA", "off")]), &Overrides::default()).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("mfaa") && !e.contains("environment variable"), "{e}");
}

#[test]
fn mail_is_checked_before_start() {
    let load = |pairs: &[(&str, &str)]| Config::load(None, &env(pairs), &Overrides::default());
    let c = load(&[]).unwrap();
    assert!(!c.mail.enabled());
    let ok = [("RAMPART_MAIL__HOST", "smtp.example.com"), ("RAMPART_MAIL__FROM", "Rampart <r@example.com>")];
    let c = load(&ok).unwrap();
    assert_eq!((c.mail.tls, c.mail.port()), (MailTls::Starttls, 587));
    let e = format!("{:#}", load(&[ok[0], ok[1], ("RAMPART_MAIL__TLS", "none")]).unwrap_err());
    assert!(e.contains("mail.tls"), "{e}");
    let c = load(&[("RAMPART_MAIL__HOST", "localhost"), ok[1], ("RAMPART_MAIL__TLS", "none")]).unwrap();
    assert_eq!(c.mail.port(), 25);
    let e = format!("{:#}", load(&[ok[0], ("RAMPART_MAIL__FROM", "not an address")]).unwrap_err());
    assert!(e.contains("mail.from"), "{e}");
    let e = format!("{:#}", load(&[ok[0], ok[1], ("RAMPART_MAIL__USERNAME", "u")]).unwrap_err());
    assert!(e.contains("mail.username"), "{e}");
    let c = load(&[ok[0], ok[1], ("RAMPART_MAIL__USERNAME", "u"), ("RAMPART_MAIL__PASSWORD", "p")]).unwrap();
    assert_eq!(format!("{:?}", c.mail).matches("\"p\"").count(), 0, "the password is redacted");
    let e = format!("{:#}", load(&[("RAMPART_MAIL__TLS", "ssl")]).unwrap_err());
    assert!(e.contains("mail.tls"), "{e}");
}

#[test]
fn the_in_process_embedding_model_needs_no_entry_unless_it_is_off() {
    let on = env(&[("RAMPART_KNOWLEDGE__EMBEDDING_MODEL", "all-MiniLM-L6-v2")]);
    let c = Config::load(None, &on, &Overrides::default()).unwrap();
    assert!(c.knowledge.local_embedder);
    let off = env(&[
        ("RAMPART_KNOWLEDGE__EMBEDDING_MODEL", "all-MiniLM-L6-v2"),
        ("RAMPART_KNOWLEDGE__LOCAL_EMBEDDER", "false"),
    ]);
    let e = Config::load(None, &off, &Overrides::default()).unwrap_err();
    assert!(format!("{e:#}").contains("knowledge.embedding_model"), "{e:#}");
}
