//! A hostile guest that probes for network access: `net-probe ADDR`.
//!
//! It is built for wasm32-wasip2, where std has sockets; it also builds
//! for wasm32-wasip1, where every probe fails as unsupported. ADDR is a
//! socket address such as `127.0.0.1:4567`; there is no default.
//!
//! It prints one line for each probe, in order, and exits 0:
//! - `tcp: connected` or `tcp: denied (ERROR)`: a TCP connection to
//!   ADDR, with a 2 second timeout;
//! - `lookup: resolved` or `lookup: denied (ERROR)`: a name lookup of
//!   `localhost:80` (nothing is sent to the address found);
//! - `udp: bound` or `udp: denied (ERROR)`: binding a UDP socket on
//!   `127.0.0.1:0`.
//!
//! ERROR is the `io::Error`'s Display.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// How long the TCP probe waits for the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The name the lookup probe resolves.
const LOOKUP_NAME: &str = "localhost:80";

/// The address the UDP probe binds: loopback, any free port.
const UDP_BIND: &str = "127.0.0.1:0";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr] = args.as_slice() else {
        eprintln!("usage: net-probe ADDR (such as 127.0.0.1:4567)");
        std::process::exit(2);
    };
    let addr: SocketAddr = match addr.parse() {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("error: ADDR `{addr}` is not a socket address: {error}");
            std::process::exit(2);
        }
    };

    // A connection to the address the test's own server listens on.
    let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT);
    report("tcp", "connected", tcp);

    // A lookup only: `to_socket_addrs` resolves, it does not connect.
    let lookup = LOOKUP_NAME.to_socket_addrs().map(Iterator::count);
    report("lookup", "resolved", lookup);

    let udp = UdpSocket::bind(UDP_BIND);
    report("udp", "bound", udp);
}

/// Prints `NAME: SUCCESS` when the probe worked, else
/// `NAME: denied (ERROR)`.
fn report<T>(name: &str, success: &str, probe: io::Result<T>) {
    let mut out = io::stdout().lock();
    let _ = match probe {
        Ok(_) => writeln!(out, "{name}: {success}"),
        Err(error) => writeln!(out, "{name}: denied ({error})"),
    };
    let _ = out.flush();
}
