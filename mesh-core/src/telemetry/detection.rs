//! Metrics of protocol detection: outcomes by protocol and reason, and how
//! long detection took. Detection timeouts are the first thing operators
//! look for when a server-first protocol is slow to connect.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::DetectOutcome;

type OutcomeLabels = [(&'static str, &'static str); 2];
type ReasonLabel = [(&'static str, &'static str); 1];

/// `meshkit_protocol_detection_total{protocol, reason}` and
/// `meshkit_protocol_detection_duration_seconds{reason}`.
#[derive(Debug, Clone)]
pub struct DetectionMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
    duration: Family<ReasonLabel, Histogram, fn() -> Histogram>,
}

fn duration_histogram() -> Histogram {
    // 100 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

impl DetectionMetrics {
    /// Registers the families on `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = DetectionMetrics {
            outcomes: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
        };
        registry.register(
            "meshkit_protocol_detection",
            "Protocol detections by decided protocol and how detection ended",
            m.outcomes.clone(),
        );
        registry.register(
            "meshkit_protocol_detection_duration_seconds",
            "Time spent detecting the protocol of a connection",
            m.duration.clone(),
        );
        m
    }

    /// Records one detection.
    pub fn record(&self, outcome: &DetectOutcome) {
        let reason = outcome.reason.as_str();
        self.outcomes
            .get_or_create(&[("protocol", outcome.protocol.as_str()), ("reason", reason)])
            .inc();
        self.duration
            .get_or_create(&[("reason", reason)])
            .observe(outcome.elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DetectReason, Protocol};
    use std::time::Duration;

    #[test]
    fn records_outcomes() {
        let mut registry = Registry::default();
        let m = DetectionMetrics::register(&mut registry);
        let timeout = DetectOutcome {
            protocol: Protocol::Tcp,
            reason: DetectReason::Timeout,
            elapsed: Duration::from_secs(1),
            bytes: 0,
        };
        m.record(&timeout);
        m.record(&timeout);
        m.record(&DetectOutcome {
            protocol: Protocol::Http1,
            reason: DetectReason::Matched,
            elapsed: Duration::from_micros(50),
            bytes: 18,
        });
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                "meshkit_protocol_detection_total{protocol=\"tcp\",reason=\"timeout\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "meshkit_protocol_detection_total{protocol=\"http\",reason=\"matched\"} 1"
            )
        );
        assert!(
            text.contains(
                "meshkit_protocol_detection_duration_seconds_count{reason=\"timeout\"} 2"
            )
        );
    }
}
