//! What the loader says about bad input: every error names the file, the
//! document, the line and the field; unknown kinds are skipped, unknown
//! fields warned, duplicate keys and oversized input refused.
#![cfg(feature = "config")]

use mesh_core::config::{
    ConfigError, Diagnostic, LoadLimits, LoadOptions, Loader, Severity, load_str,
};
use mesh_core::{ErrorClass, Side};

fn errors(yaml: &str) -> ConfigError {
    match load_str("bad.yaml", yaml, &LoadOptions::default()) {
        Ok(loaded) => panic!("accepted:\n{yaml}\nwarnings: {:#?}", loaded.warnings),
        Err(e) => e,
    }
}

/// A valid document placed first, so every bad one is document 2.
const PREFIX: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: ok, namespace: ns}\nspec:\n  ports: [{name: http, port: 80}]\n---\n";
const PREFIX_LINES: u64 = 6;

struct Case {
    yaml: &'static str,
    /// Line within `yaml` (1-based), field path, and a fragment of the message.
    line: u64,
    field: &'static str,
    message: &'static str,
}

const BAD_VALUES: &[Case] = &[
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: -1\n",
        line: 9,
        field: "spec.trafficPolicy.connectionPool.tcp.maxConnections",
        message: "-1",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        connectTimeout: 10\n",
        line: 9,
        field: "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        message: "a unit is missing",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    outlierDetection:\n      interval: 5 minutes\n",
        line: 8,
        field: "spec.trafficPolicy.outlierDetection.interval",
        message: "invalid duration",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    outlierDetection:\n      maxEjectionPercent: 101\n",
        line: 8,
        field: "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
        message: "out of range 0-100",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    tls:\n      mode: SOMETIMES\n",
        line: 8,
        field: "spec.trafficPolicy.tls.mode",
        message: "unknown variant `SOMETIMES`",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n      consistentHash: {useSourceIp: true}\n",
        line: 7,
        field: "spec.trafficPolicy.loadBalancer",
        message: "cannot both be set",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 0s}\n",
        line: 8,
        field: "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        message: "at least 1ms",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: ok\n  subsets:\n  - name: v1\n  - name: v1\n",
        line: 8,
        field: "spec.subsets[1].name",
        message: "defined twice",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec:\n  host: \"a*.example.com\"\n",
        line: 5,
        field: "spec.host",
        message: "wildcard",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: ns}\nspec:\n  hosts: [db.example.com]\n  ports:\n  - number: 70000\n    name: tcp\n",
        line: 7,
        field: "spec.ports[0].number",
        message: "out of range 1-65535",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: ns}\nspec:\n  hosts: [db.example.com]\n  ports:\n  - {number: 53, name: dns, protocol: UDP}\n",
        line: 7,
        field: "spec.ports[0].protocol",
        message: "UDP",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: ns}\nspec:\n  hosts: [db.example.com]\n  resolution: STATIC\n  ports: [{number: 5432, name: tcp}]\n  endpoints:\n  - address: db.internal\n",
        line: 9,
        field: "spec.endpoints[0].address",
        message: "STATIC needs IP addresses",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec:\n  egress:\n  - hosts: [\"reviews\"]\n",
        line: 6,
        field: "spec.egress[0].hosts[0]",
        message: "namespace/host",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec:\n  ingress:\n  - port: {number: 80, name: http}\n    defaultEndpoint: localhost\n",
        line: 7,
        field: "spec.ingress[0].defaultEndpoint",
        message: "neither IP:PORT nor unix://PATH",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec:\n  egress:\n  - hosts: [\"*/*\"]\n  - port: {number: 80}\n    hosts: [\"./*\"]\n",
        line: 6,
        field: "spec.egress[0]",
        message: "must be the last",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [ok]\n  tcp:\n  - route:\n    - destination: {host: ok}\n      weight: 60\n    - destination: {host: ok}\n      weight: 30\n",
        line: 7,
        field: "spec.tcp[0].route",
        message: "sum to 90, not 100",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [ok]\n  tcp:\n  - route:\n    - destination: {host: ok, subset: v9}\n",
        line: 8,
        field: "spec.tcp[0].route[0].destination.subset",
        message: "subset \"v9\" of ok.ns.svc.cluster.local is not defined",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [ok]\n  http:\n  - match:\n    - uri: {prefix: /a, exact: /b}\n    route:\n    - destination: {host: ok}\n",
        line: 8,
        field: "spec.http[0].match[0].uri",
        message: "exactly one of exact, prefix and regex",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [ok]\n  http:\n  - route:\n    - destination: {host: ok}\n    timeout: soon\n",
        line: 9,
        field: "spec.http[0].timeout",
        message: "invalid duration",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: ns}\nspec:\n  hosts: [ok]\n  tcp:\n  - route:\n    - destination: {host: ok, port: {number: 81}}\n",
        line: 8,
        field: "spec.tcp[0].route[0].destination.port.number",
        message: "has no port 81",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: pa, namespace: ns}\nspec:\n  mtls: {mode: MAYBE}\n",
        line: 5,
        field: "spec.mtls.mode",
        message: "unknown variant `MAYBE`",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: pa, namespace: ns}\nspec:\n  portLevelMtls:\n    8080: {mode: DISABLE}\n",
        line: 5,
        field: "spec.portLevelMtls",
        message: "needs a selector",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: ns}\nspec:\n  rules:\n  - from:\n    - source:\n        principals: [\"cluster.local/*/sa/*\"]\n",
        line: 8,
        field: "spec.rules[0].from[0].source.principals[0]",
        message: "prefix or suffix",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: ns}\nspec:\n  rules:\n  - to:\n    - operation:\n        ports: [\"http\"]\n",
        line: 8,
        field: "spec.rules[0].to[0].operation.ports[0]",
        message: "not a port number",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: ns}\nspec:\n  rules:\n  - from:\n    - source:\n        ipBlocks: [\"10.0.0.1/8\"]\n",
        line: 8,
        field: "spec.rules[0].from[0].source.ipBlocks[0]",
        message: "bits set beyond the prefix",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: ns}\nspec:\n  action: CUSTOM\n  provider: {name: opa}\n  rules: [{}]\n",
        line: 5,
        field: "spec.action",
        message: "CUSTOM",
    },
    Case {
        yaml: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: ns}\nspec:\n  rules:\n  - when:\n    - key: source.color\n      values: [blue]\n",
        line: 7,
        field: "spec.rules[0].when[0].key",
        message: "not a condition key",
    },
    Case {
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: ns}\nspec:\n  ports:\n  - {name: http, port: 80, targetPort: Web_Port}\n",
        line: 6,
        field: "spec.ports[0].targetPort",
        message: "not a port name",
    },
    Case {
        yaml: "apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: ns}\nspec:\n  ports:\n  - {port: 80}\n  - {port: 81}\n",
        line: 6,
        field: "spec.ports[0].name",
        message: "needs a name",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata:\n  name: we\n  namespace: ns\n  labels: {version: 1.10}\nspec: {address: 10.0.0.1}\n",
        line: 6,
        field: "metadata.labels.version",
        message: "quote it",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: we, namespace: ns}\nspec: {labels: {app: a}}\n",
        line: 4,
        field: "spec.address",
        message: "needs an address",
    },
    Case {
        yaml: "apiVersion: meshkit.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: rl, namespace: ns}\nspec:\n  tokenBucket: {maxTokens: 10, fillInterval: 10ms}\n",
        line: 5,
        field: "spec.tokenBucket.fillInterval",
        message: "50ms",
    },
    Case {
        yaml: "apiVersion: meshkit.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: rl, namespace: ns}\nspec:\n  tokenBucket: {fillInterval: 1s}\n",
        line: 5,
        field: "spec.tokenBucket",
        message: "missing field `maxTokens`",
    },
    Case {
        yaml: "apiVersion: meshkit.dev/v1alpha1\nkind: CircuitBreaker\nmetadata: {name: cb, namespace: ns}\nspec:\n  host: ok\n  consecutiveFailures: 0\n  openDuration: 30s\n",
        line: 6,
        field: "spec.consecutiveFailures",
        message: "at least 1",
    },
    Case {
        yaml: "apiVersion: meshkit.dev/v1alpha1\nkind: SidecarProxy\nmetadata: {name: p, namespace: ns}\nspec:\n  admin: {address: \"localhost:15000\"}\n",
        line: 5,
        field: "spec.admin.address",
        message: "socket address",
    },
    Case {
        yaml: "apiVersion: meshkit.dev/v1alpha1\nkind: Gateway\nmetadata: {name: g, namespace: ns}\nspec: {}\n",
        line: 2,
        field: "kind",
        message: "not a kind of meshkit.dev",
    },
    Case {
        yaml: "apiVersion: networking.istio.io/v2\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\nspec: {}\n",
        line: 1,
        field: "apiVersion",
        message: "not supported",
    },
    Case {
        yaml: "kind: Sidecar\nmetadata: {name: s}\n",
        line: 1,
        field: "",
        message: "apiVersion and kind",
    },
];

