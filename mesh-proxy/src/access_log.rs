//! One access log line per connection, in Istio's default text format or
//! its JSON format, written by a background thread so a slow disk never
//! stalls a connection.
//!
//! The text line is Envoy's format string as Istio configures it; a TCP
//! connection has no request, so the request fields are `-`:
//!
//! ```text
//! [2024-05-01T12:00:00.123Z] "- - -" 0 - - - "-" 12 34 5 - "-" "-" "-" "-" "10.0.0.2:9080" outbound|9080|v1|reviews.default.svc.cluster.local 10.0.0.1:51234 127.0.0.1:15001 127.0.0.1:40000 - -
//! ```

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesh_core::config::meshkit::AccessLogEncoding;
use mesh_core::telemetry::ResponseFlags;
use prometheus_client::metrics::counter::Counter;

/// What one connection's line says.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogEntry {
    /// When the connection was accepted.
    pub start: SystemTime,
    /// How long it lasted.
    pub duration: Duration,
    /// Why it did not reach or finish with its upstream (`-` when fine).
    pub response_flags: ResponseFlags,
    /// Bytes read from the downstream.
    pub bytes_received: u64,
    /// Bytes written to the downstream.
    pub bytes_sent: u64,
    /// The upstream endpoint, once one was picked.
    pub upstream_host: Option<SocketAddr>,
    /// The cluster (`outbound|9080|v1|reviews.default.svc.cluster.local`).
    pub upstream_cluster: Option<String>,
    /// The proxy's address on the upstream connection.
    pub upstream_local_address: Option<SocketAddr>,
    /// Why the upstream TLS handshake failed.
    pub upstream_transport_failure_reason: Option<String>,
    /// The address the downstream connected to (the original destination
    /// for captured connections).
    pub downstream_local_address: Option<SocketAddr>,
    /// The downstream's address.
    pub downstream_remote_address: Option<SocketAddr>,
    /// The SNI the downstream sent.
    pub requested_server_name: Option<String>,
    /// The route (`namespace/virtualservice#index`).
    pub route_name: Option<String>,
    /// Why the proxy closed the connection (an authorization denial).
    pub connection_termination_details: Option<String>,
}

impl AccessLogEntry {
    /// An entry for a connection accepted at `start`, with nothing known yet.
    pub fn new(start: SystemTime) -> Self {
        AccessLogEntry {
            start,
            duration: Duration::ZERO,
            response_flags: ResponseFlags::NONE,
            bytes_received: 0,
            bytes_sent: 0,
            upstream_host: None,
            upstream_cluster: None,
            upstream_local_address: None,
            upstream_transport_failure_reason: None,
            downstream_local_address: None,
            downstream_remote_address: None,
            requested_server_name: None,
            route_name: None,
            connection_termination_details: None,
        }
    }

    /// The line in Istio's default text format.
    pub fn text(&self) -> String {
        fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
            v.as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string)
        }
        // Free text must not split the line's fields or its quotes.
        let token = |v: &Option<String>| {
            opt(v)
                .replace(|c: char| c.is_whitespace(), "_")
                .replace('"', "'")
        };
        let quoted = |v: &Option<String>| opt(v).replace('"', "'");
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "[{}] \"- - -\" 0 {} - {} \"{}\" {} {} {} - \"-\" \"-\" \"-\" \"-\" \"{}\" {} {} {} {} {} {}",
            rfc3339_millis(self.start),
            self.response_flags,
            token(&self.connection_termination_details),
            quoted(&self.upstream_transport_failure_reason),
            self.bytes_received,
            self.bytes_sent,
            self.duration.as_millis(),
            opt(&self.upstream_host),
            opt(&self.upstream_cluster),
            opt(&self.upstream_local_address),
            opt(&self.downstream_local_address),
            opt(&self.downstream_remote_address),
            opt(&self.requested_server_name),
            opt(&self.route_name),
        );
        s
    }

    /// The line as Istio's JSON encoding writes it (same fields, `null`
    /// for the unknown ones).
    pub fn json(&self) -> serde_json::Value {
        fn opt<T: std::fmt::Display>(v: &Option<T>) -> serde_json::Value {
            v.as_ref()
                .map_or(serde_json::Value::Null, |v| v.to_string().into())
        }
        serde_json::json!({
            "start_time": rfc3339_millis(self.start),
            "method": null,
            "path": null,
            "protocol": null,
            "response_code": 0,
            "response_flags": self.response_flags.to_string(),
            "response_code_details": null,
            "connection_termination_details": opt(&self.connection_termination_details),
            "upstream_transport_failure_reason": opt(&self.upstream_transport_failure_reason),
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
            "duration": self.duration.as_millis() as u64,
            "upstream_service_time": null,
            "x_forwarded_for": null,
            "user_agent": null,
            "request_id": null,
            "authority": null,
            "upstream_host": opt(&self.upstream_host),
            "upstream_cluster": opt(&self.upstream_cluster),
            "upstream_local_address": opt(&self.upstream_local_address),
            "downstream_local_address": opt(&self.downstream_local_address),
            "downstream_remote_address": opt(&self.downstream_remote_address),
            "requested_server_name": opt(&self.requested_server_name),
            "route_name": opt(&self.route_name),
        })
    }
}

/// `2024-05-01T12:00:00.123Z`, computed without a calendar crate.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Lines in flight to the writer thread before new ones are dropped.
const QUEUE: usize = 4096;

