//! Reading configuration: files, directories, multi-document YAML.
//!
//! Every document is parsed by serde-saphyr with duplicate keys refused and
//! a [`LoadLimits`] budget, into a position-keeping tree; its `apiVersion`
//! and `kind` pick the type it is deserialized into. Loading goes on past
//! an error, so one run reports every problem:
//!
//! - a bad value or a YAML syntax error is an error naming the file, the
//!   document, the line and column, and the field path;
//! - a field no kind has is a warning (the value is ignored);
//! - a document of a kind meshkit does not use (a `Deployment`, an Istio
//!   `Gateway`) is skipped with a note and a `tracing` line.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::de::{self, from_node};
use super::error::{ConfigError, Diagnostic, Severity};
use super::meshkit;
use super::meta::ObjectMeta;
use super::model::EffectiveConfig;
use super::node::{Node, Value};
use super::resource::{AnyResource, Origin, Resource};
use super::values::Ignored;

/// Size limits for loading, so a huge or hostile file cannot exhaust memory
/// or time. Exceeding one is an error naming the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadLimits {
    /// Bytes of one file (default 4 MiB).
    pub max_file_bytes: usize,
    /// Bytes of all files together (default 32 MiB).
    pub max_total_bytes: usize,
    /// Files read from directories and paths (default 1,024).
    pub max_files: usize,
    /// YAML documents in one file (default 1,024).
    pub max_documents: usize,
    /// Nesting depth of mappings and sequences (default 64).
    pub max_depth: usize,
    /// YAML nodes (scalars, mappings, sequences) in one file, counting
    /// alias expansions (default 250,000).
    pub max_nodes: usize,
    /// Aliases (`*name`) in one file (default 1,000).
    pub max_aliases: usize,
    /// Events replayed by alias expansion in one file (default 10,000):
    /// stops "billion laughs" documents early.
    pub max_alias_replay_events: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        LoadLimits {
            max_file_bytes: 4 << 20,
            max_total_bytes: 32 << 20,
            max_files: 1024,
            max_documents: 1024,
            max_depth: 64,
            max_nodes: 250_000,
            max_aliases: 1000,
            max_alias_replay_events: 10_000,
        }
    }
}

/// How to load.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Size limits.
    pub limits: LoadLimits,
    /// The namespace of resources that name none (`default`).
    pub default_namespace: String,
    /// Also load the YAML held in `ConfigMap` objects (`data` keys ending in
    /// `.yaml` or `.yml`), as a Kubernetes deployment mounts it for the
    /// sidecar; positions in those are relative to the embedded text.
    pub expand_config_maps: bool,
    /// The namespace whose policies apply mesh-wide, unless a
    /// `SidecarProxy` says otherwise (`istio-system`).
    pub root_namespace: String,
    /// The cluster domain of Kubernetes service hosts, unless a
    /// `SidecarProxy` says otherwise (`cluster.local`).
    pub cluster_domain: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            limits: LoadLimits::default(),
            default_namespace: "default".into(),
            expand_config_maps: false,
            root_namespace: "istio-system".into(),
            cluster_domain: "cluster.local".into(),
        }
    }
}

/// A configuration that loaded: the effective config and what to tell the
/// user about it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Loaded {
    /// The validated, indexed configuration.
    pub config: EffectiveConfig,
    /// Warnings and notes (unknown fields, skipped kinds, ignored features).
    pub warnings: Vec<Diagnostic>,
}

/// Loads files or directories (non-recursively: `*.yaml`, `*.yml`,
/// `*.json`, skipping hidden entries such as a mounted ConfigMap's `..data`).
pub fn load_paths<P: AsRef<Path>>(
    paths: &[P],
    options: &LoadOptions,
) -> Result<Loaded, ConfigError> {
    let mut loader = Loader::new(options.clone());
    for path in paths {
        loader.add_path(path.as_ref());
    }
    loader.finish()
}

/// Loads YAML text; `name` stands for the file in diagnostics.
pub fn load_str(name: &str, yaml: &str, options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut loader = Loader::new(options.clone());
    loader.add_str(name, yaml);
    loader.finish()
}

/// Collects sources, then validates and indexes them in [`Loader::finish`].
#[derive(Debug)]
pub struct Loader {
    options: LoadOptions,
    resources: Vec<AnyResource>,
    diagnostics: Vec<Diagnostic>,
    files: usize,
    bytes: usize,
}

impl Loader {
    /// A loader with nothing added.
    pub fn new(options: LoadOptions) -> Self {
        Loader {
            options,
            resources: Vec::new(),
            diagnostics: Vec::new(),
            files: 0,
            bytes: 0,
        }
    }

