//! Start-up and serving. [`prepare`] validates, migrates and bootstraps;
//! [`run`] serves one listener until the shutdown future completes. Tests
//! call both with a port-0 listener.

use std::future::Future;
use std::sync::Arc;

use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::email::Email;
use crate::mail::Mailer;
use crate::service;
use crate::state::AppState;

/// Builds the state, applies migrations (unless `MIGRATE_ON_START=false`)
/// and creates the first superuser.
pub async fn prepare(
    config: Config,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
) -> anyhow::Result<AppState> {
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    if config.migrate_on_start {
        let applied = crate::db::migrate::run_pending(&config.database_url).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "migrations applied");
        }
    }
    let mut state = AppState::new(config, clock, mailer).await?;
    bootstrap(&state).await?;
    if state.config.demo_mode {
        let seeded = service::demo::seed(&state)
            .await
            .map_err(|e| anyhow::anyhow!("seeding demo data: {e:?}"))?;
        tracing::info!(?seeded, "demo data present");
    }
    if state.config.provider.enabled {
        state.provider_keys = Some(service::oauth::keys::load(&state).await?);
    }
    Ok(state)
}

/// Creates the configured first superuser when absent.
pub async fn bootstrap(state: &AppState) -> anyhow::Result<()> {
    let config = &state.config;
    let email = Email::parse(&config.first_superuser_email)
        .map_err(|e| anyhow::anyhow!("FIRST_SUPERUSER_EMAIL: {e}"))?;
    let password = config.first_superuser_password.expose_secret();
    // Outside production, demo mode may bootstrap with a published demo
    // password (docs/configuration.md#start-up-order-serve); those work at login only in demo mode.
    let demo_exempt = config.demo_mode
        && !config.is_production()
        && crate::domain::password::DEMO_PASSWORDS.contains(&password);
    if !demo_exempt {
        crate::domain::password::check_new_password(password, true)
            .map_err(|e| anyhow::anyhow!("FIRST_SUPERUSER_PASSWORD: {e}"))?;
    }
    let created = service::auth::bootstrap_superuser(state, email, password.to_owned().into())
        .await
        .map_err(|e| anyhow::anyhow!("creating the first superuser: {e:?}"))?;
    if created {
        tracing::info!(email = %config.first_superuser_email, "first superuser created");
    }
    Ok(())
}

/// Serves gRPC, grpc-web and REST on `listener` until `shutdown` completes,
/// then lets in-flight requests finish for at most `SHUTDOWN_GRACE_SECONDS`.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = crate::server::Settings {
        limits: state.config.server.clone(),
        trusted_proxies: state.config.trusted_proxies.clone(),
        hsts: state.config.is_production(),
    };
    let cleanup = state
        .config
        .cleanup_enabled
        .then(|| tokio::spawn(service::cleanup::schedule(state.clone())));
    let key_rotation = state
        .provider_keys
        .clone()
        .map(|ring| tokio::spawn(service::oauth::keys::schedule(state.clone(), ring)));
    let router = crate::http::router(state)?;
    tracing::info!(address = %listener.local_addr()?, "serving gRPC, grpc-web and REST");
    let served = crate::server::serve(listener, router, settings, shutdown).await;
    for job in [cleanup, key_rotation].into_iter().flatten() {
        job.abort();
    }
    served
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
