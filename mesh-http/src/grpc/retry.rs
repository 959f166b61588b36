//! Which gRPC responses a retry policy retries.
//!
//! The policy itself, and the mapping from Envoy's `retry_on` names
//! (`cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`,
//! `unavailable`) to status codes, live in one place:
//! [`mesh_resilience::retry::RetryOn`], which also parses Istio's
//! `retryOn`. This module does the gRPC part: it finds the status of a
//! response (trailers, trailers-only headers, or neither) and the server's
//! `grpc-retry-pushback-ms` beside it, and asks the policy.
//!
//! A proxy can only retry what it has not yet forwarded: once response
//! headers went downstream the response is committed. In practice a
//! gRPC retry is decided on a trailers-only response (the status is in
//! the headers, and the stream ended with them), or on a failure without
//! a response; call [`verdict`] with `trailers: None` when the headers
//! arrive, and a streaming response (headers without a status) is
//! accepted.

use mesh_resilience::retry::{RetryOn, RetryPolicy, Verdict, pushback};

use super::{Code, Fields, GRPC_RETRY_PUSHBACK_MS, ResponseStatus, StatusSource};

/// Whether `retry_on` makes a response with status `code` retryable.
pub fn retryable(retry_on: &RetryOn, code: Code) -> bool {
    retry_on.grpc(code.into())
}

/// The policy's verdict on a response: retry on its HTTP status (`5xx`,
/// `gateway-error`, `retriable-status-codes`, as for any HTTP response),
/// else on its `grpc-status` with the server's pushback from the same
/// block of fields. A status inferred from the HTTP status alone is not a
/// gRPC status and triggers no gRPC condition (as in Envoy).
pub fn verdict<F: Fields + ?Sized>(
    policy: &RetryPolicy,
    http_status: u16,
    headers: &F,
    trailers: Option<&F>,
) -> Verdict {
    if policy.retry_on.status(http_status) {
        return Verdict::Retry;
    }
    let response = ResponseStatus::read(http_status, headers, trailers);
    let block = match (response.source, trailers) {
        (StatusSource::Trailers, Some(trailers)) => trailers,
        (StatusSource::Headers, _) => headers,
        _ => return Verdict::Accept,
    };
    let pushback = block
        .field(GRPC_RETRY_PUSHBACK_MS)
        .map(|v| pushback::parse_grpc_pushback(v));
    policy.verdict_for_grpc(response.status.code.into(), pushback)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::h1::HeaderMap;
    use crate::h2::hpack::Field;

    /// Envoy's token for a code is the code's name in kebab case; this
    /// checks that `RetryOn` (the one owner of the mapping) agrees, for
    /// every code.
    #[test]
    fn retry_on_names_match_the_codes() {
        let tokens = [
            "cancelled",
            "deadline-exceeded",
            "internal",
            "resource-exhausted",
            "unavailable",
        ];
        for token in tokens {
            let on = RetryOn::parse(token).unwrap();
            for code in Code::ALL {
                let named = code.as_str().to_lowercase().replace('_', "-") == token;
                assert_eq!(retryable(&on, code), named, "{token} vs {code}");
            }
        }
        let all = RetryOn::parse(&tokens.join(",")).unwrap();
        let retried: Vec<Code> = Code::ALL
            .into_iter()
            .filter(|&c| retryable(&all, c))
            .collect();
        assert_eq!(
            retried,
            [
                Code::Cancelled,
                Code::DeadlineExceeded,
                Code::ResourceExhausted,
                Code::Internal,
                Code::Unavailable
            ]
        );
    }

    fn trailers_only(code: &str, extra: &[(&'static str, &'static str)]) -> Vec<Field> {
        let mut fields = vec![
            Field::new(":status", "200"),
            Field::new("content-type", "application/grpc"),
            Field::new("grpc-status", code.to_owned()),
        ];
        fields.extend(extra.iter().map(|&(n, v)| Field::new(n, v)));
        fields
    }

    #[test]
    fn verdicts() {
        let policy = RetryPolicy::default(); // Istio: unavailable, cancelled, 503, ...
        assert_eq!(
            verdict(&policy, 200, &trailers_only("14", &[]), None),
            Verdict::Retry
        );
        assert_eq!(
            verdict(&policy, 200, &trailers_only("1", &[]), None),
            Verdict::Retry
        );
        assert_eq!(
            verdict(&policy, 200, &trailers_only("4", &[]), None),
            Verdict::Accept
        );
        assert_eq!(
            verdict(&policy, 200, &trailers_only("0", &[]), None),
            Verdict::Accept
        );
        // Pushback from the same block delays or forbids the retry.
        let later = trailers_only("14", &[("grpc-retry-pushback-ms", "250")]);
        assert_eq!(
            verdict(&policy, 200, &later, None),
            Verdict::RetryAfter(Duration::from_millis(250))
        );
        let never = trailers_only("14", &[("grpc-retry-pushback-ms", "-1")]);
        assert_eq!(verdict(&policy, 200, &never, None), Verdict::Accept);
        // Status in trailers.
        let head = [
            Field::new(":status", "200"),
            Field::new("content-type", "application/grpc"),
        ];
        let trailers = [Field::new("grpc-status", "14")];
        assert_eq!(
            verdict(&policy, 200, &head[..], Some(&trailers[..])),
            Verdict::Retry
        );
        // Headers of a streaming response: nothing to retry on.
        assert_eq!(verdict(&policy, 200, &head, None), Verdict::Accept);
        // A non-gRPC 503 is retried by its HTTP status (Istio's default has
        // retriable-status-codes 503); a 502 is not, although gRPC would
        // read it as UNAVAILABLE.
        assert_eq!(
            verdict(&policy, 503, &HeaderMap::new(), None),
            Verdict::Retry
        );
        assert_eq!(
            verdict(&policy, 502, &HeaderMap::new(), None),
            Verdict::Accept
        );
        let deadline = RetryPolicy {
            retry_on: RetryOn::parse("deadline-exceeded").unwrap(),
            ..RetryPolicy::default()
        };
        assert_eq!(
            verdict(&deadline, 200, &trailers_only("4", &[]), None),
            Verdict::Retry
        );
        assert_eq!(
            verdict(&deadline, 200, &trailers_only("14", &[]), None),
            Verdict::Accept
        );
    }
}