#[test]
fn bad_values_name_file_document_line_and_field() {
    for case in BAD_VALUES {
        let yaml = format!("{PREFIX}{}", case.yaml);
        let err = errors(&yaml);
        let found = err
            .errors
            .iter()
            .find(|d| d.field.as_deref() == Some(case.field));
        let Some(d) = found else {
            panic!(
                "no error at {:?} for:\n{}\ngot: {:#?}",
                case.field, case.yaml, err.errors
            );
        };
        assert_eq!(d.severity, Severity::Error);
        assert_eq!(d.file, "bad.yaml");
        assert_eq!(d.document, Some(2), "{d}");
        assert_eq!(d.position.unwrap().line, case.line + PREFIX_LINES, "{d}");
        assert!(
            d.message.contains(case.message),
            "{:?} lacks {:?}",
            d.message,
            case.message
        );
        // The rendered line carries all of it.
        let text = d.to_string();
        assert!(
            text.starts_with(&format!("bad.yaml:{}:", case.line + PREFIX_LINES)),
            "{text}"
        );
        assert!(text.contains("document 2"), "{text}");
        if !case.field.is_empty() {
            assert!(text.contains(case.field), "{text}");
        }
    }
}

#[test]
fn several_errors_are_reported_together() {
    let yaml = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: a}\nspec:\n  ingress:\n  - port: {number: 0}\n---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: b}\nspec: {mtls: {mode: NOPE}}\n";
    let err = errors(yaml);
    assert_eq!(err.errors.len(), 2, "{err}");
    assert_eq!(err.errors[0].document, Some(1));
    assert_eq!(err.errors[1].document, Some(2));
    assert_eq!(
        err.errors[1].resource.as_deref(),
        Some("PeerAuthentication default/b")
    );
    let text = err.to_string();
    assert!(
        text.starts_with("invalid configuration (2 errors)"),
        "{text}"
    );
    assert_eq!(err.side(), Side::Internal);
    assert!(!err.retry_safe());
}

