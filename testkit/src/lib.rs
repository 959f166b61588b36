//! Test support shared by the crates' tests: finding real peers, giving
//! each test its own loopback address, and stopping what a test started.
//!
//! A test that needs a peer calls [`require_binary`] or
//! [`require_python_module`]: when the peer is missing the test fails with
//! the command that installs it, never passes silently. The test command
//! (`scripts/test.sh`) installs every peer first.
//!
//! Tests run in parallel (threads within a test binary, and binaries under
//! nextest), so peers never share an address: [`unique_loopback`] hands
//! out a distinct `127.x.y.z` per call and process, and [`free_port`] finds
//! a port on it by binding port 0.
#![forbid(unsafe_code)]
// Test support: a panic is how a missing peer fails the test that needs it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod hpack_corpus;

pub use tempfile::{TempDir, tempdir};

const INSTALL_HINT: &str = "run scripts/install-peers.sh (the README's test command does)";

/// The path of a peer program, or a panic that says how to install it.
pub fn require_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("peer program `{name}` is not installed: {INSTALL_HINT}"))
}

/// The Python interpreter, after checking that `module` imports; panics
/// with the install hint otherwise.
pub fn require_python_module(module: &str) -> PathBuf {
    let python = require_binary("python3");
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "Python module `{module}` is not installed: {INSTALL_HINT}"
    );
    python
}

/// A loopback address no other call in this process returned, and (by
/// mixing in the process id) unlikely to be used by another test process.
pub fn unique_loopback() -> IpAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let b = (pid % 250 + 1) as u8;
    let c = ((pid / 250) % 250) as u8;
    let d = (n % 250 + 2) as u8;
    let c = c.wrapping_add((n / 250) as u8);
    IpAddr::V4(Ipv4Addr::new(127, b, c, d))
}

/// A port nobody listens on at `ip`, found by binding port 0 and letting it
/// go, and never handed out before by this process (the kernel may offer a
/// port again as soon as it is let go, so two calls for one configuration
/// could otherwise get the same port). On an address of [`unique_loopback`]
/// nobody else will take it.
pub fn free_port(ip: IpAddr) -> u16 {
    static GIVEN: Mutex<BTreeSet<(IpAddr, u16)>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot bind {ip}:0: {e}"));
        if given.insert((ip, port)) {
            return port;
        }
    }
    panic!("the kernel offered only ports already handed out on {ip}");
}

/// Where a test's own listener binds: a unique loopback IP and port 0, so
/// the kernel picks the port at bind time (read it back with
/// `local_addr`). Unlike [`peer_addr`], nothing can take the port between
/// choosing and binding it.
pub fn listen_addr() -> SocketAddr {
    SocketAddr::new(unique_loopback(), 0)
}

/// A fresh address for a peer process, which must be told its port before
/// it starts: a unique loopback IP and a port that was free a moment ago.
/// A listener of the test's own binds [`listen_addr`] instead.
pub fn peer_addr() -> SocketAddr {
    let ip = unique_loopback();
    SocketAddr::new(ip, free_port(ip))
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_listener(addr: SocketAddr, timeout: Duration) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < timeout,
            "nothing listens on {addr} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is killed (and reaped) when dropped, so a failing
/// test never leaves a peer running.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    name: String,
}

impl Peer {
    /// Starts `command` with stdout and stderr captured.
    pub fn spawn(name: &str, command: &mut Command) -> Peer {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Peer {
            child,
            name: name.to_owned(),
        }
    }

    /// Reads the child's stdout until a line contains `needle`, and returns
    /// that line. Panics (with what was read) if stdout ends first.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let stdout = self.child.stdout.as_mut().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("read child stdout");
            if n == 0 {
                let mut err = String::new();
                if let Some(e) = self.child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "{} ended before printing {needle:?}; stdout:\n{seen}\nstderr:\n{err}",
                    self.name
                );
            }
            if line.contains(needle) {
                return line;
            }
            seen.push_str(&line);
        }
    }

    /// The child process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the child to exit and returns its stdout, stderr and
    /// whether it succeeded; panics after `timeout`.
    pub fn wait_output(mut self, timeout: Duration) -> (String, String, bool) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait child") {
                let mut out = String::new();
                let mut err = String::new();
                if let Some(o) = self.child.stdout.as_mut() {
                    let _ = o.read_to_string(&mut out);
                }
                if let Some(e) = self.child.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                return (out, err, status.success());
            }
            assert!(
                start.elapsed() < timeout,
                "{} still running after {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a real `redis-server` on a fresh loopback address, with nothing
/// saved to disk, and waits until it accepts connections. Extra arguments
/// (such as `--enable-debug-command local`) are appended.
pub fn redis_server(extra_args: &[&str]) -> (Peer, SocketAddr, TempDir) {
    let bin = require_binary("redis-server");
    let dir = tempdir().expect("temp dir");
    let addr = peer_addr();
    let mut cmd = Command::new(bin);
    cmd.arg("--port")
        .arg(addr.port().to_string())
        .arg("--bind")
        .arg(addr.ip().to_string())
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir.path())
        .args(extra_args);
    let peer = Peer::spawn("redis-server", &mut cmd);
    wait_for_listener(addr, Duration::from_secs(10));
    (peer, addr, dir)
}

/// Starts a real `nginx` in the foreground (no master process, no daemon)
/// on a fresh loopback address, with its own prefix, logs and temporary
/// paths in a new directory, and waits until it accepts connections.
///
/// `http` is called with that directory and the address before nginx
/// starts: it may put files there (a document root) and returns the body of
/// the `http { }` block (log formats, `server` blocks listening on the
/// address). The directory lives as long as the returned `TempDir`.
pub fn nginx_server(http: impl FnOnce(&Path, SocketAddr) -> String) -> (Peer, SocketAddr, TempDir) {
    let bin = require_binary("nginx");
    let dir = tempdir().expect("temp dir");
    let addr = peer_addr();
    let body = http(dir.path(), addr);
    let d = dir.path().display();
    let conf = format!(
        "master_process off;
user root root;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{body}
}}
"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let mut cmd = Command::new(bin);
    // `-e`: the error log before the configuration is read, which would
    // otherwise be the system's.
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("startup.log"))
        .arg("-c")
        .arg(&conf_path)
        .args(["-g", "daemon off;"]);
    let peer = Peer::spawn("nginx", &mut cmd);
    wait_for_listener(addr, Duration::from_secs(10));
    (peer, addr, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_are_distinct_and_bindable() {
        let a = unique_loopback();
        let b = unique_loopback();
        assert_ne!(a, b);
        let port = free_port(a);
        TcpListener::bind((a, port)).unwrap();
    }

    #[test]
    #[should_panic(expected = "is not installed")]
    fn missing_binary_fails_loudly() {
        require_binary("surely-not-a-real-peer-program");
    }
}
