//! The accept loop: what `axum::serve` leaves out.
//!
//! * A header-read timeout (hyper's, armed by a timer): a socket that never
//!   finishes its request head — on a new or an idle keep-alive connection —
//!   is closed after [`HEADER_READ_TIMEOUT`].
//! * A cap on open connections, derived from the file-descriptor limit (which
//!   is first raised from its soft to its hard value), so sockets held open
//!   by a local process cannot exhaust descriptors and lock everyone out: past
//!   the cap new connections wait in the kernel's backlog until one closes.
//! * TCP_NODELAY on every accepted socket (without it chunked SSE replies stall
//!   ~40 ms on delayed ACKs).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long a client may take to send a request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once (fewer when descriptors are scarce).
pub const MAX_CONNECTIONS: usize = 1024;
/// Descriptors kept for everything else (the vault file, logs, pipes).
const RESERVED_FDS: u64 = 64;

/// Raises the soft descriptor limit to the hard one; returns the connection cap.
pub fn connection_cap() -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (limit.current, limit.maximum)
        && cur < max
    {
        limit.current = Some(max);
        match setrlimit(Resource::Nofile, limit) {
            Ok(()) => tracing::debug!(from = cur, to = max, "raised the open-file limit"),
            Err(e) => {
                tracing::warn!("could not raise the open-file limit: {e}");
                limit.current = Some(cur);
            }
        }
    }
    let fds = limit.current.unwrap_or(u64::MAX);
    let cap = fds
        .saturating_sub(RESERVED_FDS)
        .clamp(16, MAX_CONNECTIONS as u64) as usize;
    tracing::debug!(cap, "connection cap");
    cap
}

/// Serves `app` on `listener` until `shutdown`, then lets open connections
/// finish their current request (bounded).
pub async fn run(listener: TcpListener, app: Router, shutdown: CancellationToken, cap: usize) {
    let slots = Arc::new(Semaphore::new(cap));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let connections = TaskTracker::new();
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        // The peer address, for routes that answer this machine only.
        let service = TowerToHyperService::new(app.clone().map_request(
            move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        ));
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let stop = shutdown.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
            drop(slot);
        });
    }
    connections.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), connections.wait()).await;
}