    /// Adds a file, or the YAML files of a directory in name order.
    pub fn add_path(&mut self, path: &Path) -> &mut Self {
        let shown = path.display().to_string();
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.error(&shown, format!("cannot read: {e}"));
                return self;
            }
        };
        if meta.is_dir() {
            let entries = match fs::read_dir(path) {
                Ok(entries) => entries,
                Err(e) => {
                    self.error(&shown, format!("cannot list the directory: {e}"));
                    return self;
                }
            };
            let mut files: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| is_config_file(p))
                .collect();
            files.sort();
            for file in files {
                if file.is_file() {
                    self.add_file(&file);
                }
            }
        } else {
            self.add_file(path);
        }
        self
    }

    fn add_file(&mut self, path: &Path) {
        let shown = path.display().to_string();
        let limits = self.options.limits;
        self.files += 1;
        if self.files > limits.max_files {
            self.error(
                &shown,
                format!("more than {} files (limit max_files)", limits.max_files),
            );
            return;
        }
        let mut text = String::new();
        let read = fs::File::open(path).and_then(|f| {
            // One byte past the limit tells a file at the limit from a bigger one,
            // without reading (or allocating for) the rest.
            f.take(limits.max_file_bytes as u64 + 1)
                .read_to_string(&mut text)
        });
        if let Err(e) = read {
            self.error(&shown, format!("cannot read: {e}"));
            return;
        }
        self.add_str(&shown, &text);
    }

    /// Adds YAML text; `name` stands for the file in diagnostics.
    pub fn add_str(&mut self, name: &str, yaml: &str) -> &mut Self {
        let limits = self.options.limits;
        if yaml.len() > limits.max_file_bytes {
            self.error(
                name,
                format!(
                    "larger than {} bytes (limit max_file_bytes)",
                    limits.max_file_bytes
                ),
            );
            return self;
        }
        self.bytes += yaml.len();
        if self.bytes > limits.max_total_bytes {
            self.error(
                name,
                format!(
                    "the files together exceed {} bytes (limit max_total_bytes)",
                    limits.max_total_bytes
                ),
            );
            return self;
        }
        let docs =
            match serde_saphyr::from_multiple_with_options::<Node>(yaml, parse_options(&limits)) {
                Ok(docs) => docs,
                Err(e) => {
                    let mut d = Diagnostic::new(Severity::Error, name, yaml_message(&e));
                    if let Some(loc) = e.location().filter(|l| l.line() > 0) {
                        d.position = Some(super::node::Position {
                            line: loc.line(),
                            column: loc.column(),
                        });
                        d.document = Some(document_index(yaml, loc.line()));
                    }
                    self.diagnostics.push(d);
                    return self;
                }
            };
        for root in docs {
            let document = document_index(yaml, root.pos.line);
            let tree = Arc::new(root);
            self.add_document(name, document, &tree, String::new());
        }
        self
    }

    /// Validates and indexes everything added.
    pub fn finish(mut self) -> Result<Loaded, ConfigError> {
        let (config, diagnostics) = EffectiveConfig::build(self.resources, &self.options);
        self.diagnostics.extend(diagnostics);
        let (errors, warnings): (Vec<_>, Vec<_>) = self
            .diagnostics
            .into_iter()
            .partition(|d| d.severity == Severity::Error);
        if errors.is_empty() {
            Ok(Loaded { config, warnings })
        } else {
            Err(ConfigError { errors, warnings })
        }
    }

    fn error(&mut self, file: &str, message: String) {
        self.diagnostics
            .push(Diagnostic::new(Severity::Error, file, message));
    }

    fn add_document(&mut self, file: &str, document: usize, tree: &Arc<Node>, base: String) {
        let Some(node) = (if base.is_empty() {
            Some(&**tree)
        } else {
            tree.at(&base)
        }) else {
            return;
        };
        let at = |field: &str| {
            let mut d = Diagnostic::new(Severity::Error, file, "");
            d.document = Some(document);
            d.position = Some(tree.locate(&join_base(&base, field)));
            d.field = Some(join_base(&base, field));
            d
        };
        if matches!(node.value, Value::Null) {
            return;
        }
        if !matches!(node.value, Value::Map(_)) {
            let mut d = at("");
            d.message = format!(
                "a document must be a mapping with apiVersion and kind, not {}",
                node.value.describe()
            );
            self.diagnostics.push(d);
            return;
        }
        let (Some(api_version), Some(kind)) = (node.get_str("apiVersion"), node.get_str("kind"))
        else {
            let mut d = at("");
            d.message = "a document needs string fields apiVersion and kind".into();
            self.diagnostics.push(d);
            return;
        };
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let name = node
            .get("metadata")
            .and_then(|m| m.get_str("name"))
            .unwrap_or("<unnamed>");
        let namespace = node
            .get("metadata")
            .and_then(|m| m.get_str("namespace"))
            .unwrap_or(&self.options.default_namespace)
            .to_owned();
        let namespace = namespace.as_str();
        let label = format!("{kind} {namespace}/{name}");
        let ctx = DocContext {
            file,
            document,
            tree,
            base: &base,
            label: &label,
        };

        const NETWORKING: &[&str] = &["v1alpha3", "v1beta1", "v1"];
        const SECURITY: &[&str] = &["v1beta1", "v1"];
        let known_versions: Option<&[&str]> = match group {
            "networking.istio.io" => Some(NETWORKING),
            "security.istio.io" => Some(SECURITY),
            meshkit::GROUP => Some(&["v1alpha1"]),
            _ => None,
        };
        if let Some(versions) = known_versions {
            if !versions.contains(&version) {
                let mut d = at("apiVersion");
                d.resource = Some(label.clone());
                d.message = format!(
                    "apiVersion {api_version:?} is not supported (versions of {group}: {})",
                    versions.join(", ")
                );
                self.diagnostics.push(d);
                return;
            }
        }
        let parsed = match (group, kind) {
            ("networking.istio.io", "Sidecar") => self.parse(&ctx, node).map(AnyResource::Sidecar),
            ("networking.istio.io", "ServiceEntry") => {
                self.parse(&ctx, node).map(AnyResource::ServiceEntry)
            }
            ("networking.istio.io", "WorkloadEntry") => {
                self.parse(&ctx, node).map(AnyResource::WorkloadEntry)
            }
            ("networking.istio.io", "VirtualService") => {
                self.parse(&ctx, node).map(AnyResource::VirtualService)
            }
            ("networking.istio.io", "DestinationRule") => {
                self.parse(&ctx, node).map(AnyResource::DestinationRule)
            }
            ("security.istio.io", "PeerAuthentication") => {
                self.parse(&ctx, node).map(AnyResource::PeerAuthentication)
            }
            ("security.istio.io", "AuthorizationPolicy") => {
                self.parse(&ctx, node).map(AnyResource::AuthorizationPolicy)
            }
            ("", "Service") if version == "v1" => self.parse(&ctx, node).map(AnyResource::Service),
            (meshkit::GROUP, "SidecarProxy") => {
                self.parse(&ctx, node).map(AnyResource::SidecarProxy)
            }
            (meshkit::GROUP, "LocalRateLimit") => {
                self.parse(&ctx, node).map(AnyResource::LocalRateLimit)
            }
            (meshkit::GROUP, "CircuitBreaker") => {
                self.parse(&ctx, node).map(AnyResource::CircuitBreaker)
            }
            (meshkit::GROUP, _) => {
                let mut d = at("kind");
                d.message = format!(
                    "kind {kind:?} is not a kind of {}; its kinds are SidecarProxy, LocalRateLimit and CircuitBreaker",
                    meshkit::GROUP
                );
                self.diagnostics.push(d);
                None
            }
            ("", "List") if version == "v1" => {
                if let Some(Value::Seq(items)) = node.get("items").map(|n| &n.value) {
                    for i in 0..items.len() {
                        self.add_document(
                            file,
                            document,
                            tree,
                            join_base(&base, &format!("items[{i}]")),
                        );
                    }
                }
                None
            }
            ("", "ConfigMap") if version == "v1" && self.options.expand_config_maps => {
                self.expand_config_map(file, node, namespace, name);
                None
            }
            _ => {
                tracing::info!(
                    file,
                    document,
                    kind,
                    api_version,
                    "skipping a kind meshkit does not use"
                );
                let mut d = at("kind");
                d.severity = Severity::Note;
                d.resource = Some(label.clone());
                d.message = format!("kind {kind} ({api_version}) is not used by meshkit; skipped");
                self.diagnostics.push(d);
                None
            }
        };
        if let Some(resource) = parsed {
            self.resources.push(resource);
        }
    }

    fn parse<S: DeserializeOwned>(
        &mut self,
        ctx: &DocContext<'_>,
        node: &Node,
    ) -> Option<Resource<S>> {
        match from_node::<Raw<S>>(node) {
            Ok((raw, ignored)) => {
                for field in ignored {
                    let mut d = ctx.diagnostic(Severity::Warning, &field.path);
                    d.position = Some(field.pos);
                    d.message = "unknown field; it is ignored".into();
                    self.diagnostics.push(d);
                }
                let mut metadata = raw.metadata;
                if metadata.namespace.is_none() {
                    metadata.namespace = Some(self.options.default_namespace.clone());
                }
                Some(Resource {
                    api_version: raw.api_version,
                    metadata,
                    spec: raw.spec,
                    origin: Origin {
                        file: ctx.file.to_owned(),
                        document: ctx.document,
                        position: node.pos,
                        base: ctx.base.to_owned(),
                        tree: Arc::clone(ctx.tree),
                    },
                })
            }
            Err(e) => {
                let field = e.path.clone().unwrap_or_default();
                let mut d = ctx.diagnostic(Severity::Error, &field);
                d.position = e.pos.or(d.position);
                d.message = e.message;
                self.diagnostics.push(d);
                None
            }
        }
    }

    fn expand_config_map(&mut self, file: &str, node: &Node, namespace: &str, name: &str) {
        let Some(Value::Map(entries)) = node.get("data").map(|n| &n.value) else {
            return;
        };
        for (key, value) in entries {
            let (Some(key), Value::Str(text)) = (key.scalar_text(), &value.value) else {
                continue;
            };
            if key.ends_with(".yaml") || key.ends_with(".yml") {
                let source = format!("{file}[ConfigMap {namespace}/{name} data.{key}]");
                self.add_str(&source, text);
            }
        }
    }
}

