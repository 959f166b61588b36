//! Upstream clusters with injected connectors and resolvers, on paused
//! time: pool limits, connect timeout, outlier ejection on connect
//! failures, load balancing, DNS re-resolution, mTLS targets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_core::config::{EffectiveConfig, LoadOptions, load_str};
use mesh_core::telemetry::ResponseFlags;
use mesh_core::{Connect, ConnectError, ConnectErrorKind, Protocol, Target};
use mesh_proxy::StaticResolver;
use mesh_proxy::io::SharedConnector;
use mesh_proxy::upstream::{ClusterEnv, ConnectContext, Connectors, UpstreamCluster};

/// Answers per address: connect, refuse, or hang; records every target.
#[derive(Default)]
struct FakeConnector {
    refuse: Mutex<Vec<SocketAddr>>,
    hang: Mutex<Vec<SocketAddr>>,
    seen: Mutex<Vec<Target>>,
}

impl FakeConnector {
    fn seen_addrs(&self) -> Vec<SocketAddr> {
        self.seen.lock().unwrap().iter().map(|t| t.addr).collect()
    }
}

impl Connect for FakeConnector {
    type Io = tokio::io::DuplexStream;

    async fn connect(&self, target: &Target) -> Result<Self::Io, ConnectError> {
        self.seen.lock().unwrap().push(target.clone());
        if self.hang.lock().unwrap().contains(&target.addr) {
            std::future::pending::<()>().await;
        }
        if self.refuse.lock().unwrap().contains(&target.addr) {
            return Err(ConnectError::new(
                target.addr,
                ConnectErrorKind::Refused,
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            ));
        }
        let (a, _b) = tokio::io::duplex(64);
        Ok(a)
    }
}

fn config(extra: &str) -> EffectiveConfig {
    config_with(
        "  - {address: 10.0.0.1, serviceAccount: db, labels: {version: v1}}\n  - {address: 10.0.0.2, serviceAccount: db, labels: {version: v2}}\n",
        extra,
    )
}

fn config_with(endpoints: &str, extra: &str) -> EffectiveConfig {
    let yaml = format!(
        r#"
apiVersion: meshkit.dev/v1alpha1
kind: SidecarProxy
metadata: {{name: me, namespace: shop}}
spec: {{identity: {{serviceAccount: me}}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: db, namespace: shop}}
spec:
  hosts: [db.shop.svc.cluster.local]
  ports: [{{number: 5000, name: tcp-db}}]
  resolution: STATIC
  endpoints:
{endpoints}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: ext, namespace: shop}}
spec:
  hosts: [ext.example.com]
  ports: [{{number: 443, name: tcp-ext}}]
  resolution: DNS
  location: MESH_EXTERNAL
{extra}"#
    );
    load_str("test.yaml", &yaml, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

fn env(fake: &Arc<FakeConnector>, resolver: &Arc<StaticResolver>) -> ClusterEnv {
    let c: SharedConnector = fake.clone();
    ClusterEnv {
        connectors: Connectors {
            tcp: c.clone(),
            mtls: Some(c),
        },
        resolver: resolver.clone(),
        dns_refresh: Duration::from_secs(5),
        connect_attempts: 1,
        trust_domain: "cluster.local".into(),
    }
}

fn cluster(
    config: &EffectiveConfig,
    host: &str,
    port: u16,
    subset: Option<&str>,
    env: &ClusterEnv,
) -> Arc<UpstreamCluster> {
    let me = config.local_workload().unwrap();
    let spec = config.cluster(host, port, subset, Some(&me)).unwrap();
    UpstreamCluster::build(spec, env).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const DR: &str = r#"---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: shop}
spec:
  host: db.shop.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 2, connectTimeout: 2s}}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  subsets:
  - {name: v2, labels: {version: v2}}
"#;

