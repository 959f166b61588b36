//! Precedence tables, as Istio documents them: PeerAuthentication (port
//! level, then workload, then namespace, then mesh) and AuthorizationPolicy
//! (DENY first, then ALLOW); and the duration syntax round trip.
#![cfg(feature = "config")]

use mesh_core::config::{
    AuthzReason, ConnectionInfo, Duration, EffectiveConfig, LoadOptions, MtlsMode, Workload,
    load_str,
};
use proptest::prelude::*;

fn load(yaml: &str) -> EffectiveConfig {
    load_str("policy.yaml", yaml, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
        .config
}

fn workload() -> Workload {
    Workload::new("shop", [("app".to_string(), "cart".to_string())].into())
}

fn pa(
    name: &str,
    ns: &str,
    selector: bool,
    mode: &str,
    port: Option<(u16, &str)>,
    created: &str,
) -> String {
    let mut doc = format!(
        "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: {name}, namespace: {ns}, creationTimestamp: \"{created}\"}}\nspec:\n  mtls: {{mode: {mode}}}\n"
    );
    if selector {
        doc.push_str("  selector: {matchLabels: {app: cart}}\n");
    }
    if let Some((port, mode)) = port {
        doc.push_str(&format!("  portLevelMtls:\n    {port}: {{mode: {mode}}}\n"));
    }
    doc
}

#[test]
fn peer_authentication_precedence() {
    use MtlsMode::*;
    // (mesh, namespace, workload, workload port 8080) → mode on 8080, deciding policy, port level?
    #[allow(clippy::type_complexity)]
    let table: &[(
        Option<&str>,
        Option<&str>,
        Option<&str>,
        Option<&str>,
        MtlsMode,
        Option<&str>,
        bool,
    )] = &[
        (None, None, None, None, Permissive, None, false),
        (
            Some("STRICT"),
            None,
            None,
            None,
            Strict,
            Some("istio-system/mesh"),
            false,
        ),
        (
            Some("STRICT"),
            Some("DISABLE"),
            None,
            None,
            Disable,
            Some("shop/ns"),
            false,
        ),
        (
            Some("STRICT"),
            Some("UNSET"),
            None,
            None,
            Strict,
            Some("istio-system/mesh"),
            false,
        ),
        (
            Some("DISABLE"),
            Some("PERMISSIVE"),
            Some("STRICT"),
            None,
            Strict,
            Some("shop/wl"),
            false,
        ),
        (
            Some("STRICT"),
            Some("DISABLE"),
            Some("UNSET"),
            None,
            Disable,
            Some("shop/ns"),
            false,
        ),
        (
            None,
            Some("STRICT"),
            Some("STRICT"),
            Some("DISABLE"),
            Disable,
            Some("shop/wl"),
            true,
        ),
        (
            None,
            Some("DISABLE"),
            Some("UNSET"),
            Some("STRICT"),
            Strict,
            Some("shop/wl"),
            true,
        ),
        (
            Some("STRICT"),
            None,
            Some("PERMISSIVE"),
            Some("UNSET"),
            Permissive,
            Some("shop/wl"),
            false,
        ),
        (
            None,
            None,
            Some("UNSET"),
            Some("UNSET"),
            Permissive,
            None,
            false,
        ),
    ];
    for (i, &(mesh, ns, wl, port, mode, policy, port_level)) in table.iter().enumerate() {
        let mut yaml = String::new();
        if let Some(m) = mesh {
            yaml += &pa(
                "mesh",
                "istio-system",
                false,
                m,
                None,
                "2024-01-01T00:00:00Z",
            );
        }
        if let Some(m) = ns {
            yaml += &pa("ns", "shop", false, m, None, "2024-01-01T00:00:00Z");
        }
        if let Some(m) = wl {
            yaml += &pa(
                "wl",
                "shop",
                true,
                m,
                port.map(|p| (8080, p)),
                "2024-01-01T00:00:00Z",
            );
        }
        // An empty stream is a valid, empty config.
        let config = load(&yaml);
        let d = config.mtls_mode(&workload(), 8080);
        assert_eq!(
            (d.mode, d.policy.as_deref(), d.port_level),
            (mode, policy, port_level),
            "row {i}"
        );
        // Another port never takes the port-level mode.
        assert!(!config.mtls_mode(&workload(), 9090).port_level, "row {i}");
    }
}

#[test]
fn peer_authentication_scoping_and_age() {
    let yaml = [
        pa(
            "newer",
            "shop",
            true,
            "DISABLE",
            None,
            "2024-06-01T00:00:00Z",
        ),
        pa(
            "older",
            "shop",
            true,
            "STRICT",
            None,
            "2023-01-01T00:00:00Z",
        ),
        // A selector in another namespace never applies.
        pa(
            "elsewhere",
            "other",
            true,
            "DISABLE",
            None,
            "2020-01-01T00:00:00Z",
        ),
        // In the root namespace, a policy with a selector applies only there.
        pa(
            "root-selected",
            "istio-system",
            true,
            "DISABLE",
            None,
            "2020-01-01T00:00:00Z",
        ),
    ]
    .concat();
    let config = load(&yaml);
    let d = config.mtls_mode(&workload(), 80);
    assert_eq!(
        (d.mode, d.policy.as_deref()),
        (MtlsMode::Strict, Some("shop/older"))
    );
    let unlabelled = Workload::new("shop", Default::default());
    assert_eq!(config.mtls_mode(&unlabelled, 80).mode, MtlsMode::Permissive);
}

fn ap(name: &str, ns: &str, selector: bool, action: &str, rules: &str) -> String {
    let mut doc = format!(
        "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  action: {action}\n"
    );
    if selector {
        doc.push_str("  selector: {matchLabels: {app: cart}}\n");
    }
    doc.push_str(rules);
    doc
}

const FRONTEND: &str = "spiffe://cluster.local/ns/web/sa/frontend";
const ADMIN: &str = "spiffe://cluster.local/ns/ops/sa/admin";
const BATCH: &str = "spiffe://cluster.local/ns/jobs/sa/batch-nightly";

#[test]
fn authorization_policy_semantics() {
    let from_web = "  rules:\n  - from:\n    - source: {namespaces: [web]}\n";
    let from_ops_to_22 = "  rules:\n  - from:\n    - source: {principals: [\"*/sa/admin\"]}\n    to:\n    - operation: {ports: [\"22\"]}\n";
    let not_port = "  rules:\n  - to:\n    - operation: {notPorts: [\"8080\"]}\n";
    let prefix =
        "  rules:\n  - from:\n    - source: {principals: [\"cluster.local/ns/jobs/sa/batch-*\"]}\n";
    let plaintext_only = "  rules:\n  - from:\n    - source: {notPrincipals: [\"*\"]}\n";
    let ip =
        "  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.0/8], notIpBlocks: [10.9.0.0/16]}\n";
    let http_only = "  rules:\n  - to:\n    - operation: {methods: [POST]}\n";
    let when_port = "  rules:\n  - when:\n    - key: destination.port\n      values: [\"9090\"]\n    - key: source.namespace\n      notValues: [web]\n";
    let allow_all = "  rules:\n  - {}\n";
    let allow_nothing = "";

    // (policies, principal, source ip, port) → allowed, reason
    #[allow(clippy::type_complexity)]
    let table: Vec<(
        Vec<String>,
        Option<&str>,
        Option<&str>,
        u16,
        bool,
        AuthzReason,
    )> = vec![
        (
            vec![],
            Some(FRONTEND),
            None,
            8080,
            true,
            AuthzReason::NoAllowPolicy,
        ),
        (vec![], None, None, 8080, true, AuthzReason::NoAllowPolicy),
        (
            vec![ap("a", "shop", true, "ALLOW", from_web)],
            Some(FRONTEND),
            None,
            8080,
            true,
            AuthzReason::AllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", from_web)],
            Some(ADMIN),
            None,
            8080,
            false,
            AuthzReason::NoAllowMatched,
        ),
        // Namespaces come from the mTLS identity: plaintext never matches.
        (
            vec![ap("a", "shop", true, "ALLOW", from_web)],
            None,
            None,
            8080,
            false,
            AuthzReason::NoAllowMatched,
        ),
        // DENY wins over ALLOW.
        (
            vec![
                ap("a", "shop", true, "ALLOW", allow_all),
                ap("d", "shop", false, "DENY", from_web),
            ],
            Some(FRONTEND),
            None,
            8080,
            false,
            AuthzReason::DenyMatched,
        ),
        // A mesh-wide DENY from the root namespace applies too.
        (
            vec![ap("d", "istio-system", false, "DENY", from_web)],
            Some(FRONTEND),
            None,
            8080,
            false,
            AuthzReason::DenyMatched,
        ),
        // A root-namespace policy with a selector does not reach other namespaces.
        (
            vec![ap("d", "istio-system", true, "DENY", from_web)],
            Some(FRONTEND),
            None,
            8080,
            true,
            AuthzReason::NoAllowPolicy,
        ),
        // Another namespace's policies do not apply.
        (
            vec![ap("d", "other", false, "DENY", allow_all)],
            Some(FRONTEND),
            None,
            8080,
            true,
            AuthzReason::NoAllowPolicy,
        ),
        // Principal suffix pattern and port.
        (
            vec![ap("a", "shop", true, "ALLOW", from_ops_to_22)],
            Some(ADMIN),
            None,
            22,
            true,
            AuthzReason::AllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", from_ops_to_22)],
            Some(ADMIN),
            None,
            23,
            false,
            AuthzReason::NoAllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", prefix)],
            Some(BATCH),
            None,
            80,
            true,
            AuthzReason::AllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", prefix)],
            Some(FRONTEND),
            None,
            80,
            false,
            AuthzReason::NoAllowMatched,
        ),
        (
            vec![ap("d", "shop", true, "DENY", not_port)],
            Some(FRONTEND),
            None,
            8080,
            true,
            AuthzReason::NoAllowPolicy,
        ),
        (
            vec![ap("d", "shop", true, "DENY", not_port)],
            Some(FRONTEND),
            None,
            8081,
            false,
            AuthzReason::DenyMatched,
        ),
        // notPrincipals ["*"]: plaintext only.
        (
            vec![ap("d", "shop", true, "DENY", plaintext_only)],
            None,
            None,
            80,
            false,
            AuthzReason::DenyMatched,
        ),
        (
            vec![ap("d", "shop", true, "DENY", plaintext_only)],
            Some(FRONTEND),
            None,
            80,
            true,
            AuthzReason::NoAllowPolicy,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", ip)],
            None,
            Some("10.1.2.3"),
            80,
            true,
            AuthzReason::AllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", ip)],
            None,
            Some("10.9.2.3"),
            80,
            false,
            AuthzReason::NoAllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", ip)],
            None,
            Some("192.0.2.1"),
            80,
            false,
            AuthzReason::NoAllowMatched,
        ),
        // HTTP-only attributes at the connection level: an ALLOW rule with
        // them never matches; a DENY rule drops them and denies.
        (
            vec![ap("a", "shop", true, "ALLOW", http_only)],
            Some(FRONTEND),
            None,
            80,
            false,
            AuthzReason::NoAllowMatched,
        ),
        (
            vec![ap("d", "shop", true, "DENY", http_only)],
            Some(FRONTEND),
            None,
            80,
            false,
            AuthzReason::DenyMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", when_port)],
            Some(ADMIN),
            None,
            9090,
            true,
            AuthzReason::AllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", when_port)],
            Some(FRONTEND),
            None,
            9090,
            false,
            AuthzReason::NoAllowMatched,
        ),
        (
            vec![ap("a", "shop", true, "ALLOW", when_port)],
            Some(ADMIN),
            None,
            9091,
            false,
            AuthzReason::NoAllowMatched,
        ),
        // ALLOW without rules allows nothing; DENY without rules denies nothing.
        (
            vec![ap("a", "shop", true, "ALLOW", allow_nothing)],
            Some(FRONTEND),
            None,
            80,
            false,
            AuthzReason::NoAllowMatched,
        ),
        (
            vec![ap("d", "shop", true, "DENY", allow_nothing)],
            Some(FRONTEND),
            None,
            80,
            true,
            AuthzReason::NoAllowPolicy,
        ),
        // AUDIT never decides.
        (
            vec![ap("x", "shop", true, "AUDIT", allow_all)],
            Some(FRONTEND),
            None,
            80,
            true,
            AuthzReason::NoAllowPolicy,
        ),
    ];
    for (i, (policies, principal, ip, port, allowed, reason)) in table.into_iter().enumerate() {
        let config = load(&policies.concat());
        let mut conn = ConnectionInfo::new(port);
        if let Some(p) = principal {
            conn = conn.principal(p);
        }
        if let Some(ip) = ip {
            conn = conn.source_ip(ip.parse().unwrap());
        }
        let d = config.authorize(&workload(), &conn);
        assert_eq!((d.allowed, d.reason), (allowed, reason), "row {i}: {d:?}");
    }
}

#[test]
fn audit_policies_are_reported() {
    let yaml = [
        ap(
            "watch",
            "shop",
            true,
            "AUDIT",
            "  rules:\n  - from:\n    - source: {namespaces: [web]}\n",
        ),
        ap("all", "istio-system", false, "AUDIT", "  rules:\n  - {}\n"),
    ]
    .concat();
    let config = load(&yaml);
    let d = config.authorize(&workload(), &ConnectionInfo::new(80).principal(FRONTEND));
    assert!(d.allowed);
    assert_eq!(d.audited, ["istio-system/all", "shop/watch"]);
    let d = config.authorize(&workload(), &ConnectionInfo::new(80));
    assert_eq!(d.audited, ["istio-system/all"]);
}

proptest! {
    /// Printing a duration and parsing it back gives the same value.
    #[test]
    fn duration_print_parse_round_trip(secs in 0u64..10_000_000, nanos in 0u32..1_000_000_000) {
        let d = Duration::new(std::time::Duration::new(secs, nanos));
        let text = d.to_string();
        prop_assert_eq!(text.parse::<Duration>().unwrap(), d, "{}", text);
    }

    /// Go-style compound durations add up.
    #[test]
    fn compound_durations(h in 0u64..100, m in 0u64..60, s in 0u64..60, ms in 0u64..1000) {
        let text = format!("{h}h{m}m{s}s{ms}ms");
        let want = std::time::Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
        prop_assert_eq!(text.parse::<Duration>().unwrap().get(), want);
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn duration_parse_never_panics(text in "\\PC{0,24}") {
        let _ = text.parse::<Duration>();
    }
}