#[test]
fn unknown_kinds_are_skipped_with_a_note() {
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec: {replicas: 1}\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {selector: {istio: ingressgateway}}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n";
    let loaded = load_str("kinds.yaml", yaml, &LoadOptions::default()).unwrap();
    let notes: Vec<&Diagnostic> = loaded
        .warnings
        .iter()
        .filter(|d| d.severity == Severity::Note)
        .collect();
    assert_eq!(notes.len(), 3, "{:#?}", loaded.warnings);
    assert!(notes[0].message.contains("Deployment"));
    assert_eq!(notes[1].document, Some(2));
    assert_eq!(notes[1].position.unwrap().line, 7);
    assert_eq!(notes[2].resource.as_deref(), Some("Widget default/w"));
}

#[test]
fn unknown_fields_are_warnings() {
    let yaml = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\n  namespace: ns\n  uid: 1234\nspec:\n  host: reviews\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnectoins: 10\n  colour: blue\nstatus: {observedGeneration: 2}\n";
    let loaded = load_str("typo.yaml", yaml, &LoadOptions::default()).unwrap();
    let fields: Vec<_> = loaded
        .warnings
        .iter()
        .map(|d| {
            (
                d.field.as_deref().unwrap(),
                d.position.unwrap().line,
                d.severity,
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "spec.trafficPolicy.connectionPool.tcp.maxConnectoins",
                12,
                Severity::Warning
            ),
            ("spec.colour", 13, Severity::Warning),
        ]
    );
    assert!(loaded.warnings[0].message.contains("unknown field"));
    // The rest of the resource is used.
    assert!(loaded.config.destination_rules.contains_key("ns/r"));
}

#[test]
fn duplicate_keys_are_refused() {
    let yaml = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: a\n  host: b\n";
    let err = errors(yaml);
    let d = &err.errors[0];
    assert!(d.message.contains("duplicate mapping key"), "{d}");
    assert!(
        !d.message.contains("DuplicateKeyPolicy"),
        "advice for programmers leaked: {d}"
    );
    assert_eq!(d.position.unwrap().line, 6);
    assert_eq!(d.document, Some(1));

    let second_doc = format!(
        "{PREFIX}apiVersion: v1\nkind: Service\nmetadata: {{name: x, name: y}}\nspec: {{}}\n"
    );
    let d = &errors(&second_doc).errors[0];
    assert_eq!(d.document, Some(2), "{d}");
}

