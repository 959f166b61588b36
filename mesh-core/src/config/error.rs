//! Diagnostics: every problem found in a configuration, with where it is.

use std::fmt;

use serde::Serialize;

use super::node::Position;
use crate::{ErrorClass, Side};

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The config cannot be used.
    Error,
    /// The config is used, but something in it is ignored or suspicious
    /// (an unknown field, a feature meshkit does not implement).
    Warning,
    /// For information: a document of a kind meshkit does not use was
    /// skipped.
    Note,
}

impl Severity {
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding, naming the file, the document, the line and column, the
/// resource and the field path, so a person can go straight to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// The file (or source name given to the loader).
    pub file: String,
    /// The 1-based index of the YAML document in the file, when known.
    pub document: Option<usize>,
    /// The line and column, when known.
    pub position: Option<Position>,
    /// `Kind namespace/name`, when the document got that far.
    pub resource: Option<String>,
    /// The field path (`spec.trafficPolicy.connectionPool.tcp.maxConnections`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn new(severity: Severity, file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            file: file.to_owned(),
            document: None,
            position: None,
            resource: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:col: error: document 2, DestinationRule ns/name, field spec.x: message`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(pos) = self.position.filter(|p| p.line > 0) {
            write!(f, ":{}:{}", pos.line, pos.column)?;
        }
        write!(f, ": {}: ", self.severity.as_str())?;
        let mut context = Vec::new();
        if let Some(doc) = self.document {
            context.push(format!("document {doc}"));
        }
        if let Some(resource) = &self.resource {
            context.push(resource.clone());
        }
        if let Some(field) = self.field.as_deref().filter(|f| !f.is_empty()) {
            context.push(format!("field {field}"));
        }
        if !context.is_empty() {
            write!(f, "{}: ", context.join(", "))?;
        }
        f.write_str(&self.message)
    }
}

/// The configuration was refused: every error found (loading goes on past
/// the first so one run shows them all), with the warnings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ConfigError {
    /// The errors, in file and document order, at least one.
    pub errors: Vec<Diagnostic>,
    /// Warnings and notes found on the way.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "invalid configuration ({n} error{})",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.errors {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl ErrorClass for ConfigError {
    /// A bad configuration is this proxy's own problem, never a peer's.
    fn side(&self) -> Side {
        Side::Internal
    }

    fn retry_safe(&self) -> bool {
        false
    }
}
