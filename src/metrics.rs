//! Prometheus metrics (docs/operations.md#metrics): a small registry of
//! counters and histograms with bounded label sets, rendered in the text
//! exposition format at `/metrics`. Gauges (pool, password hashing) are read
//! when scraped.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A histogram of durations.
#[derive(Debug)]
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: LATENCY_BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Appends the series of `name{labels}` (labels without braces, may be empty).
    pub fn render(&self, name: &str, labels: &str, out: &mut String) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            let n = bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// How a request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Native gRPC.
    Grpc,
    /// grpc-web.
    GrpcWeb,
    /// Everything else (REST, OAuth endpoints, health, docs).
    Http,
}

impl Transport {
    const ALL: [Transport; 3] = [Self::Grpc, Self::GrpcWeb, Self::Http];

    fn label(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::GrpcWeb => "grpc-web",
            Self::Http => "http",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Grpc => 0,
            Self::GrpcWeb => 1,
            Self::Http => 2,
        }
    }
}

/// Security-relevant outcomes counted by the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A password login (JSON, form or the authorization server's page) succeeded.
    LoginSucceeded,
    /// A password login failed (credentials, inactive account, throttle).
    LoginFailed,
    /// A refresh token was rotated.
    RefreshSucceeded,
    /// A refresh was refused (invalid, expired, revoked, reused).
    RefreshFailed,
    /// A social-login callback logged someone in.
    SocialLoginSucceeded,
    /// A social-login callback was refused.
    SocialLoginFailed,
}

impl Event {
    const ALL: [Event; 6] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::RefreshSucceeded,
        Self::RefreshFailed,
        Self::SocialLoginSucceeded,
        Self::SocialLoginFailed,
    ];

    fn series(self) -> (&'static str, &'static str) {
        match self {
            Self::LoginSucceeded => ("identityd_logins_total", "success"),
            Self::LoginFailed => ("identityd_logins_total", "failure"),
            Self::RefreshSucceeded => ("identityd_refreshes_total", "success"),
            Self::RefreshFailed => ("identityd_refreshes_total", "failure"),
            Self::SocialLoginSucceeded => ("identityd_social_logins_total", "success"),
            Self::SocialLoginFailed => ("identityd_social_logins_total", "failure"),
        }
    }
}

/// Values read at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Connections the pool holds.
    pub pool_size: usize,
    /// Of which idle.
    pub pool_idle: usize,
    /// Requests waiting for a connection.
    pub pool_waiting: usize,
    /// Password hashes waiting for a slot.
    pub hash_waiting: usize,
    /// Password hashes running.
    pub hash_running: usize,
}