#[tokio::test(start_paused = true)]
async fn pool_limit_connect_timeout_and_mtls_targets() {
    let config = config(DR);
    let fake = Arc::new(FakeConnector::default());
    let resolver = Arc::new(StaticResolver::new());
    let env = env(&fake, &resolver);
    let db = cluster(&config, "db.shop.svc.cluster.local", 5000, None, &env);
    assert_eq!(db.name(), "outbound|5000||db.shop.svc.cluster.local");
    let ctx = ConnectContext {
        protocol: Some(Protocol::Redis),
        ..ConnectContext::default()
    };
    let a = db.connect(&ctx).await.unwrap();
    let b = db.connect(&ctx).await.unwrap();
    // maxConnections: 2 — the third is refused with UO while both live.
    let err = db.connect(&ctx).await.unwrap_err();
    assert_eq!(err.flags, ResponseFlags::UPSTREAM_OVERFLOW, "{err}");
    assert_ne!(a.endpoint, b.endpoint, "round robin alternates");
    drop(a);
    let c = db.connect(&ctx).await.unwrap();
    assert!(c.meta.mtls);
    assert_eq!(
        &*c.meta.peer.principal,
        "spiffe://cluster.local/ns/shop/sa/db"
    );
    let mut versions = [&*b.meta.peer.version, &*c.meta.peer.version];
    versions.sort();
    assert_eq!(versions, ["v1", "v2"]);
    // The mTLS target carries Istio's SNI, the endpoint's identity and the protocol.
    let seen = fake.seen.lock().unwrap().clone();
    let t = &seen[0];
    assert_eq!(
        t.server_name.as_deref(),
        Some("outbound_.5000_._.db.shop.svc.cluster.local")
    );
    assert_eq!(
        t.peer_identities.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["spiffe://cluster.local/ns/shop/sa/db"]
    );
    assert_eq!(t.protocol, Some(Protocol::Redis));
    drop((b, c));

    // A subset cluster sends the subset in the SNI and only picks its endpoints.
    let v2 = cluster(&config, "db.shop.svc.cluster.local", 5000, Some("v2"), &env);
    let picked = v2.connect(&ctx).await.unwrap();
    assert_eq!(picked.endpoint, addr("10.0.0.2:5000"));
    let last = fake.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.server_name.as_deref(),
        Some("outbound_.5000_.v2_.db.shop.svc.cluster.local")
    );
    drop(picked);

    // connectTimeout: 2s bounds a connect that never completes.
    fake.hang.lock().unwrap().push(addr("10.0.0.2:5000"));
    let start = tokio::time::Instant::now();
    let err = v2.connect(&ctx).await.unwrap_err();
    assert_eq!(err.flags, ResponseFlags::UPSTREAM_CONNECTION_FAILURE);
    assert!(err.reason.contains("timeout"), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn connect_failures_eject_the_endpoint_until_it_returns() {
    let config = config(DR);
    let fake = Arc::new(FakeConnector::default());
    let resolver = Arc::new(StaticResolver::new());
    let env = env(&fake, &resolver);
    let db = cluster(&config, "db.shop.svc.cluster.local", 5000, None, &env);
    let bad = addr("10.0.0.1:5000");
    fake.refuse.lock().unwrap().push(bad);
    let ctx = ConnectContext::default();
    let mut failures = 0;
    for _ in 0..8 {
        match db.connect(&ctx).await {
            Ok(c) => assert_eq!(c.endpoint, addr("10.0.0.2:5000")),
            Err(e) => {
                assert_eq!(e.upstream, Some(bad));
                assert_eq!(e.flags, ResponseFlags::UPSTREAM_CONNECTION_FAILURE);
                failures += 1;
            }
        }
    }
    // consecutive5xxErrors: 2 — two refused connects, then no more picks.
    assert_eq!(failures, 2);
    let ejected = db.inner().endpoint(bad).unwrap();
    assert!(ejected.is_ejected());
    // The endpoint recovers; after the base ejection time the interval
    // tick brings it back.
    fake.refuse.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert!(!ejected.is_ejected());
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4 {
        seen.insert(db.connect(&ctx).await.unwrap().endpoint);
    }
    assert!(seen.contains(&bad));
}

#[tokio::test(start_paused = true)]
async fn connect_attempts_move_on_to_another_endpoint() {
    let config = config(DR);
    let fake = Arc::new(FakeConnector::default());
    let resolver = Arc::new(StaticResolver::new());
    let mut env = env(&fake, &resolver);
    env.connect_attempts = 2;
    let db = cluster(&config, "db.shop.svc.cluster.local", 5000, None, &env);
    fake.refuse.lock().unwrap().push(addr("10.0.0.1:5000"));
    for _ in 0..4 {
        let c = db.connect(&ConnectContext::default()).await.unwrap();
        assert_eq!(c.endpoint, addr("10.0.0.2:5000"));
    }
}

#[tokio::test(start_paused = true)]
async fn dns_endpoints_are_resolved_then_refreshed() {
    let config = config("");
    let fake = Arc::new(FakeConnector::default());
    let resolver = Arc::new(StaticResolver::new());
    let env = env(&fake, &resolver);
    let ext = cluster(&config, "ext.example.com", 443, None, &env);
    let ctx = ConnectContext::default();
    // No answer yet: DF, and no retry storm within the refresh interval.
    let err = ext.connect(&ctx).await.unwrap_err();
    assert_eq!(err.flags, ResponseFlags::DNS_RESOLUTION_FAILURE, "{err}");
    assert_eq!(
        ext.connect(&ctx).await.unwrap_err().flags,
        ResponseFlags::DNS_RESOLUTION_FAILURE
    );
    assert_eq!(resolver.lookups(), 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let one: IpAddr = "192.0.2.1".parse().unwrap();
    let two: IpAddr = "192.0.2.2".parse().unwrap();
    resolver.set("ext.example.com", [one]);
    let c = ext.connect(&ctx).await.unwrap();
    assert_eq!(c.endpoint, SocketAddr::new(one, 443));
    assert!(!c.meta.mtls, "MESH_EXTERNAL: no mesh mTLS");
    // The name moves; the old answer is served until it is stale, then a
    // background refresh installs the new one.
    resolver.set("ext.example.com", [two]);
    assert_eq!(ext.connect(&ctx).await.unwrap().endpoint.ip(), one);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(ext.connect(&ctx).await.unwrap().endpoint.ip(), one);
    // Let the background refresh run.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(ext.connect(&ctx).await.unwrap().endpoint.ip(), two);
    assert_eq!(resolver.lookups(), 3);
    // A failed refresh keeps the last answer.
    resolver.set("ext.example.com", []);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let _ = ext.connect(&ctx).await.unwrap();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(ext.connect(&ctx).await.unwrap().endpoint.ip(), two);
}

#[tokio::test(start_paused = true)]
async fn auto_mtls_follows_the_tls_mode_label_and_breaker_opens() {
    let extra = r#"---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mixed, namespace: shop}
spec:
  hosts: [mixed.shop.svc.cluster.local]
  ports: [{number: 7000, name: tcp}]
  resolution: STATIC
  endpoints:
  - {address: 10.0.1.1, serviceAccount: m, labels: {security.istio.io/tlsMode: istio}}
  - {address: 10.0.1.2}
---
apiVersion: meshkit.dev/v1alpha1
kind: CircuitBreaker
metadata: {name: mixed, namespace: shop}
spec: {host: mixed, consecutiveFailures: 2, openDuration: 10s}
"#;
    let config = config(extra);
    let fake = Arc::new(FakeConnector::default());
    let resolver = Arc::new(StaticResolver::new());
    let env = env(&fake, &resolver);
    let mixed = cluster(&config, "mixed.shop.svc.cluster.local", 7000, None, &env);
    // The default balancer picks at random between idle endpoints: connect
    // until both were picked (each attempt misses one with odds 1/2, so 64
    // attempts all miss it with odds 2^-63).
    let mut by_addr: HashMap<SocketAddr, bool> = HashMap::new();
    for _ in 0..64 {
        let c = mixed.connect(&ConnectContext::default()).await.unwrap();
        by_addr.insert(c.endpoint, c.meta.mtls);
        if by_addr.len() == 2 {
            break;
        }
    }
    assert_eq!(by_addr.get(&addr("10.0.1.1:7000")), Some(&true));
    assert_eq!(by_addr.get(&addr("10.0.1.2:7000")), Some(&false));
    // Two failures in a row open the breaker: UO without dialling.
    fake.refuse
        .lock()
        .unwrap()
        .extend([addr("10.0.1.1:7000"), addr("10.0.1.2:7000")]);
    for _ in 0..2 {
        let e = mixed.connect(&ConnectContext::default()).await.unwrap_err();
        assert_eq!(e.flags, ResponseFlags::UPSTREAM_CONNECTION_FAILURE);
    }
    let dialled = fake.seen_addrs().len();
    let e = mixed.connect(&ConnectContext::default()).await.unwrap_err();
    assert_eq!(e.flags, ResponseFlags::UPSTREAM_OVERFLOW, "{e}");
    assert_eq!(fake.seen_addrs().len(), dialled);
}

#[tokio::test(start_paused = true)]
async fn reload_keeps_an_unchanged_cluster_and_its_state() {
    let config1 = config(DR);
    let fake = Arc::new(FakeConnector::default());
    let resolver = Arc::new(StaticResolver::new());
    let env = env(&fake, &resolver);
    let me = config1.local_workload().unwrap();
    let db = cluster(&config1, "db.shop.svc.cluster.local", 5000, None, &env);
    // The same configuration: the same cluster.
    let spec = config1
        .cluster("db.shop.svc.cluster.local", 5000, None, Some(&me))
        .unwrap();
    assert!(Arc::ptr_eq(&db, &db.refreshed(spec, &env).unwrap()));
    // Same policy, one endpoint more: updated in place, state kept.
    let bad = addr("10.0.0.1:5000");
    fake.refuse.lock().unwrap().push(bad);
    for _ in 0..4 {
        let _ = db.connect(&ConnectContext::default()).await;
    }
    assert!(db.inner().endpoint(bad).unwrap().is_ejected());
    let config2 = config_with(
        "  - {address: 10.0.0.1, serviceAccount: db}\n  - {address: 10.0.0.2, serviceAccount: db}\n  - {address: 10.0.0.3, serviceAccount: db}\n",
        DR,
    );
    let spec = config2
        .cluster("db.shop.svc.cluster.local", 5000, None, Some(&me))
        .unwrap();
    let same = db.refreshed(spec, &env).unwrap();
    assert!(Arc::ptr_eq(&db, &same));
    assert_eq!(same.inner().endpoints().len(), 3);
    assert!(
        same.inner().endpoint(bad).unwrap().is_ejected(),
        "state survives"
    );
    // A policy change builds a new cluster.
    let changed = config(&DR.replace("maxConnections: 2", "maxConnections: 3"));
    let spec = changed
        .cluster("db.shop.svc.cluster.local", 5000, None, Some(&me))
        .unwrap();
    let new = db.refreshed(spec, &env).unwrap();
    assert!(!Arc::ptr_eq(&db, &new));
    assert_eq!(
        new.inner()
            .limits()
            .limit(mesh_resilience::limits::Resource::Connections),
        3
    );
}
