//! `identityd-bench`: a load generator for identityd (BENCHMARKS.md).
//!
//! ```text
//! identityd-bench seed --database-url URL --users N
//! identityd-bench bcrypt-ceiling [--bcrypt-cost 12] [--duration 5]
//! identityd-bench run  --url http://127.0.0.1:8000 --scenario get_me [--transport rest|grpc]
//!                      [--connections 64] [--duration 10] [--requests N] [--pid PID] [--json]
//! ```
//!
//! `seed` inserts bench users (`bench-<i>@bench.test`, password
//! `Bench-Password-1!`) straight into the database, in batches, so a million
//! users take a minute rather than an hour. `run` drives one scenario with a
//! fixed number of keep-alive connections (one HTTP/1.1 connection or one
//! HTTP/2 channel each), records every latency in an HDR histogram, and counts
//! every non-2xx answer, non-OK gRPC status and transport error. With `--pid`
//! it samples the server's CPU time and peak RSS during the run.
//! `bcrypt-ceiling` measures the most logins per second this machine can
//! verify: one bcrypt verification per core, back to back (run it with the
//! server idle).

#![expect(
    clippy::print_stdout,
    reason = "a command-line tool: its results are its standard output"
)]

mod proc_stats;
mod report;
mod scenario;
mod seed;
mod wire;

use std::process::ExitCode;
use std::time::Duration;

/// The password of every seeded bench user.
pub const BENCH_PASSWORD: &str = "Bench-Password-1!";

fn usage() -> ExitCode {
    eprintln!(
        "usage:
  identityd-bench seed --database-url URL --users N
  identityd-bench bcrypt-ceiling [--bcrypt-cost 12] [--duration 5]
  identityd-bench signing-keys [--tokens 2000]
  identityd-bench run --url URL --scenario NAME [--transport rest|grpc] [--connections C]
                      [--duration SECONDS | --requests N] [--pid PID] [--admin-email E]
                      [--admin-password P] [--search TEXT] [--hot] [--json]

scenarios: {}",
        scenario::NAMES.join(", ")
    );
    ExitCode::from(2)
}

/// `--name value` pairs and `--flag`s.
struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<String> {
        let flag = format!("--{name}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1).cloned())
    }

    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| *a == format!("--{name}"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v}")),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = raw.first().cloned() else {
        return usage();
    };
    let args = Args(raw[1..].to_vec());
    let outcome = match command.as_str() {
        "seed" => seed_command(&args).await,
        "run" => run_command(&args).await,
        "bcrypt-ceiling" => ceiling_command(&args).await,
        "signing-keys" => signing_keys_command(&args),
        _ => return usage(),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("identityd-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn seed_command(args: &Args) -> Result<ExitCode, String> {
    let url = args
        .value("database-url")
        .ok_or("--database-url is required")?;
    let users: usize = args.number("users", 10_000)?;
    let cost: u32 = args.number("bcrypt-cost", 12)?;
    let created = seed::seed_users(&url, users, cost).await?;
    eprintln!("bench users: {users} present ({created} created)");
    Ok(ExitCode::SUCCESS)
}

async fn ceiling_command(args: &Args) -> Result<ExitCode, String> {
    let cost: u32 = args.number("bcrypt-cost", 12)?;
    let duration = Duration::from_secs_f64(args.number("duration", 5.0)?);
    let hash = bcrypt::hash(BENCH_PASSWORD, cost).map_err(|e| e.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let hash = hash.clone();
            std::thread::spawn(move || {
                let mut done = 0_u64;
                while started.elapsed() < duration {
                    if bcrypt::verify(BENCH_PASSWORD, &hash).unwrap_or(false) {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let mut verified = 0;
    for thread in threads {
        verified += thread.join().map_err(|_| "a hashing thread panicked")?;
    }
    let per_second = verified as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"label": "bcrypt_ceiling", "cost": cost, "cores": cores, "verifications_per_second": per_second})
    );
    Ok(ExitCode::SUCCESS)
}

/// What each signing algorithm of the authorization server costs on one
/// core: generating a key, signing a token, verifying it.
fn signing_keys_command(args: &Args) -> Result<ExitCode, String> {
    use identityd::auth::provider_keys::{ACCESS_TOKEN_TYPE, Algorithm, KeyPair, ProviderKeys};
    let tokens: u32 = args.number("tokens", 2000)?;
    let claims = serde_json::json!({
        "iss": "https://id.example.com", "sub": "0b4e7a0e-6a47-4b55-8a4e-0c1a2b3c4d5e",
        "aud": "https://id.example.com/api/v1", "client_id": "c", "scope": "openid read:users",
        "exp": 2_000_000_000_i64, "iat": 1_700_000_000_i64, "nbf": 1_700_000_000_i64,
        "jti": "j", "email": "ada@example.com", "name": "Ada",
    });
    let claims = claims.as_object().cloned().unwrap_or_default();
    let now = identityd::domain::types::Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH);
    for algorithm in Algorithm::ALL {
        let started = std::time::Instant::now();
        let pair = KeyPair::generate(algorithm).map_err(|e| e.to_string())?;
        let generate_ms = started.elapsed().as_secs_f64() * 1000.0;
        let keys = ProviderKeys::single(pair);
        let started = std::time::Instant::now();
        let mut token = String::new();
        for _ in 0..tokens {
            token = keys
                .sign(ACCESS_TOKEN_TYPE, &claims, now)
                .ok_or("no signing key")?;
        }
        let sign_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(tokens);
        let started = std::time::Instant::now();
        for _ in 0..tokens {
            keys.verify(&token, ACCESS_TOKEN_TYPE)
                .ok_or("a token did not verify")?;
        }
        let verify_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(tokens);
        println!(
            "{}",
            serde_json::json!({
                "label": "signing_keys", "alg": algorithm.name(), "generate_ms": generate_ms,
                "sign_us": sign_us, "verify_us": verify_us, "token_bytes": token.len(),
            })
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_command(args: &Args) -> Result<ExitCode, String> {
    let settings = scenario::Settings {
        base: args
            .value("url")
            .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned()),
        scenario: args.value("scenario").ok_or("--scenario is required")?,
        grpc: match args.value("transport").as_deref() {
            None | Some("rest") => false,
            Some("grpc") => true,
            Some(other) => return Err(format!("--transport: rest or grpc, not {other}")),
        },
        connections: args.number("connections", 64)?,
        duration: Duration::from_secs_f64(args.number("duration", 10.0)?),
        requests: args
            .value("requests")
            .map(|v| v.parse())
            .transpose()
            .map_err(|_| "--requests: not a number")?,
        admin_email: args.value("admin-email"),
        admin_password: args.value("admin-password"),
        search: args.value("search"),
        hot: args.flag("hot"),
    };
    if settings.connections == 0 {
        return Err("--connections must be at least 1".to_owned());
    }
    let pid: Option<u32> = args
        .value("pid")
        .map(|p| p.parse())
        .transpose()
        .map_err(|_| "--pid: not a number")?;
    let result = scenario::run(&settings, pid).await?;
    if args.flag("json") {
        println!("{}", result.to_json());
    } else {
        println!("{}", result.to_text());
    }
    // A run with errors is flagged in the output and in the exit status.
    Ok(if result.errors() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
