//! Transparent capture: the destination a connection had before iptables
//! redirected it to the proxy.
//!
//! Istio's init container installs `REDIRECT` rules (`ISTIO_OUTPUT` sends
//! the workload's outgoing TCP to port 15001, `ISTIO_INBOUND` sends
//! incoming TCP to 15006). The kernel keeps the original destination in
//! the connection-tracking entry, and `getsockopt(SO_ORIGINAL_DST)` reads
//! it back; socket2 wraps that call, so no unsafe code is needed here.

use std::io;
use std::net::SocketAddr;

use socket2::SockRef;
use tokio::net::TcpStream;

/// The original destination of a redirected connection.
///
/// For a connection that was not redirected the kernel answers with the
/// local address (or `ENOENT` without connection tracking); callers treat
/// an answer equal to the listener's own address as "not redirected".
pub fn original_dst(stream: &TcpStream) -> io::Result<SocketAddr> {
    let sock = SockRef::from(stream);
    let local = stream.local_addr()?;
    let addr = if local.is_ipv4() {
        sock.original_dst_v4()?
    } else {
        sock.original_dst_v6()?
    };
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "SO_ORIGINAL_DST returned a non-IP address",
        )
    })
}
