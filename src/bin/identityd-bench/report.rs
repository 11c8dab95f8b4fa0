//! Per-worker recording (an HDR histogram in microseconds and outcome
//! counts) and the merged report, as text or JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

use crate::scenario::Settings;

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx, or gRPC OK.
    Ok,
    /// Another HTTP status.
    Http(u16),
    /// Another gRPC status code.
    Grpc(i32),
    /// No answer (connect, timeout, broken body).
    Transport(&'static str),
    /// Refused on purpose as overload (429 or `RESOURCE_EXHAUSTED`): the
    /// server's admission control; counted apart, its latency not recorded.
    Shed,
}

/// One worker's record.
#[derive(Debug)]
pub struct Recorder {
    /// Whether its latencies are the measured ones (login_flood: only
    /// the readers').
    measured: bool,
    latency: Histogram<u64>,
    ok: u64,
    shed: u64,
    errors: BTreeMap<String, u64>,
}

impl Recorder {
    /// An empty record.
    pub fn new(measured: bool) -> Self {
        Self {
            measured,
            // 1 µs to 5 min, 3 significant digits.
            latency: Histogram::new_with_bounds(1, 300_000_000, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_histogram())),
            ok: 0,
            shed: 0,
            errors: BTreeMap::new(),
        }
    }

    /// Records a request.
    pub fn record(&mut self, elapsed: Duration, outcome: Outcome) {
        if outcome == Outcome::Shed {
            self.shed += 1;
            return;
        }
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = self.latency.record(micros.min(300_000_000));
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Http(status) => *self.errors.entry(format!("http {status}")).or_insert(0) += 1,
            Outcome::Grpc(code) => {
                *self
                    .errors
                    .entry(format!("grpc-status {code}"))
                    .or_insert(0) += 1
            }
            Outcome::Transport(kind) => {
                *self.errors.entry(format!("transport {kind}")).or_insert(0) += 1
            }
            Outcome::Shed => {}
        }
    }
}

#[expect(
    clippy::panic,
    reason = "a histogram with constant, valid bounds always builds"
)]
fn unreachable_histogram() -> Histogram<u64> {
    panic!("histogram bounds")
}

/// Latency and counts of one group of connections.
#[derive(Debug)]
pub struct Group {
    latency: Histogram<u64>,
    ok: u64,
    shed: u64,
    errors: BTreeMap<String, u64>,
}

impl Group {
    fn from(recorders: impl Iterator<Item = Recorder>) -> Option<Self> {
        let mut group: Option<Group> = None;
        for r in recorders {
            match &mut group {
                None => {
                    group = Some(Group {
                        latency: r.latency,
                        ok: r.ok,
                        shed: r.shed,
                        errors: r.errors,
                    });
                }
                Some(g) => {
                    let _ = g.latency.add(&r.latency);
                    g.ok += r.ok;
                    g.shed += r.shed;
                    for (k, v) in r.errors {
                        *g.errors.entry(k).or_insert(0) += v;
                    }
                }
            }
        }
        group
    }

    fn requests(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn json(&self, seconds: f64) -> serde_json::Value {
        json!({
            "requests": self.requests(),
            "ok": self.ok,
            "shed": self.shed,
            "errors": self.errors,
            "rps": self.requests() as f64 / seconds,
            "latency_ms": {
                "p50": self.ms(0.5), "p90": self.ms(0.9), "p99": self.ms(0.99),
                "p999": self.ms(0.999), "max": self.latency.max() as f64 / 1000.0,
                "mean": self.latency.mean() / 1000.0,
            },
        })
    }

    fn text(&self, label: &str, seconds: f64) -> String {
        let errors: u64 = self.errors.values().sum();
        let mut out = format!(
            "{label}: {} requests in {seconds:.1}s = {:.0} req/s | latency ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} | errors {errors}",
            self.requests(),
            self.requests() as f64 / seconds,
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.latency.max() as f64 / 1000.0,
        );
        if self.shed > 0 {
            out.push_str(&format!(
                " | shed {} (429 / RESOURCE_EXHAUSTED, retried after 1 s)",
                self.shed
            ));
        }
        for (kind, n) in &self.errors {
            out.push_str(&format!("\n    {kind}: {n}"));
        }
        out
    }
}

/// The whole run.
#[derive(Debug)]
pub struct RunResult {
    scenario: String,
    transport: &'static str,
    connections: usize,
    seconds: f64,
    /// The measured group (for login_flood: the get_me readers).
    measured: Option<Group>,
    /// login_flood: the login side.
    load: Option<Group>,
    cpu: Option<f64>,
    peak_rss: Option<u64>,
}

impl RunResult {
    /// Merges the workers' records.
    pub fn merge(
        settings: &Settings,
        _flooders: usize,
        _readers: usize,
        elapsed: Duration,
        recorders: Vec<Recorder>,
        cpu: Option<f64>,
        peak_rss: Option<u64>,
    ) -> Self {
        let (measured, load): (Vec<_>, Vec<_>) = recorders.into_iter().partition(|r| r.measured);
        Self {
            scenario: settings.scenario.clone(),
            transport: if settings.grpc { "grpc" } else { "rest" },
            connections: settings.connections,
            seconds: elapsed.as_secs_f64(),
            measured: Group::from(measured.into_iter()),
            load: Group::from(load.into_iter()),
            cpu,
            peak_rss,
        }
    }

    /// Failed requests in all.
    pub fn errors(&self) -> u64 {
        [&self.measured, &self.load]
            .into_iter()
            .flatten()
            .map(|g| g.errors.values().sum::<u64>())
            .sum()
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        json!({
            "scenario": self.scenario,
            "transport": self.transport,
            "connections": self.connections,
            "seconds": self.seconds,
            "measured": self.measured.as_ref().map(|g| g.json(self.seconds)),
            "load": self.load.as_ref().map(|g| g.json(self.seconds)),
            "server_cpu_cores": self.cpu,
            "server_peak_rss_mib": self.peak_rss.map(|b| b as f64 / 1_048_576.0),
            "flagged": self.errors() > 0,
        })
        .to_string()
    }

    /// A human summary.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{} over {} with {} connections",
            self.scenario, self.transport, self.connections
        );
        if let Some(g) = &self.measured {
            let label = if self.load.is_some() {
                "  get_me (measured)"
            } else {
                "  all"
            };
            out.push('\n');
            out.push_str(&g.text(label, self.seconds));
        }
        if let Some(g) = &self.load {
            out.push('\n');
            out.push_str(&g.text("  login (load)", self.seconds));
        }
        if let Some(cpu) = self.cpu {
            out.push_str(&format!(
                "\n  server: {:.0}% CPU (of one core)",
                cpu * 100.0
            ));
        }
        if let Some(rss) = self.peak_rss {
            out.push_str(&format!(", peak RSS {:.1} MiB", rss as f64 / 1_048_576.0));
        }
        if self.errors() > 0 {
            out.push_str(&format!("\n  FLAGGED: {} requests failed", self.errors()));
        }
        out
    }
}
