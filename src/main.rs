//! The `identityd` binary: `serve` (default), `migrate`, `create-superuser`.

use std::process::ExitCode;
use std::sync::Arc;

use identityd::clock::SystemClock;
use identityd::config::Config;
use identityd::{app, db, mail};

const USAGE: &str = "usage: identityd [serve | migrate | create-superuser | cleanup | keys ...]

  serve             run the service (default)
  migrate           apply pending database migrations and exit
  create-superuser  create FIRST_SUPERUSER_EMAIL / FIRST_SUPERUSER_PASSWORD if absent
  cleanup           run the cleanup job once now (unless another replica is running it)
  keys list         the authorization server's signing keys and when each signs
  keys rotate       store the next signing key: published now, signing in 24 hours
  keys rotate --immediately
                    a new key signs now and every other key is withdrawn (a
                    compromised key); tokens they signed stop verifying
  healthcheck       exit 0 when the local server is ready (GET /health/ready), 1 otherwise
  descriptor-set P  write the protobuf descriptor set (with google.api.http rules) to file P

Configuration comes from the environment (and ./.env); see README.md.";

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_owned());
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        eprintln!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    // Neither needs (nor validates) the configuration.
    if command == "healthcheck" {
        return healthcheck().await;
    }
    if command == "descriptor-set" {
        let Some(path) = std::env::args().nth(2) else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        return match std::fs::write(&path, identityd::grpc::pb::FILE_DESCRIPTOR_SET) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("identityd: writing {path}: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("identityd: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log_level, config.log_json);
    let result = match command.as_str() {
        "serve" => serve(config).await,
        "migrate" => migrate(config).await,
        "create-superuser" => create_superuser(config).await,
        "cleanup" => cleanup(config).await,
        "keys" => keys(config).await,
        other => {
            eprintln!("identityd: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = ?err, "identityd failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind_address;
    tracing::info!(database = config.database_url.backend_name(), "starting");
    let mailer = mail::from_config(&config)?;
    let state = app::prepare(config, Arc::new(SystemClock), mailer).await?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    app::run(state, listener, app::shutdown_signal()).await
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let applied = db::migrate::run_pending(&config.database_url).await?;
    tracing::info!(count = applied.len(), ?applied, "migrations applied");
    Ok(())
}

async fn create_superuser(mut config: Config) -> anyhow::Result<()> {
    config.migrate_on_start = true;
    let mailer = Arc::new(mail::ConsoleMailer);
    app::prepare(config, Arc::new(SystemClock), mailer).await?;
    Ok(())
}

/// For container health checks (the image has no HTTP client): asks the
/// local server, on the port of `BIND_ADDRESS`, whether it is ready.
async fn healthcheck() -> ExitCode {
    let port = std::env::var("BIND_ADDRESS")
        .ok()
        .and_then(|a| a.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()))
        .unwrap_or(8000);
    let url = format!("http://127.0.0.1:{port}/health/ready");
    let ready = async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(3))
            .build()
            .ok()?;
        let response = client.get(&url).send().await.ok()?;
        Some(response.status().is_success())
    };
    if ready.await == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn cleanup(config: Config) -> anyhow::Result<()> {
    let mailer = Arc::new(mail::ConsoleMailer);
    let state = app::prepare(config, Arc::new(SystemClock), mailer).await?;
    let now = identityd::clock::Clock::now(state.clock.as_ref());
    let instance = identityd::service::cleanup::instance_name();
    // Due now: runs unless another replica holds the lease.
    match identityd::service::cleanup::run_once(&state, &instance, now).await {
        Ok(Some(report)) => {
            tracing::info!(?report, "cleanup done");
            Ok(())
        }
        Ok(None) => {
            tracing::warn!("another replica is running the cleanup job; nothing done");
            Ok(())
        }
        Err(err) => Err(anyhow::anyhow!("cleanup failed: {err}")),
    }
}

async fn keys(config: Config) -> anyhow::Result<()> {
    use identityd::service::oauth::keys;
    let action = std::env::args().nth(2).unwrap_or_default();
    let immediately = match std::env::args().nth(3).as_deref() {
        None => false,
        Some("--immediately") if action == "rotate" => true,
        Some(other) => anyhow::bail!("unknown option {other:?}\n\n{USAGE}"),
    };
    let mailer = Arc::new(mail::ConsoleMailer);
    let state = app::prepare(config, Arc::new(SystemClock), mailer).await?;
    if state.config.provider.signing_key_file.is_some() {
        anyhow::bail!("OAUTH_PROVIDER_SIGNING_KEY_FILE is set: that key never rotates");
    }
    match action.as_str() {
        "list" => {
            for key in keys::list(&state)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
            {
                let until = key
                    .retire_after
                    .map_or_else(|| "-".to_owned(), |t| t.to_fixed_text());
                eprintln!(
                    "{}  {:6}  signs from {}  published until {until}",
                    key.kid,
                    key.algorithm,
                    key.active_from.to_fixed_text()
                );
            }
            Ok(())
        }
        "rotate" => {
            let rotated = keys::rotate(&state, immediately).await?;
            tracing::info!(kid = %rotated.kid, active_from = %rotated.active_from.to_fixed_text(), "new signing key stored");
            Ok(())
        }
        _ => anyhow::bail!("usage: identityd keys [list | rotate [--immediately]]"),
    }
}

fn init_tracing(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
