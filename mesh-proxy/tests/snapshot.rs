//! Listener planning from the configuration: explicit ports, the capture
//! ports, limits, and configurations the data path refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::sync::Arc;
use std::time::Duration;

use mesh_core::config::{LoadOptions, load_str};
use mesh_proxy::snapshot::{ListenerRole, Snapshot};
use mesh_proxy::upstream::{ClusterEnv, Connectors};
use mesh_proxy::{ProxyError, StaticResolver};

fn env() -> ClusterEnv {
    ClusterEnv {
        connectors: Connectors {
            tcp: Arc::new(mesh_core::TcpConnector::default()),
            mtls: None,
        },
        resolver: Arc::new(StaticResolver::new()),
        dns_refresh: Duration::from_secs(5),
        connect_attempts: 1,
        trust_domain: "cluster.local".into(),
    }
}

fn build(yaml: &str) -> Result<Snapshot, ProxyError> {
    let config = load_str("t.yaml", yaml, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    Snapshot::build(config, 1, &env(), None)
}

const PROXY: &str = "apiVersion: meshkit.dev/v1alpha1\nkind: SidecarProxy\nmetadata: {name: p, namespace: ns}\nspec:\n  identity: {serviceAccount: p, labels: {app: p}}\n  listeners: {maxConnections: 10, bufferBytesPerConnection: 8192, detectionTimeout: 250ms}\n  mesh: {proxyListenPort: 16001, proxyInboundListenPort: 16006}\n";

#[tokio::test]
async fn without_a_sidecar_resource_traffic_is_captured() {
    let yaml = format!(
        "{PROXY}---\napiVersion: v1\nkind: Service\nmetadata: {{name: p, namespace: ns}}\nspec:\n  selector: {{app: p}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n"
    );
    let snap = build(&yaml).unwrap();
    let roles: Vec<_> = snap
        .listeners
        .values()
        .map(|p| (p.key.role, p.key.addr.to_string()))
        .collect();
    assert_eq!(
        roles,
        [
            (ListenerRole::OutboundCapture, "0.0.0.0:16001".to_string()),
            (ListenerRole::InboundCapture, "0.0.0.0:16006".to_string()),
        ]
    );
    assert!(snap.captured_inbound.contains_key(&8080));
    assert!(snap.catch_all.is_some());
    let limits = snap.listeners.values().next().unwrap().limits;
    assert_eq!(limits.max_connections, 10);
    assert_eq!(
        limits.copy_config().buffer_size,
        4096,
        "half the budget each way"
    );
    assert_eq!(
        limits.detect_config().max_bytes,
        8192,
        "detection stays within the budget"
    );
    assert_eq!(limits.detection_timeout, Duration::from_millis(250));
}

#[tokio::test]
async fn explicit_ports_bind_where_the_sidecar_says() {
    let yaml = format!(
        "{PROXY}---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: p, namespace: ns}}\nspec:\n  ingress:\n  - {{port: {{number: 9080, name: http}}, captureMode: NONE, defaultEndpoint: 127.0.0.1:8080}}\n  egress:\n  - {{port: {{number: 9000}}, captureMode: NONE, hosts: [\"./*\"]}}\n"
    );
    let snap = build(&yaml).unwrap();
    let keys: Vec<_> = snap
        .listeners
        .keys()
        .map(|k| (k.role, k.addr.to_string(), k.to_string()))
        .collect();
    assert_eq!(
        keys,
        [
            (
                ListenerRole::Inbound(9080),
                "0.0.0.0:9080".into(),
                "inbound|9080".into()
            ),
            (
                ListenerRole::Outbound(9000),
                "127.0.0.1:9000".into(),
                "outbound|9000".into()
            ),
        ]
    );
}

#[tokio::test]
async fn refused_configurations_say_why() {
    // Two listeners on one port.
    let yaml = format!(
        "{PROXY}---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: p, namespace: ns}}\nspec:\n  ingress:\n  - {{port: {{number: 9080, name: http}}, captureMode: NONE}}\n  egress:\n  - {{port: {{number: 9080}}, bind: 127.0.0.1, captureMode: NONE, hosts: [\"./*\"]}}\n"
    );
    let err = build(&yaml).unwrap_err();
    assert!(err.to_string().contains("both want port 9080"), "{err}");
    // No identity.
    let err = build("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: p, namespace: ns}\nspec: {}\n").unwrap_err();
    assert!(matches!(err, ProxyError::NoIdentity), "{err}");
    // A Unix socket bind.
    let yaml = format!(
        "{PROXY}---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: p, namespace: ns}}\nspec:\n  ingress:\n  - {{port: {{number: 9080, name: http}}, bind: unix:///tmp/x.sock, captureMode: NONE}}\n  egress:\n  - {{port: {{number: 9000}}, captureMode: NONE, hosts: [\"./*\"]}}\n"
    );
    let err = build(&yaml).unwrap_err();
    assert!(err.to_string().contains("Unix socket"), "{err}");
}