/// Where lines go, and in which encoding. Cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    encoding: AccessLogEncoding,
    tx: SyncSender<String>,
    dropped: Counter,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl AccessLog {
    /// Lines written to `out` by a background thread, one per entry.
    /// `dropped` counts lines dropped when the thread falls behind.
    pub fn to_writer(
        encoding: AccessLogEncoding,
        mut out: Box<dyn Write + Send>,
        dropped: Counter,
    ) -> std::io::Result<AccessLog> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(QUEUE);
        std::thread::Builder::new()
            .name("mesh-access-log".into())
            .spawn(move || {
                while let Ok(line) = rx.recv() {
                    let _ = out.write_all(line.as_bytes());
                    // Flush when the queue is empty, so lines show up promptly.
                    let mut batch = true;
                    while batch {
                        match rx.try_recv() {
                            Ok(line) => {
                                let _ = out.write_all(line.as_bytes());
                            }
                            Err(_) => batch = false,
                        }
                    }
                    let _ = out.flush();
                }
            })?;
        Ok(AccessLog {
            encoding,
            tx,
            dropped,
        })
    }

    /// Istio's `accessLogFile`: `/dev/stdout`, `/dev/stderr` or a file
    /// opened for appending.
    pub fn open(
        path: &str,
        encoding: AccessLogEncoding,
        dropped: Counter,
    ) -> std::io::Result<AccessLog> {
        let out: Box<dyn Write + Send> = match path {
            "/dev/stdout" => Box::new(std::io::stdout()),
            "/dev/stderr" => Box::new(std::io::stderr()),
            path => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        AccessLog::to_writer(encoding, out, dropped)
    }

    /// Lines sent to a channel: for tests and embedders that ship logs
    /// themselves.
    pub fn to_channel(
        encoding: AccessLogEncoding,
    ) -> (AccessLog, std::sync::mpsc::Receiver<String>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        (
            AccessLog {
                encoding,
                tx,
                dropped: Counter::default(),
            },
            rx,
        )
    }

    /// The encoding.
    pub fn encoding(&self) -> AccessLogEncoding {
        self.encoding
    }

    /// Logs one connection (never blocks; drops the line when the writer
    /// is more than a few thousand lines behind).
    pub fn log(&self, entry: &AccessLogEntry) {
        let mut line = match self.encoding {
            AccessLogEncoding::Text => entry.text(),
            AccessLogEncoding::Json => entry.json().to_string(),
        };
        line.push('\n');
        match self.tx.try_send(line) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.inc();
            }
        }
    }
}

/// A shared access log, or none.
pub type SharedAccessLog = Option<Arc<AccessLog>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AccessLogEntry {
        let mut e = AccessLogEntry::new(UNIX_EPOCH + Duration::from_millis(1_714_564_800_123));
        e.duration = Duration::from_millis(5);
        e.bytes_received = 12;
        e.bytes_sent = 34;
        e.upstream_host = Some("10.0.0.2:9080".parse().unwrap());
        e.upstream_cluster = Some("outbound|9080|v1|reviews.default.svc.cluster.local".into());
        e.upstream_local_address = Some("10.0.0.1:51234".parse().unwrap());
        e.downstream_local_address = Some("127.0.0.1:15001".parse().unwrap());
        e.downstream_remote_address = Some("127.0.0.1:40000".parse().unwrap());
        e
    }

    #[test]
    fn text_format_is_istios() {
        assert_eq!(
            entry().text(),
            "[2024-05-01T12:00:00.123Z] \"- - -\" 0 - - - \"-\" 12 34 5 - \"-\" \"-\" \"-\" \"-\" \"10.0.0.2:9080\" outbound|9080|v1|reviews.default.svc.cluster.local 10.0.0.1:51234 127.0.0.1:15001 127.0.0.1:40000 - -"
        );
        let mut denied = entry();
        denied.response_flags = ResponseFlags::UNAUTHORIZED_EXTERNAL_SERVICE;
        denied.connection_termination_details =
            Some("rbac_access_denied_matched_policy[ns/deny]".into());
        assert!(
            denied
                .text()
                .contains(" 0 UAEX - rbac_access_denied_matched_policy[ns/deny] \"-\" ")
        );
        let mut failed = entry();
        failed.connection_termination_details = Some("peer said \"no\"".into());
        failed.upstream_transport_failure_reason = Some("bad \"id\"".into());
        let line = failed.text();
        assert!(line.contains(" peer_said_'no' \"bad 'id'\" "), "{line}");
        assert_eq!(
            line.split(' ').count(),
            entry().text().split(' ').count() + 1
        );
    }

    #[test]
    fn json_format() {
        let v = entry().json();
        assert_eq!(v["bytes_sent"], 34);
        assert_eq!(v["response_flags"], "-");
        assert_eq!(v["upstream_host"], "10.0.0.2:9080");
        assert!(v["requested_server_name"].is_null());
        assert_eq!(v["start_time"], "2024-05-01T12:00:00.123Z");
    }

    #[test]
    fn calendar() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day in a century year divisible by 400).
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH + Duration::from_secs(4_102_444_799)),
            "2099-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn lines_reach_the_channel() {
        let (log, rx) = AccessLog::to_channel(AccessLogEncoding::Json);
        log.log(&entry());
        let line = rx.recv().unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["bytes_received"], 12);
    }
}
