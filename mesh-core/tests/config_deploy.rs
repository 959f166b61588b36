//! `deploy/kubernetes` is accepted as a whole, and the Istio YAML inside its
//! ConfigMap loads and means what the README says.
#![cfg(feature = "config")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use mesh_core::config::meshkit::Direction;
use mesh_core::config::{ConnectionInfo, LoadOptions, MtlsMode, Severity, load_paths, load_str};
use mesh_core::port_name::{PortMode, PortProtocol};

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

#[test]
fn manifests_are_accepted_with_the_config_map_expanded() {
    let mut options = LoadOptions::default();
    options.expand_config_maps = true;
    let loaded = load_paths(&[deploy_dir()], &options).unwrap_or_else(|e| panic!("{e}"));
    // Deployment, Secret and ServiceAccount are not meshkit's kinds: noted, skipped.
    let notes: Vec<_> = loaded
        .warnings
        .iter()
        .map(|d| (d.severity, d.resource.clone().unwrap()))
        .collect();
    assert_eq!(
        notes,
        [
            (Severity::Note, "Deployment demo/reviews-v1".to_string()),
            (Severity::Note, "Secret demo/reviews-mesh-certs".to_string()),
            (Severity::Note, "ServiceAccount demo/reviews".to_string()),
        ]
    );
    let config = &loaded.config;
    assert_eq!(config.services.len(), 1);
    assert!(config.proxy.is_some());
    assert_eq!(config.sidecars.len(), 1);
    assert_eq!(config.destination_rules.len(), 1);
    assert_eq!(config.peer_authentications.len(), 1);
    assert_eq!(config.authorization_policies.len(), 1);
    let origin = &config.sidecars["demo/reviews"].origin;
    assert!(
        origin
            .file
            .contains("configmap.yaml[ConfigMap demo/reviews-mesh-config data.mesh.yaml]"),
        "{}",
        origin.file
    );
    assert_eq!(origin.document, 2);
    // The Secret's values never reach the dump.
    let dump = serde_json::to_string(&config.to_json()).unwrap();
    assert!(!dump.contains("REPLACE"));
    assert!(!dump.contains("key.pem"));
}

#[test]
fn manifests_without_expansion() {
    let loaded = load_paths(&[deploy_dir()], &LoadOptions::default()).unwrap();
    assert_eq!(loaded.config.services.len(), 1);
    assert!(loaded.config.proxy.is_none());
    assert!(
        loaded
            .warnings
            .iter()
            .any(|d| d.resource.as_deref() == Some("ConfigMap demo/reviews-mesh-config")),
        "{:#?}",
        loaded.warnings
    );
}

#[test]
fn config_map_yaml_extracted_and_loaded() {
    #[derive(serde::Deserialize)]
    struct ConfigMap {
        data: BTreeMap<String, String>,
    }
    let text = std::fs::read_to_string(deploy_dir().join("configmap.yaml")).unwrap();
    let cm: ConfigMap = serde_saphyr::from_str(&text).unwrap();
    let mesh = &cm.data["mesh.yaml"];
    let loaded =
        load_str("mesh.yaml", mesh, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let config = &loaded.config;
    let me = config.local_workload().unwrap();
    assert_eq!(
        me.principal().as_deref(),
        Some("cluster.local/ns/demo/sa/reviews")
    );
    assert_eq!(config.admin_address().to_string(), "127.0.0.1:15000");

    let listeners = config.listeners(&me);
    let summary: Vec<_> = listeners
        .iter()
        .map(|l| (l.direction, l.port, l.mode))
        .collect();
    assert_eq!(
        summary,
        [
            (
                Direction::Inbound,
                Some(15080),
                PortMode::Declared(PortProtocol::Http)
            ),
            (
                Direction::Outbound,
                Some(15001),
                PortMode::Declared(PortProtocol::Http)
            ),
        ]
    );
    assert_eq!(listeners[0].max_connections, Some(4096));

    assert_eq!(config.mtls_mode(&me, 15080).mode, MtlsMode::Strict);
    let productpage =
        ConnectionInfo::new(15080).principal("spiffe://cluster.local/ns/demo/sa/productpage");
    assert!(config.authorize(&me, &productpage).allowed);
    let other = ConnectionInfo::new(15080).principal("spiffe://cluster.local/ns/demo/sa/details");
    assert!(!config.authorize(&me, &other).allowed);

    let cluster = config
        .cluster("ratings.demo.svc.cluster.local", 9080, None, Some(&me))
        .unwrap();
    assert_eq!(
        cluster.endpoints.len(),
        1,
        "DNS resolution: the host itself"
    );
    assert_eq!(
        cluster.policy.tls.unwrap().mode,
        mesh_core::config::destination_rule::TlsMode::IstioMutual
    );
}
