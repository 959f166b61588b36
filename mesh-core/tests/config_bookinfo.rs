//! The bookinfo-like fixture directory: every kind, as Istio's docs write
//! them, loaded together, then every lookup a sidecar makes.
#![cfg(feature = "config")]

use std::path::PathBuf;
use std::time::Duration;

use mesh_core::config::destination_rule::{SimpleLb, TlsMode};
use mesh_core::config::meshkit::Direction;
use mesh_core::config::registry::EndpointAddress;
use mesh_core::config::service_entry::Resolution;
use mesh_core::config::sidecar::{CaptureMode, Endpoint, OutboundMode};
use mesh_core::config::{
    ConnectionInfo, EffectiveConfig, LoadOptions, MtlsMode, RouteQuery, Severity, Workload,
    load_paths,
};
use mesh_core::port_name::{PortMode, PortProtocol};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/config/bookinfo")
}

fn load() -> (EffectiveConfig, Vec<mesh_core::config::Diagnostic>) {
    let loaded =
        load_paths(&[fixture()], &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    (loaded.config, loaded.warnings)
}

fn labels(pairs: &[(&str, &str)]) -> mesh_core::config::meta::Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_kind_loads_and_is_indexed() {
    let (config, warnings) = load();
    assert_eq!(config.sidecars.len(), 2);
    assert_eq!(config.service_entries.len(), 3);
    assert_eq!(config.workload_entries.len(), 3);
    assert_eq!(config.services.len(), 1);
    assert_eq!(config.virtual_services.len(), 2);
    assert_eq!(config.destination_rules.len(), 2);
    assert_eq!(config.peer_authentications.len(), 3);
    assert_eq!(config.authorization_policies.len(), 3);
    assert_eq!(config.local_rate_limits.len(), 1);
    assert_eq!(config.circuit_breakers.len(), 1);
    assert!(config.proxy.is_some());
    assert!(config.destination_rules.contains_key("bookinfo/ratings"));
    // The one warning: the UDP port of the Service is not proxied.
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let w = &warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert!(w.file.ends_with("40-service.yaml"));
    assert_eq!(w.field.as_deref(), Some("spec.ports[3].protocol"));
    assert_eq!(w.position.unwrap().line, 23);
    assert!(w.message.contains("UDP"), "{}", w.message);
}

#[test]
fn origins_name_file_and_document() {
    let (config, _) = load();
    let dr = &config.destination_rules["bookinfo/external-api"];
    assert!(dr.origin.file.ends_with("60-destination-rule.yaml"));
    assert_eq!(dr.origin.document, 2);
    let pa = &config.peer_authentications["bookinfo/reviews"];
    assert_eq!(pa.origin.document, 3);
}

#[test]
fn registry_from_service_entries_and_services() {
    let (config, _) = load();
    let ratings = config.service("ratings", "bookinfo").unwrap();
    assert_eq!(ratings.host, "ratings.bookinfo.svc.cluster.local");
    assert_eq!(
        ratings.port(9080).unwrap().mode,
        PortMode::Declared(PortProtocol::Http)
    );
    assert_eq!(
        ratings.port(6379).unwrap().mode,
        PortMode::Declared(PortProtocol::Redis)
    );
    assert_eq!(ratings.instances.len(), 2);

    let reviews = config
        .service("reviews.bookinfo.svc.cluster.local", "x")
        .unwrap();
    // The UDP port is left out; appProtocol declares gRPC on an unnamed-protocol name.
    assert_eq!(reviews.ports.len(), 3);
    assert_eq!(
        reviews.port(7070).unwrap().mode,
        PortMode::Declared(PortProtocol::Grpc)
    );
    assert_eq!(
        reviews.port(6379).unwrap().mode,
        PortMode::Declared(PortProtocol::Redis)
    );
    // Selected by labels from the WorkloadEntries.
    assert_eq!(reviews.instances.len(), 2);

    let external = config.service("api.example.com", "bookinfo").unwrap();
    assert!(external.mesh_external);
    assert_eq!(external.resolution, Resolution::Dns);
    assert_eq!(config.services_on_port(9080).count(), 3);
}

#[test]
fn clusters_with_subsets_and_port_mapping() {
    let (config, _) = load();
    let host = "ratings.bookinfo.svc.cluster.local";
    let all = config.cluster(host, 9080, None, None).unwrap();
    assert_eq!(all.endpoints.len(), 2);
    // targetPort 8080, except where the endpoint maps the port name.
    let ports: Vec<_> = all
        .endpoints
        .iter()
        .map(|e| (e.address.to_string(), e.port))
        .collect();
    assert_eq!(
        ports,
        [
            ("10.0.0.11".to_string(), 8080),
            ("10.0.0.12".to_string(), 8081)
        ]
    );
    assert_eq!(all.endpoints[1].weight, 2);
    assert_eq!(
        all.policy.load_balancer.as_ref().unwrap().simple,
        Some(SimpleLb::LeastRequest)
    );
    assert_eq!(
        all.circuit_breaker.as_ref().unwrap().consecutive_failures,
        5
    );

    let v2 = config.cluster(host, 9080, Some("v2"), None).unwrap();
    assert_eq!(v2.endpoints.len(), 1);
    assert_eq!(
        v2.endpoints[0].service_account.as_deref(),
        Some("bookinfo-ratings-v2")
    );
    assert!(config.cluster(host, 9080, Some("v3"), None).is_none());
    assert!(config.cluster(host, 1234, None, None).is_none());
    assert!(config.cluster("nope.example.com", 80, None, None).is_none());

    // A Kubernetes Service: named target ports resolve per WorkloadEntry.
    let reviews = config
        .cluster("reviews.bookinfo.svc.cluster.local", 9080, None, None)
        .unwrap();
    let ports: Vec<_> = reviews.endpoints.iter().map(|e| e.port).collect();
    assert_eq!(ports, [8080, 8080]);

    // DNS without endpoints: the host itself is the endpoint.
    let api = config.cluster("api.example.com", 443, None, None).unwrap();
    assert_eq!(
        api.endpoints[0].address,
        EndpointAddress::Dns("api.example.com".into())
    );
    assert_eq!(api.policy.tls.as_ref().unwrap().mode, TlsMode::Mutual);
}

#[test]
fn traffic_policy_merging() {
    let (config, _) = load();
    let host = "ratings.bookinfo.svc.cluster.local";
    let base = config.traffic_policy(host, None, 9080, None);
    let tcp = base.connection_pool.as_ref().unwrap().tcp.as_ref().unwrap();
    assert_eq!(tcp.max_connections, Some(100));
    assert_eq!(
        tcp.connect_timeout.unwrap().get(),
        Duration::from_millis(30)
    );
    let od = base.outlier_detection.as_ref().unwrap();
    assert_eq!(od.consecutive_5xx_errors, Some(7));
    assert_eq!(od.interval.unwrap().get(), Duration::from_secs(300));
    assert_eq!(od.max_ejection_percent.unwrap().get(), 50);
    assert_eq!(base.tls.as_ref().unwrap().mode, TlsMode::IstioMutual);
    assert_eq!(base.retry_budget.unwrap().min_retry_concurrency, Some(3));

    // Port level replaces the four fields wholesale: tls and outlier
    // detection fall back to defaults, not to the rule's.
    let redis = config.traffic_policy(host, None, 6379, None);
    let tcp = redis
        .connection_pool
        .as_ref()
        .unwrap()
        .tcp
        .as_ref()
        .unwrap();
    assert_eq!(tcp.max_connections, Some(10));
    assert_eq!(tcp.connect_timeout, None);
    assert!(redis.tls.is_none() && redis.outlier_detection.is_none());
    let hash = redis
        .load_balancer
        .as_ref()
        .unwrap()
        .consistent_hash
        .as_ref()
        .unwrap();
    assert_eq!(hash.use_source_ip, Some(true));
    assert_eq!(hash.maglev.unwrap().table_size, Some(65537));
    // The retry budget is not a port-level field: it stays.
    assert!(redis.retry_budget.is_some());

    // The subset's load balancer overrides; the rest is inherited.
    let v2 = config.traffic_policy(host, Some("v2"), 9080, None);
    let hash = v2
        .load_balancer
        .as_ref()
        .unwrap()
        .consistent_hash
        .as_ref()
        .unwrap();
    assert_eq!(hash.http_header_name.as_deref(), Some("x-user"));
    assert_eq!(hash.ring_hash.unwrap().minimum_ring_size, Some(1024));
    assert_eq!(v2.tls.as_ref().unwrap().mode, TlsMode::IstioMutual);
}

#[test]
fn tcp_and_tls_routes() {
    let (config, _) = load();
    let me = config.local_workload().unwrap();
    // reviews v2 on port 6379 matches the first route by port and labels.
    let r = config.tcp_route(&RouteQuery::new("ratings", 6379).source(&me));
    assert_eq!(r.virtual_service.as_deref(), Some("bookinfo/ratings"));
    assert_eq!(r.index, Some(0));
    assert_eq!(r.destinations.len(), 1);
    assert_eq!(r.destinations[0].subset.as_deref(), Some("v2"));
    assert_eq!(r.destinations[0].weight, 100);

    // Another source falls through to the weighted route.
    let v1 = Workload::new("bookinfo", labels(&[("app", "reviews"), ("version", "v1")]));
    let r =
        config.tcp_route(&RouteQuery::new("ratings.bookinfo.svc.cluster.local", 6379).source(&v1));
    assert_eq!(r.index, Some(1));
    let weights: Vec<_> = r
        .destinations
        .iter()
        .map(|d| (d.subset.as_deref().unwrap(), d.weight, d.port))
        .collect();
    assert_eq!(weights, [("v1", 80, 6379), ("v2", 20, 6379)]);

    // No VirtualService: the default route.
    let r = config.tcp_route(&RouteQuery::new("details", 9080).source(&me));
    assert_eq!(r.virtual_service, None);
    assert_eq!(r.destinations[0].host, "details.bookinfo.svc.cluster.local");

    let r = config.tls_route(&RouteQuery::new("api.example.com", 443).sni("api.example.com"));
    assert_eq!(r.virtual_service.as_deref(), Some("bookinfo/external-api"));
    let r = config.tls_route(&RouteQuery::new("api.example.com", 443).sni("other.example.com"));
    assert_eq!(r.virtual_service, None);
}

#[test]
fn listeners_from_sidecar_and_meshkit_limits() {
    let (config, _) = load();
    let me = config.local_workload().unwrap();
    assert_eq!(me.name.as_deref(), Some("reviews-v2"));
    assert_eq!(config.sidecar_for(&me).unwrap().name(), "reviews");
    assert_eq!(config.outbound_mode(&me), OutboundMode::RegistryOnly);
    let listeners = config.listeners(&me);
    assert_eq!(listeners.len(), 4, "{listeners:#?}");

    let http = &listeners[0];
    assert_eq!(
        (http.direction, http.port),
        (Direction::Inbound, Some(9080))
    );
    assert_eq!(http.mode, PortMode::Declared(PortProtocol::Http));
    assert_eq!(http.capture, CaptureMode::None);
    assert_eq!(
        http.default_endpoint,
        Some(Endpoint::Socket("127.0.0.1:8080".parse().unwrap()))
    );
    assert_eq!(http.max_connections, Some(1024));
    assert_eq!(
        http.detection_timeout.unwrap().get(),
        Duration::from_secs(5)
    );
    assert_eq!(http.rate_limit.unwrap().max_tokens, 100);

    let redis = &listeners[1];
    assert_eq!(redis.mode, PortMode::Declared(PortProtocol::Redis));
    assert_eq!(redis.max_connections, Some(128));
    assert_eq!(redis.buffer_bytes_per_connection, Some(65536));
    assert_eq!(
        redis.detection_timeout.unwrap().get(),
        Duration::from_millis(100)
    );
    assert!(redis.rate_limit.is_none());

    let out = &listeners[2];
    assert_eq!((out.direction, out.port), (Direction::Outbound, Some(9081)));
    assert_eq!(out.mode, PortMode::Declared(PortProtocol::Tcp));
    assert_eq!(out.bind.as_ref().unwrap().to_string(), "127.0.0.1");
    assert!(out.hosts[0].covers("bookinfo", "bookinfo", "ratings.bookinfo.svc.cluster.local"));
    assert!(!out.hosts[0].covers("bookinfo", "other", "ratings.bookinfo.svc.cluster.local"));

    let catch_all = &listeners[3];
    assert_eq!(catch_all.port, None);
    assert_eq!(catch_all.hosts.len(), 2);

    // A workload the reviews Sidecar does not select gets the root default,
    // and inbound listeners from the Services that select it (none here).
    let other = Workload::new("bookinfo", labels(&[("app", "details")]));
    assert_eq!(
        config.sidecar_for(&other).unwrap().namespace(),
        "istio-system"
    );
    assert_eq!(config.outbound_mode(&other), OutboundMode::AllowAny);
    let listeners = config.listeners(&other);
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].direction, Direction::Outbound);

    // Without ingress entries, the Service that selects the workload decides.
    let mut v1 = Workload::new("bookinfo", labels(&[("app", "reviews"), ("version", "v1")]));
    v1.labels.insert("app".into(), "reviews".into());
    let sidecarless = mesh_core::config::load_str(
        "svc.yaml",
        &std::fs::read_to_string(fixture().join("40-service.yaml")).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    let listeners = sidecarless.config.listeners(&v1);
    let inbound: Vec<_> = listeners
        .iter()
        .filter(|l| l.direction == Direction::Inbound)
        .map(|l| (l.port.unwrap(), l.mode))
        .collect();
    assert_eq!(
        inbound,
        [
            (8080, PortMode::Declared(PortProtocol::Http)),
            (6380, PortMode::Declared(PortProtocol::Redis)),
            (7070, PortMode::Declared(PortProtocol::Grpc)),
        ]
    );
}

