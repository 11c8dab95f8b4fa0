//! The generic cell rate algorithm (docs/security.md#rate-limits): a limit
//! of N per period admits a burst of N and regains one request every
//! period / N. The whole state of a key is one number, its theoretical
//! arrival time (TAT); a refused request leaves it unchanged.

/// A limit as GCRA parameters, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Time that one request "costs" (period / N).
    pub interval_ms: i64,
    /// How far ahead of now the TAT may run (period: a burst of N).
    pub burst_ms: i64,
}

impl Rate {
    /// `n` requests per `period_ms`.
    pub fn per(n: u32, period_ms: i64) -> Self {
        let n = i64::from(n.max(1));
        Self {
            interval_ms: (period_ms / n).max(1),
            burst_ms: period_ms,
        }
    }
}

/// What GCRA decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted; store this TAT (it may be forgotten after `ttl_ms`).
    Allow {
        /// The key's new TAT.
        tat: i64,
        /// How long the key matters.
        ttl_ms: i64,
    },
    /// Refused; a request would be admitted after `retry_after_ms`.
    Deny {
        /// Wait before a request is admitted.
        retry_after_ms: i64,
    },
}

/// Decides one request at `now` for a key whose TAT is `tat` (none when the
/// key is unknown or forgotten).
pub fn decide(tat: Option<i64>, now: i64, rate: Rate) -> Verdict {
    let tat = tat.map_or(now, |t| t.max(now));
    let new_tat = tat + rate.interval_ms;
    let ahead = new_tat - now;
    if ahead > rate.burst_ms {
        Verdict::Deny {
            retry_after_ms: ahead - rate.burst_ms,
        }
    } else {
        Verdict::Allow {
            tat: new_tat,
            ttl_ms: ahead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: Rate, times: &[i64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| match decide(tat, now, rate) {
                Verdict::Allow { tat: t, .. } => {
                    tat = Some(t);
                    true
                }
                Verdict::Deny { .. } => false,
            })
            .collect()
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let rate = Rate::per(3, 60_000);
        assert_eq!(run(rate, &[0, 0, 0, 0]), [true, true, true, false]);
        // 20 s regain one request; refused ones cost nothing.
        assert_eq!(
            run(rate, &[0, 0, 0, 19_999, 20_000, 20_001]),
            [true, true, true, false, true, false]
        );
    }

    #[test]
    fn retry_after_is_the_wait_for_the_next_admission() {
        let rate = Rate::per(2, 60_000);
        let tat = Some(60_000);
        assert_eq!(
            decide(tat, 0, rate),
            Verdict::Deny {
                retry_after_ms: 30_000
            }
        );
        assert!(matches!(decide(tat, 30_000, rate), Verdict::Allow { .. }));
    }

    #[test]
    fn an_idle_key_starts_full() {
        let rate = Rate::per(10, 60_000);
        let old = Some(5_000);
        assert_eq!(
            decide(old, 1_000_000, rate),
            Verdict::Allow {
                tat: 1_006_000,
                ttl_ms: 6_000
            }
        );
    }
}
