//! `SidecarProxy.spec.mesh`: the capture ports and the access log, named as
//! in Istio's mesh config.
#![cfg(feature = "config")]

use mesh_core::config::meshkit::AccessLogEncoding;
use mesh_core::config::{LoadOptions, load_str};

fn proxy(mesh: &str) -> String {
    format!(
        "apiVersion: meshkit.dev/v1alpha1\nkind: SidecarProxy\nmetadata: {{name: p, namespace: ns}}\nspec:\n  identity: {{serviceAccount: sa}}\n{mesh}"
    )
}

#[test]
fn defaults_are_istios() {
    let loaded = load_str("a.yaml", &proxy(""), &LoadOptions::default()).unwrap();
    assert_eq!(loaded.config.capture_ports(), (15001, 15006));
    assert!(loaded.config.mesh_settings().is_none());
}

#[test]
fn configured_values() {
    let yaml = proxy(
        "  mesh:\n    proxyListenPort: 16001\n    proxyInboundListenPort: 16006\n    accessLogFile: /dev/stdout\n    accessLogEncoding: JSON\n",
    );
    let loaded = load_str("a.yaml", &yaml, &LoadOptions::default()).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = &loaded.config;
    assert_eq!(config.capture_ports(), (16001, 16006));
    let mesh = config.mesh_settings().unwrap();
    assert_eq!(mesh.access_log_file.as_deref(), Some("/dev/stdout"));
    assert_eq!(mesh.access_log_encoding, Some(AccessLogEncoding::Json));
}

#[test]
fn bad_values_name_the_field() {
    for (mesh, field) in [
        ("    proxyListenPort: 0\n", "spec.mesh.proxyListenPort"),
        (
            "    accessLogEncoding: XML\n",
            "spec.mesh.accessLogEncoding",
        ),
    ] {
        let yaml = proxy(&format!("  mesh:\n{mesh}"));
        let err = load_str("a.yaml", &yaml, &LoadOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(field), "{text}");
    }
}

#[test]
fn a_proxy_made_cluster_passes_through() {
    use mesh_core::config::Cluster;
    use mesh_core::config::service_entry::Resolution;
    let c = Cluster::new("PassthroughCluster", 0);
    assert_eq!(c.resolution, Resolution::None);
    assert!(c.endpoints.is_empty());
    assert!(c.mesh_external);
    assert_eq!(c.policy, Default::default());
}