/// The registry.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<HashMap<(Transport, String, String), u64>>,
    latency: [Histogram; 3],
    rate_limited: Mutex<HashMap<String, u64>>,
    events: [AtomicU64; 6],
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Mutex::new(HashMap::new()),
            latency: Default::default(),
            rate_limited: Mutex::new(HashMap::new()),
            events: Default::default(),
        }
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records one answered request. `route` must come from a bounded set
    /// (route templates, known gRPC methods, "other").
    pub fn request(&self, transport: Transport, route: &str, status: &str, elapsed: Duration) {
        self.latency[transport.index()].observe(elapsed);
        let mut map = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry((transport, route.to_owned(), status.to_owned()))
            .or_insert(0) += 1;
    }

    /// Records a request refused by a rate limit of `route`.
    pub fn rate_limited(&self, route: &str) {
        let mut map = self
            .rate_limited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry(route.to_owned()).or_insert(0) += 1;
    }

    /// Counts an outcome.
    pub fn event(&self, event: Event) {
        let index = Event::ALL.iter().position(|e| *e == event).unwrap_or(0);
        self.events[index].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with `gauges` and the password-hash wait histogram.
    pub fn render(&self, gauges: Gauges, hash_wait: &Histogram) -> String {
        let mut out = String::with_capacity(8 * 1024);
        out.push_str("# HELP identityd_requests_total Requests answered, by transport, route and status (HTTP status; gRPC status when the answer carries it in its headers).\n# TYPE identityd_requests_total counter\n");
        {
            let map = self
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut rows: Vec<_> = map.iter().collect();
            rows.sort_by(|a, b| a.0.1.cmp(&b.0.1).then(a.0.2.cmp(&b.0.2)));
            for ((transport, route, status), n) in rows {
                let _ = writeln!(
                    out,
                    "identityd_requests_total{{transport=\"{}\",route=\"{}\",status=\"{}\"}} {n}",
                    transport.label(),
                    escape(route),
                    escape(status)
                );
            }
        }
        out.push_str("# HELP identityd_request_duration_seconds Time to answer a request (until its headers), by transport.\n# TYPE identityd_request_duration_seconds histogram\n");
        for transport in Transport::ALL {
            let labels = format!("transport=\"{}\"", transport.label());
            self.latency[transport.index()].render(
                "identityd_request_duration_seconds",
                &labels,
                &mut out,
            );
        }
        out.push_str("# HELP identityd_rate_limited_total Requests refused by a rate limit, by route.\n# TYPE identityd_rate_limited_total counter\n");
        {
            let map = self
                .rate_limited
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut rows: Vec<_> = map.iter().collect();
            rows.sort();
            for (route, n) in rows {
                let _ = writeln!(
                    out,
                    "identityd_rate_limited_total{{route=\"{}\"}} {n}",
                    escape(route)
                );
            }
        }
        let mut last_family = "";
        for (event, counter) in Event::ALL.iter().zip(&self.events) {
            let (family, result) = event.series();
            if family != last_family {
                let _ = writeln!(out, "# TYPE {family} counter");
                last_family = family;
            }
            let n = counter.load(Ordering::Relaxed);
            let _ = writeln!(out, "{family}{{result=\"{result}\"}} {n}");
        }
        let gauge = |out: &mut String, name: &str, help: &str, value: usize| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "identityd_db_pool_connections",
            "Connections the database pool holds.",
            gauges.pool_size,
        );
        gauge(
            &mut out,
            "identityd_db_pool_idle",
            "Idle connections in the pool.",
            gauges.pool_idle,
        );
        gauge(
            &mut out,
            "identityd_db_pool_waiting",
            "Requests waiting for a database connection.",
            gauges.pool_waiting,
        );
        gauge(
            &mut out,
            "identityd_password_hash_waiting",
            "Password hashes waiting for a hashing slot.",
            gauges.hash_waiting,
        );
        gauge(
            &mut out,
            "identityd_password_hash_running",
            "Password hashes running.",
            gauges.hash_running,
        );
        out.push_str("# HELP identityd_password_hash_wait_seconds Time a password hash waited for a slot.\n# TYPE identityd_password_hash_wait_seconds histogram\n");
        hash_wait.render("identityd_password_hash_wait_seconds", "", &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics::default();
        metrics.request(
            Transport::Http,
            "POST /api/v1/auth/login",
            "200",
            Duration::from_millis(3),
        );
        metrics.request(
            Transport::Http,
            "POST /api/v1/auth/login",
            "200",
            Duration::from_millis(30),
        );
        metrics.event(Event::LoginFailed);
        metrics.rate_limited("POST /api/v1/auth/login");
        let text = metrics.render(Gauges::default(), &Histogram::default());
        assert!(text.contains(
            "identityd_requests_total{transport=\"http\",route=\"POST /api/v1/auth/login\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "identityd_request_duration_seconds_bucket{transport=\"http\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("identityd_request_duration_seconds_count{transport=\"http\"} 2"));
        assert!(text.contains("identityd_logins_total{result=\"failure\"} 1"));
        assert!(text.contains("identityd_rate_limited_total{route=\"POST /api/v1/auth/login\"} 1"));
        assert!(text.contains("identityd_password_hash_wait_seconds_count 0"));
    }
}
