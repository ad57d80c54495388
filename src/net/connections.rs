//! The open connections of one listener, and which one gives way when they
//! reach the cap.
//!
//! A connection is *busy* while a request on it is being answered (from its
//! parsed head until its response body is done or dropped) and *idle*
//! otherwise: before its first request head has arrived, and between
//! keep-alive requests. Only idle connections are ever evicted, so a request
//! once read is always answered.
//!
//! When a newcomer finds the listener full, the peer address holding the most
//! idle connections gives up its longest-idle one (on loopback every local
//! process shares 127.0.0.1, so that is simply the longest-idle connection). A
//! local process holding any number of silent or trickling sockets therefore
//! cannot keep a browser out: each new connection pushes the oldest silent one
//! out, and the browser's, which sends its request at once, is busy before
//! `cap` newer connections can follow it. Only when every connection is busy
//! does a newcomer wait for one to finish.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use hyper::body::{Frame, SizeHint};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One open connection.
struct Entry {
    peer: IpAddr,
    /// Requests being answered on it.
    busy: usize,
    /// When it last became idle (its accept time before any request).
    idle_since: Instant,
    /// Cancelled to evict it.
    evict: CancellationToken,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Entry>,
}

/// The open connections of one listener.
#[derive(Default)]
pub struct Connections {
    table: Mutex<Table>,
    /// Signalled when a connection closes or becomes idle.
    changed: Notify,
}

/// A connection's place in [`Connections`]; removes it when dropped.
pub struct Registered {
    conns: Arc<Connections>,
    id: u64,
    /// Cancelled when the connection is evicted: drop it then.
    pub evicted: CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if self.conns.lock().open.remove(&self.id).is_some() {
            self.conns.changed.notify_waiters();
        }
    }
}

/// Marks its connection busy while alive (moved into the response body).
pub struct Busy {
    conns: Arc<Connections>,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut t = self.conns.lock();
        if let Some(e) = t.open.get_mut(&self.id) {
            e.busy = e.busy.saturating_sub(1);
            if e.busy == 0 {
                e.idle_since = Instant::now();
                drop(t);
                self.conns.changed.notify_waiters();
            }
        }
    }
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until fewer than `cap` connections are open, evicting idle ones
    /// (see the module docs); returns at once when there is room.
    pub async fn make_room(&self, cap: usize) {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if self.evict_down_to(cap) {
                return;
            }
            changed.await;
        }
    }

    /// Evicts idle connections until fewer than `cap` are open; false when
    /// the rest are all busy.
    fn evict_down_to(&self, cap: usize) -> bool {
        let mut t = self.lock();
        while t.open.len() >= cap {
            let Some(id) = victim(&t.open) else {
                return false;
            };
            if let Some(e) = t.open.remove(&id) {
                tracing::debug!(peer = %e.peer, open = t.open.len(), "connection cap reached: closed the longest-idle connection");
                e.evict.cancel();
            }
        }
        true
    }

    /// Registers a newly accepted connection from `peer` (idle until its first request).
    pub fn register(self: &Arc<Self>, peer: IpAddr) -> Registered {
        let evicted = CancellationToken::new();
        let mut t = self.lock();
        t.next += 1;
        let id = t.next;
        t.open.insert(
            id,
            Entry {
                peer,
                busy: 0,
                idle_since: Instant::now(),
                evict: evicted.clone(),
            },
        );
        Registered {
            conns: self.clone(),
            id,
            evicted,
        }
    }
}

impl Registered {
    /// Marks the connection busy until the returned guard drops.
    pub fn busy(&self) -> Busy {
        if let Some(e) = self.conns.lock().open.get_mut(&self.id) {
            e.busy += 1;
        }
        Busy {
            conns: self.conns.clone(),
            id: self.id,
        }
    }
}

/// The idle connection to evict: the longest-idle one of the peer holding
/// the most idle connections.
fn victim(open: &HashMap<u64, Entry>) -> Option<u64> {
    let mut idle_per_peer: HashMap<IpAddr, usize> = HashMap::new();
    for e in open.values().filter(|e| e.busy == 0) {
        *idle_per_peer.entry(e.peer).or_default() += 1;
    }
    let (&peer, _) = idle_per_peer.iter().max_by_key(|(_, n)| **n)?;
    open.iter()
        .filter(|(_, e)| e.busy == 0 && e.peer == peer)
        .min_by_key(|(id, e)| (e.idle_since, **id))
        .map(|(id, _)| *id)
}

/// A response body that keeps its connection busy until it is done or dropped.
pub struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl Tracked {
    /// `inner`, holding `busy` for as long as it is being sent.
    pub fn new(inner: Body, busy: Busy) -> Self {
        Self { inner, _busy: busy }
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[tokio::test]
    async fn the_longest_idle_connection_gives_way_and_busy_ones_never_do() {
        let conns = Arc::new(Connections::default());
        let a = conns.register(ip(1));
        let b = conns.register(ip(1));
        let busy = b.busy();
        conns.make_room(2).await;
        assert!(a.evicted.is_cancelled(), "the idle one was evicted");
        assert!(!b.evicted.is_cancelled());
        assert_eq!(conns.lock().open.len(), 1);
        // Only busy connections left at the cap: the newcomer waits...
        let c = conns.register(ip(2));
        let _busy_c = c.busy();
        let waiting = tokio::spawn({
            let conns = conns.clone();
            async move { conns.make_room(2).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        // ...until one becomes idle, and is evicted.
        drop(busy);
        waiting.await.unwrap();
        assert!(b.evicted.is_cancelled());
        assert!(!c.evicted.is_cancelled());
        drop(c);
        assert!(conns.lock().open.is_empty());
    }

    #[test]
    fn the_peer_with_the_most_idle_connections_pays() {
        let conns = Arc::new(Connections::default());
        let first = conns.register(ip(1));
        let crowd: Vec<_> = (0..3).map(|_| conns.register(ip(2))).collect();
        assert!(conns.evict_down_to(4));
        assert!(
            !first.evicted.is_cancelled(),
            "the older lone connection stays"
        );
        assert!(crowd[0].evicted.is_cancelled());
        assert!(!crowd[1].evicted.is_cancelled());
    }
}