struct DocContext<'a> {
    file: &'a str,
    document: usize,
    tree: &'a Arc<Node>,
    base: &'a str,
    label: &'a str,
}

impl DocContext<'_> {
    fn diagnostic(&self, severity: Severity, field: &str) -> Diagnostic {
        let full = join_base(self.base, field);
        let mut d = Diagnostic::new(severity, self.file, "");
        d.document = Some(self.document);
        d.position = Some(self.tree.locate(&full));
        d.resource = Some(self.label.to_owned());
        d.field = Some(full);
        d
    }
}

fn join_base(base: &str, field: &str) -> String {
    match (base.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (false, true) => base.to_owned(),
        (false, false) if field.starts_with('[') => format!("{base}{field}"),
        (false, false) => format!("{base}.{field}"),
    }
}

/// The document as Kubernetes writes it; `spec` is the kind's.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw<S> {
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: ObjectMeta,
    spec: S,
    #[serde(default)]
    #[allow(dead_code)]
    status: Ignored,
}

fn is_config_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'));
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    !hidden && matches!(ext, "yaml" | "yml" | "json")
}

fn parse_options(limits: &LoadLimits) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = limits.max_documents;
    budget.max_depth = limits.max_depth;
    budget.max_nodes = limits.max_nodes;
    budget.max_aliases = limits.max_aliases;
    budget.max_anchors = limits.max_aliases;
    budget.max_total_scalar_bytes = limits.max_file_bytes;
    budget.max_reader_input_bytes = Some(limits.max_file_bytes);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.strict_booleans = true;
    options.with_snippet = false;
    options.alias_limits.max_total_replayed_events = limits.max_alias_replay_events;
    options
}