#[test]
fn peer_authentication_of_the_fixture() {
    let (config, _) = load();
    let me = config.local_workload().unwrap();
    let d = config.mtls_mode(&me, 8080);
    assert_eq!(
        (d.mode, d.policy.as_deref(), d.port_level),
        (MtlsMode::Strict, Some("bookinfo/reviews"), false)
    );
    let d = config.mtls_mode(&me, 6380);
    assert_eq!((d.mode, d.port_level), (MtlsMode::Disable, true));
    let details = Workload::new("bookinfo", labels(&[("app", "details")]));
    assert_eq!(config.mtls_mode(&details, 8080).mode, MtlsMode::Permissive);
    let elsewhere = Workload::new("shop", labels(&[]));
    let d = config.mtls_mode(&elsewhere, 8080);
    assert_eq!(
        (d.mode, d.policy.as_deref()),
        (MtlsMode::Strict, Some("istio-system/default"))
    );
}

#[test]
fn authorization_of_the_fixture() {
    let (config, _) = load();
    let me = config.local_workload().unwrap();
    let productpage = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage";
    // The 8080 rule also names a method: at the connection level an ALLOW
    // rule with HTTP-only fields never matches.
    let d = config.authorize(&me, &ConnectionInfo::new(8080).principal(productpage));
    assert!(!d.allowed, "{d:?}");
    let d = config.authorize(&me, &ConnectionInfo::new(6380).principal(productpage));
    assert!(d.allowed);
    assert_eq!(d.policy.as_deref(), Some("bookinfo/reviews-viewer"));
    assert_eq!(d.audited, ["bookinfo/audit-reviews"]);
    let monitoring = "cluster.local/ns/monitoring/sa/prometheus";
    assert!(
        config
            .authorize(&me, &ConnectionInfo::new(15090).principal(monitoring))
            .allowed
    );
    assert!(
        !config
            .authorize(&me, &ConnectionInfo::new(15091).principal(monitoring))
            .allowed
    );
    let untrusted = "cluster.local/ns/untrusted/sa/bookinfo-productpage";
    assert!(
        !config
            .authorize(&me, &ConnectionInfo::new(6380).principal(untrusted))
            .allowed
    );
    // Plaintext: no principal, no namespace.
    assert!(!config.authorize(&me, &ConnectionInfo::new(6380)).allowed);
}

