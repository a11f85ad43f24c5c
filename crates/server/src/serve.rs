//! `rampart serve`: the start-up checklist and graceful shutdown.

use crate::config::Config;
use crate::state::AppState;
use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

/// Where the one-time bootstrap code is written (mode 0600) on a first start.
pub const BOOTSTRAP_FILE: &str = "bootstrap-code";

/// Makes and announces the bootstrap code when there are no users yet.
async fn announce_bootstrap(state: &AppState) -> anyhow::Result<()> {
    let Some(code) = state.identity.prepare_bootstrap().await.map_err(|e| anyhow::anyhow!("bootstrap: {e}"))? else {
        return Ok(());
    };
    let path = state.config.server.data_dir.join(BOOTSTRAP_FILE);
    let _ = std::fs::remove_file(&path);
    crate::keys::write_secret_file(&path, &format!("{code}\n"))?;
    let url = state.config.public_url();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\n  No users yet. Create the first administrator with this one-time code (also in {}):\n\n      {code}\n\n  curl -X POST {url}/v1/auth/bootstrap -H 'content-type: application/json' \\\n       -d '{{\"code\":\"{code}\",\"email\":\"you@example.com\",\"password\":\"…\"}}'\n  or, offline: rampart user add --email you@example.com --group admin --password-stdin\n",
        path.display()
    )?;
    out.flush()?;
    tracing::warn!(path = %path.display(), "no users: bootstrap code printed and written to the data dir");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Binds `addr`; `what` names it in the message (its configuration key) when it is taken.
async fn bind(addr: &str, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} ({what})"))
}

/// Every listener of the configuration, bound before anything is opened or written: a taken
/// port stops start-up before the database is created or migrated and before a bootstrap code
/// is made.
struct Listeners {
    main: tokio::net::TcpListener,
    metrics: Option<tokio::net::TcpListener>,
    redirect: Option<tokio::net::TcpListener>,
}

impl Listeners {
    async fn bind(cfg: &Config) -> anyhow::Result<Listeners> {
        let listen: SocketAddr = cfg.server.listen.parse().context("server.listen")?;
        let main = bind(&listen.to_string(), "server.listen").await?;
        let metrics = match cfg.metrics.listen_addr().map_err(|e| e.within("metrics"))? {
            Some(addr) => Some(bind(&addr.to_string(), "metrics.listen").await?),
            None => None,
        };
        let redirect = match &cfg.tls.redirect_listen {
            Some(r) if cfg.tls.enabled() => Some(bind(r, "tls.redirect_listen").await?),
            _ => None,
        };
        Ok(Listeners { main, metrics, redirect })
    }
}

/// A side listener (plain HTTP, its own small app), served until aborted. `what` names it in
/// the messages (its configuration key).
fn spawn_side_listener(
    l: tokio::net::TcpListener,
    what: &'static str,
    app: axum::Router,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    tracing::info!(listen = %l.local_addr()?, listener = what, "listener ready");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(l, app).await {
            tracing::error!(error = %e, listener = what, "listener stopped");
        }
    }))
}

/// The separate metrics listener: `GET /metrics` only, without authentication.
fn metrics_app(state: crate::AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(crate::routes::metrics::exposition))
        .with_state(state)
        .layer(axum::middleware::map_response(|mut resp: axum::response::Response| async move {
            rampart_edge::headers::apply(resp.headers_mut(), false);
            resp
        }))
}

/// Runs the server until SIGTERM/SIGINT, then drains in-flight requests (up to
/// `server.shutdown_grace`).
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let listeners = Listeners::bind(&cfg).await?;
    let grace = cfg.server.shutdown_grace.0;
    // A data directory others may read is refused before anything is written into it (the
    // CLI's offline commands and in-process builds leave the check to `serve`).
    crate::keys::ensure_data_dir(&cfg.server.data_dir)?;
    crate::keys::check_data_dir_private(&cfg.server.data_dir, cfg.server.allow_open_data_dir)?;
    let state = crate::build_state(cfg).await?;
    crate::web::warn_when_missing();
    announce_bootstrap(&state).await?;
    match state.chat.fail_unfinished_jobs().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(jobs = n, "jobs interrupted by the previous shutdown were marked failed"),
        Err(e) => tracing::error!(error = %e, "could not check unfinished jobs"),
    }
    state.start_background().await?;
    let _key_reload = state.identity.spawn_key_reload(state.config.auth.signing_key_reload_interval.0);
    let _catalog_refresh = crate::catalog::spawn_refresh(state.assistants.clone(), state.config.chat.catalog_refresh.0);
    let sweeper = crate::retention::Sweeper::spawn(state.clone());
    let app = crate::build_app(state.clone());
    let Listeners { main: listener, metrics, redirect } = listeners;
    let metrics_server = match metrics {
        Some(l) => Some(spawn_side_listener(l, "metrics.listen", metrics_app(state.clone()))?),
        None => None,
    };
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, tls = state.config.tls.enabled(), database = state.db.backend().name(), startup_ms = started.elapsed().as_millis() as u64, version = env!("CARGO_PKG_VERSION"), "rampart ready");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let shutdown = async move {
        let _ = rx.await;
        st.set_ready(false);
    };
    let make = app.into_make_service_with_connect_info::<crate::tls::Peer>();
    let mut tls_tasks = Vec::new();
    let server: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> =
        if state.config.tls.enabled() {
            let (cfg, store) = crate::tls::server_config(&state.config.tls)?;
            tls_tasks.push(store.watch(state.config.tls.reload_interval.0));
            if let Some(r) = redirect {
                let app = crate::tls::redirect_app(state.config.public_url());
                tls_tasks.push(spawn_side_listener(r, "tls.redirect_listen", app)?);
            }
            let l = crate::tls::TlsListener::new(listener, cfg)?;
            Box::pin(axum::serve(l, make).with_graceful_shutdown(shutdown).into_future())
        } else {
            let l = crate::tls::PlainListener(listener);
            Box::pin(axum::serve(l, make).with_graceful_shutdown(shutdown).into_future())
        };
    let mut server = server;
    tokio::select! {
        r = &mut server => return r.context("server"),
        () = shutdown_signal() => {}
    }
    tracing::info!(grace_secs = grace.as_secs(), "shutdown requested; draining in-flight requests");
    let _ = tx.send(());
    match tokio::time::timeout(grace, &mut server).await {
        Ok(r) => r.context("server")?,
        Err(_) => tracing::warn!("grace period over; closing remaining connections"),
    }
    match state.knowledge.save_indexes() {
        Ok(0) => {}
        Ok(n) => tracing::info!(graphs = n, "dense indexes saved"),
        Err(e) => tracing::warn!(error = %e, "could not save the dense indexes; they are rebuilt at the next start"),
    }
    if let Some(m) = metrics_server {
        m.abort();
    }
    sweeper.stop(&state.db).await;
    for t in tls_tasks {
        t.abort();
    }
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}