/// serde-saphyr's message without its position suffix (the diagnostic has
/// the position) and without advice meant for programmers.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let text = text.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    let hint = if text.contains("budget") || text.contains("limit") {
        " (a LoadLimits size limit)"
    } else {
        ""
    };
    format!("YAML: {text}{hint}")
}

/// The 1-based index of the document that contains `line`: the `---`
/// markers up to that line, plus one if content precedes the first marker.
fn document_index(text: &str, line: u64) -> usize {
    let mut markers = 0;
    let mut leading_content = false;
    for (i, l) in text.lines().enumerate() {
        if i as u64 + 1 > line {
            break;
        }
        let is_marker =
            l.starts_with("---") && l[3..].chars().next().is_none_or(char::is_whitespace);
        if is_marker {
            markers += 1;
        } else if markers == 0 {
            let t = l.trim_start();
            if !(t.is_empty() || t.starts_with('#') || l.starts_with('%')) {
                leading_content = true;
            }
        }
    }
    (markers + usize::from(leading_content)).max(1)
}

pub(crate) use de::join as join_field;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_indices() {
        let text = "a: 1\n---\nb: 2\n---\n# c\nc: 3\n";
        assert_eq!(document_index(text, 1), 1);
        assert_eq!(document_index(text, 3), 2);
        assert_eq!(document_index(text, 6), 3);
        let text = "# head\n---\na: 1\n--- \nb: 2\n";
        assert_eq!(document_index(text, 3), 1);
        assert_eq!(document_index(text, 5), 2);
        assert_eq!(document_index("--- {a: 1}\n", 1), 1);
    }
}
