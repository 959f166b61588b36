//! Configuration loading never panics, whatever the text: arbitrary YAML,
//! or the deployment's real configuration with the input spliced into it
//! (so the fuzzer starts from documents every kind accepts, not from
//! nothing). A configuration that loads is then queried the way a sidecar
//! does at start-up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_core::config::{LoadOptions, load_str};

const SAMPLE: &str = concat!(
    include_str!("../../../deploy/kubernetes/configmap.yaml"),
    "\n---\n",
    include_str!("../../../deploy/kubernetes/service.yaml"),
);

fn text(data: &[u8]) -> Option<String> {
    let (&mode, rest) = data.split_first()?;
    let rest = std::str::from_utf8(rest).ok()?;
    if mode % 3 == 0 || rest.len() < 2 {
        return Some(rest.to_owned());
    }
    // Two bytes of the input pick a position in the sample (kept on a
    // character boundary), the rest is inserted there or replaces the
    // sample's text up to the next line end.
    let pick = usize::from(rest.as_bytes()[0]) << 8 | usize::from(rest.as_bytes()[1]);
    let mut at = pick % SAMPLE.len();
    while !SAMPLE.is_char_boundary(at) {
        at -= 1;
    }
    let payload = rest.get(2..).unwrap_or_default();
    let end = if mode % 3 == 1 {
        at
    } else {
        SAMPLE[at..].find('\n').map_or(SAMPLE.len(), |n| at + n)
    };
    Some(format!("{}{payload}{}", &SAMPLE[..at], &SAMPLE[end..]))
}

fuzz_target!(|data: &[u8]| {
    let Some(yaml) = text(data) else { return };
    let mut options = LoadOptions::default();
    options.expand_config_maps = true;
    let Ok(loaded) = load_str("fuzz.yaml", &yaml, &options) else {
        return;
    };
    let config = loaded.config;
    let _ = config.to_json();
    let _ = config.admin_address();
    if let Some(workload) = config.local_workload() {
        for listener in config.listeners(&workload) {
            if let Some(port) = listener.port {
                let _ = config.mtls_mode(&workload, port);
                let _ = config.outbound_port_mode(port);
            }
        }
        let _ = config.outbound_mode(&workload);
    }
});
