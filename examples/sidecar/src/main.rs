//! `mesh-sidecar`: the sidecar proxy assembled from the meshkit crates.
//!
//! The binary is wiring only: the command line, loading and watching the
//! configuration, certificates, signals and the admin listener. The data
//! path (listeners, capture, mTLS, authorization, clusters, telemetry,
//! reload, drain) is the `mesh-proxy` crate.
//!
//! ```text
//! mesh-sidecar run --config PATH...   run a sidecar
//! mesh-sidecar validate PATH...       check configuration (exit code 1 on errors)
//! mesh-sidecar config-dump PATH...    the effective configuration as JSON
//! mesh-sidecar certs --out DIR        a development CA and workload certificates
//! mesh-sidecar demo                   two sidecars and two services on loopback
//! ```
#![forbid(unsafe_code)]

mod certs;
mod demo;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use mesh_core::config::{ConfigError, LoadOptions, Loaded, Severity, load_paths};
use mesh_proxy::{EnvFilterControl, LogControl};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Parser)]
#[command(
    name = "mesh-sidecar",
    version,
    about = "A service-mesh sidecar configured by Istio's YAML"
)]
struct Cli {
    /// Log filter (an EnvFilter: `info`, `mesh_proxy=debug,info`); RUST_LOG
    /// when unset. Changeable at run time with `POST /logging?level=...`.
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a sidecar from Istio YAML files or directories.
    Run(run::RunArgs),
    /// Check configuration files or directories (ConfigMaps are expanded).
    Validate {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the effective configuration as JSON, secrets redacted.
    ConfigDump {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Write a development CA and workload certificates with SPIFFE ids.
    Certs(certs::CertsArgs),
    /// Start two sidecars and two services on loopback, and say what to try.
    Demo(demo::DemoArgs),
}

/// Sets up logging to stderr with a filter `/logging` can change.
fn init_logging(default: &str, flag: Option<&str>) -> Arc<dyn LogControl> {
    let initial = flag
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&initial).unwrap_or_else(|e| {
        eprintln!("mesh-sidecar: invalid log filter {initial:?} ({e}); using {default:?}");
        tracing_subscriber::EnvFilter::new(default)
    });
    let (layer, handle) = tracing_subscriber::reload::Layer::new(filter);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .try_init();
    Arc::new(EnvFilterControl::new(handle, &initial))
}

/// The loader options of the binary: ConfigMaps are expanded, so the
/// Kubernetes manifests themselves are valid input.
pub(crate) fn load_options() -> LoadOptions {
    let mut options = LoadOptions::default();
    options.expand_config_maps = true;
    options
}

/// Loads `paths`, printing warnings to stderr.
pub(crate) fn load(paths: &[PathBuf]) -> Result<Loaded, ConfigError> {
    let loaded = load_paths(paths, &load_options())?;
    for w in &loaded.warnings {
        if w.severity == Severity::Warning {
            eprintln!("{w}");
        }
    }
    Ok(loaded)
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    match load_paths(paths, &load_options()) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            let c = &loaded.config;
            let resources = c.sidecars.len()
                + c.service_entries.len()
                + c.workload_entries.len()
                + c.services.len()
                + c.virtual_services.len()
                + c.destination_rules.len()
                + c.peer_authentications.len()
                + c.authorization_policies.len()
                + c.local_rate_limits.len()
                + c.circuit_breakers.len()
                + usize::from(c.proxy.is_some());
            let listeners = c
                .local_workload()
                .map(|w| c.listeners(&w).len())
                .unwrap_or_default();
            println!(
                "valid: {resources} resources, {} services, {listeners} listeners{}",
                c.registry.len(),
                if c.proxy.is_none() {
                    " (no SidecarProxy: `run` needs one with spec.identity)"
                } else {
                    ""
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            for w in &e.warnings {
                eprintln!("{w}");
            }
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn config_dump(paths: &[PathBuf]) -> ExitCode {
    match load(paths) {
        Ok(loaded) => {
            let json = serde_json::to_string_pretty(&loaded.config.to_json()).unwrap_or_default();
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::ConfigDump { paths } => config_dump(&paths),
        Command::Certs(args) => certs::run(&args),
        Command::Run(args) => {
            let log = init_logging("info", cli.log_level.as_deref());
            run::main(args, log)
        }
        Command::Demo(args) => {
            let log = init_logging("warn,mesh_sidecar=info", cli.log_level.as_deref());
            demo::main(args, log)
        }
    }
}