#[test]
fn workloads_by_service_account() {
    let (config, _) = load();
    let w = config
        .workload_for_principal("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-details")
        .unwrap();
    assert_eq!(w.name.as_deref(), Some("details"));
    assert_eq!(w.labels["version"], "v1");
    let w = config
        .workload_by_service_account("bookinfo", "bookinfo-ratings-v2")
        .unwrap();
    assert_eq!(w.labels["version"], "v2");
    let w = config
        .workload_by_service_account("bookinfo", "bookinfo-reviews")
        .unwrap();
    assert_eq!(
        w.name.as_deref(),
        Some("reviews-v2"),
        "the local identity comes first"
    );
    assert!(
        config
            .workload_by_service_account("bookinfo", "nobody")
            .is_none()
    );
    assert!(config.workload_for_principal("not-a-spiffe-id").is_none());
}

#[test]
fn config_dump_redacts_secrets() {
    let (config, _) = load();
    let json = config.to_json();
    let text = serde_json::to_string(&json).unwrap();
    assert!(
        !text.contains("client-key.pem"),
        "a DestinationRule private key path leaked"
    );
    assert!(
        !text.contains("/etc/mesh/certs/key.pem"),
        "the sidecar's key path leaked"
    );
    assert!(text.contains("[redacted]"));
    assert!(text.contains("/etc/mesh/certs/cert-chain.pem"));
    let dr = &json["destinationRules"]["bookinfo/ratings"];
    assert_eq!(
        dr["spec"]["trafficPolicy"]["connectionPool"]["tcp"]["connectTimeout"],
        "30ms"
    );
    assert_eq!(
        dr["spec"]["trafficPolicy"]["outlierDetection"]["interval"],
        "5m"
    );
    assert_eq!(dr["origin"]["document"], 1);
    // Nulls and empty lists are pruned.
    assert!(dr["spec"].get("exportTo").is_none());
    assert!(json["registry"]["ratings.bookinfo.svc.cluster.local"]["ports"][0]["mode"] == "http");
    assert_eq!(json["localWorkload"]["name"], "reviews-v2");
    assert_eq!(json["listeners"][0]["port"], 9080);
    assert_eq!(json["listeners"][0]["defaultEndpoint"], "127.0.0.1:8080");
    assert_eq!(json["listeners"][1]["detectionTimeout"], "100ms");
}