#[test]
fn duplicate_resources_are_refused() {
    let doc = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: ns}\nspec: {host: a}\n";
    let err = errors(&format!("{doc}---\n{doc}"));
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].document, Some(2));
    assert!(err.errors[0].message.contains("defined twice"));
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let err = errors("apiVersion: v1\nkind: Service\nmetadata: {name: [oops\n");
    let d = &err.errors[0];
    assert_eq!(d.file, "bad.yaml");
    assert!(d.position.unwrap().line >= 3, "{d}");
    assert!(d.message.starts_with("YAML: "), "{d}");
}

fn limited(limits: LoadLimits) -> LoadOptions {
    let mut options = LoadOptions::default();
    options.limits = limits;
    options
}

#[test]
fn budget_limits() {
    let doc = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n";

    let mut limits = LoadLimits::default();
    limits.max_file_bytes = doc.len() - 1;
    let err = load_str("big.yaml", doc, &limited(limits)).unwrap_err();
    assert!(err.errors[0].message.contains("max_file_bytes"), "{err}");

    let mut limits = LoadLimits::default();
    limits.max_documents = 2;
    let three = format!(
        "{doc}---\n{}---\n{}",
        doc.replace("name: s", "name: t"),
        doc.replace("name: s", "name: u")
    );
    let err = load_str("many.yaml", &three, &limited(limits)).unwrap_err();
    assert!(
        err.errors[0].message.to_lowercase().contains("document"),
        "{err}"
    );

    let mut limits = LoadLimits::default();
    limits.max_depth = 5;
    let deep = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\nx: [[[[[[[[1]]]]]]]]\n";
    let err = load_str("deep.yaml", deep, &limited(limits)).unwrap_err();
    assert!(
        err.errors[0].message.to_lowercase().contains("depth"),
        "{err}"
    );

    // An alias bomb stops at the node budget.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, next) in ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h"])
    {
        bomb.push_str(&format!("{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
    }
    let err = load_str("bomb.yaml", &bomb, &LoadOptions::default()).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert!(
        err.errors[0].message.contains("alias replay limit"),
        "{err}"
    );
    assert!(err.errors[0].message.contains("LoadLimits"), "{err}");

    let mut limits = LoadLimits::default();
    limits.max_total_bytes = doc.len() + 10;
    let mut loader = Loader::new(limited(limits));
    loader.add_str("one.yaml", doc);
    loader.add_str("two.yaml", &doc.replace("name: s", "name: t"));
    let err = loader.finish().unwrap_err();
    assert_eq!(err.errors[0].file, "two.yaml");
    assert!(err.errors[0].message.contains("max_total_bytes"));
}

#[test]
fn kubernetes_lists_are_expanded() {
    let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n  spec: {ports: [{port: 80}]}\n- apiVersion: security.istio.io/v1\n  kind: PeerAuthentication\n  metadata: {name: b}\n  spec: {mtls: {mode: LOUD}}\n";
    let err = errors(yaml);
    let d = &err.errors[0];
    assert_eq!(d.field.as_deref(), Some("items[1].spec.mtls.mode"));
    assert_eq!(d.position.unwrap().line, 11);
}

#[test]
fn missing_files_and_directories() {
    let err =
        mesh_core::config::load_paths(&["/nonexistent/meshkit.yaml"], &LoadOptions::default())
            .unwrap_err();
    assert!(err.errors[0].message.contains("cannot read"));
    assert_eq!(err.errors[0].file, "/nonexistent/meshkit.yaml");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 81}]}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".hidden.yaml"), "not: [valid").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();
    std::fs::create_dir(dir.path().join("..data")).unwrap();
    let loaded = mesh_core::config::load_paths(&[dir.path()], &LoadOptions::default()).unwrap();
    let names: Vec<_> = loaded.config.services.keys().cloned().collect();
    assert_eq!(names, ["default/a", "default/b"]);
}

mod never_panics {
    use mesh_core::config::{LoadOptions, load_str};
    use proptest::prelude::*;

    const SEED: &str = include_str!("data/config/bookinfo/60-destination-rule.yaml");

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary text: an error or a config, never a panic.
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            let _ = load_str("fuzz.yaml", &text, &LoadOptions::default());
        }

        /// A real document with a span replaced by arbitrary text.
        #[test]
        fn mutated_document(at in 0..SEED.len(), len in 0usize..16, insert in "[ -~\\n]{0,12}") {
            let start = (0..=at).rev().find(|i| SEED.is_char_boundary(*i)).unwrap_or(0);
            let end = (start + len).min(SEED.len());
            let end = (end..=SEED.len()).find(|i| SEED.is_char_boundary(*i)).unwrap_or(SEED.len());
            let text = format!("{}{insert}{}", &SEED[..start], &SEED[end..]);
            let _ = load_str("fuzz.yaml", &text, &LoadOptions::default());
        }
    }
}
