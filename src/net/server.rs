//! The accept loop of every listener credvault serves HTTP on (`serve --http`
//! and stdio mode's entry-page listener): what `axum::serve` leaves out.
//!
//! * A header-read timeout (hyper's, armed by a timer): a socket that never
//!   finishes its request head — on a new or an idle keep-alive connection —
//!   is closed after [`HEADER_READ_TIMEOUT`]; trickling bytes does not extend it.
//! * A cap on open connections, derived from the file-descriptor limit (which
//!   is first raised from its soft to its hard value), so sockets held open
//!   by a local process cannot exhaust descriptors. At the cap a newcomer is
//!   still served: the longest-idle connection of the peer holding the most
//!   idle ones is closed for it ([`super::connections`]); only when every
//!   connection is answering a request does the newcomer wait.
//! * TCP_NODELAY on every accepted socket (without it chunked SSE replies stall
//!   ~40 ms on delayed ACKs).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::connections::{Connections, Tracked};

/// How long a client may take to send a request head (counted from the
/// connection's accept, or from the end of its previous response).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
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
/// finish their current request (bounded). At most `cap` connections are open;
/// past that the longest-idle one gives way ([`Connections`]).
pub async fn run(listener: TcpListener, app: Router, shutdown: CancellationToken, cap: usize) {
    let open = Arc::new(Connections::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let tasks = TaskTracker::new();
    loop {
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
        tokio::select! {
            () = open.make_room(cap) => {}
            () = shutdown.cancelled() => break,
        }
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let this = Arc::new(open.register(peer.ip()));
        let evicted = this.evicted.clone();
        let app = app.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            // Busy from the parsed head until the response body is done.
            let busy = this.busy();
            let mut req = req.map(Body::new);
            // The peer address, for routes that answer this machine only.
            req.extensions_mut().insert(ConnectInfo(peer));
            let reply = app.clone().oneshot(req);
            async move {
                let res: Result<_, Infallible> = reply.await;
                res.map(|r| r.map(|body| Tracked::new(body, busy)))
            }
        });
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = evicted.cancelled() => {}
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
}
