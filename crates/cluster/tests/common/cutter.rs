//! A TCP forwarder a test can cut: it stands between a role and a real server (PostgreSQL, NATS) and, on
//! `cut`, closes every connection through it and refuses new ones until `restore` — what a network partition
//! or a server's crash looks like from the client's side. The server itself stays up, so the other tests
//! sharing it are not disturbed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Cutter {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped at every cut: connection tasks watching it close their sockets.
    cuts: watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cutter {
    /// Forward 127.0.0.1:<free port> to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port for the cutter");
        let addr = listener.local_addr().expect("cutter address");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (up_seen, cuts_seen) = (up.clone(), cuts.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up_seen.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = cuts_seen.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
                    let mut client = client;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Cutter { addr, up, cuts, accept }
    }

    /// Where clients connect instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Close every connection and refuse new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|count| *count += 1);
    }

    /// Let connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `url` with its host and port replaced by `addr` (e.g. a PostgreSQL or NATS URL pointed at a cutter), and
/// the address it named.
pub fn through(url: &str, addr: SocketAddr) -> (String, SocketAddr) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (credentials, host_port) = authority.rsplit_once('@').map_or(("", authority), |(c, h)| (c, h));
    let upstream: SocketAddr = host_port
        .replace("localhost", "127.0.0.1")
        .parse()
        .unwrap_or_else(|_| panic!("{host_port} in {url} is not an IP address and port"));
    let credentials = if credentials.is_empty() { String::new() } else { format!("{credentials}@") };
    let path = if path.is_empty() { String::new() } else { format!("/{path}") };
    (format!("{scheme}://{credentials}{addr}{path}"), upstream)
}
