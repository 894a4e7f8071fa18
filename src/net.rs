//! Peer links through one layer with a fault table: how a lab breaks the network between real
//! processes without root.
//!
//! Every node-to-node connection (the replica's link to its master, and the master's side of
//! it; the cluster bus; a Sentinel's command and pub/sub links to masters and replicas and
//! its links to other Sentinels, through `client::connection::Client::connect_peer`) is wrapped in a [`PeerStream`], named by the
//! peer's listening address (`127.0.0.1:6380`). The node's [`FaultTable`] says, per peer and
//! per direction, whether traffic is cut or delayed. A cut direction stalls, as a partitioned
//! TCP connection does: nothing is read (it waits in the kernel), nothing is written (the
//! writer waits), so the timeouts above — `repl-timeout`, output-buffer limits — fire exactly
//! as they would on a real partition, and a heal lets the held bytes flow. A delay holds each
//! write for that long.
//!
//! The table exists only on a node started with `redislab server ... --lab-faults` (or
//! `redislab sentinel ... --lab-faults`); a node started normally has none, and the
//! `REDISLAB FAULT` command that edits it is unknown there (see `cmd::lab`). The simulator
//! applies the same cut/heal/delay vocabulary to its virtual network.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How often a stalled direction looks at the table again.
const RECHECK: Duration = Duration::from_millis(50);

/// What is done to traffic with one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fault {
    /// Nothing from the peer is read.
    pub cut_in: bool,
    /// Nothing to the peer is written.
    pub cut_out: bool,
    /// Every write to the peer waits this long first.
    pub delay_ms: u64,
}

/// The faults a node applies, by peer address (`host:port`).
#[derive(Debug, Default)]
pub struct FaultTable {
    rules: Mutex<BTreeMap<String, Fault>>,
}

impl FaultTable {
    pub fn get(&self, peer: &str) -> Fault {
        self.rules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(peer)
            .copied()
            .unwrap_or_default()
    }

    /// Changes the rule for `peer`; an all-clear rule is removed.
    pub fn update(&self, peer: &str, change: impl FnOnce(&mut Fault)) {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let rule = rules.entry(peer.to_string()).or_default();
        change(rule);
        if *rule == Fault::default() {
            rules.remove(peer);
        }
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Every rule, by peer.
    pub fn rules(&self) -> Vec<(String, Fault)> {
        let rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        rules.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// A connection to a peer, subject to the node's fault table (if it has one).
#[derive(Debug)]
pub struct PeerStream<S> {
    inner: S,
    peer: String,
    table: Option<Arc<FaultTable>>,
    read_wait: Option<Pin<Box<Sleep>>>,
    /// While a direction is cut: when to look at the table again.
    write_wait: Option<Pin<Box<Sleep>>>,
    /// The delay the current write is held for.
    write_delay: Option<Pin<Box<Sleep>>>,
    /// A delayed write whose wait is over may go through.
    write_ready: bool,
}

impl<S> PeerStream<S> {
    /// Wraps `inner`, a connection to `peer` (its listening address).
    pub fn new(inner: S, peer: String, table: Option<Arc<FaultTable>>) -> PeerStream<S> {
        PeerStream {
            inner,
            peer,
            table,
            read_wait: None,
            write_wait: None,
            write_delay: None,
            write_ready: false,
        }
    }

    /// The connection inside (for its addresses, or a raw fd a forked child writes to).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Names the peer once it is known (a replica says its port with `REPLCONF`).
    pub fn set_peer(&mut self, peer: String) {
        self.peer = peer;
    }

    fn fault(&self) -> Fault {
        self.table
            .as_ref()
            .map(|t| t.get(&self.peer))
            .unwrap_or_default()
    }
}

/// Polls `wait` (creating it for `duration` if absent); Ready once it fired.
fn poll_wait(
    wait: &mut Option<Pin<Box<Sleep>>>,
    duration: Duration,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let sleep = wait.get_or_insert_with(|| Box::pin(tokio::time::sleep(duration)));
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *wait = None;
            Poll::Ready(())
        }
        Poll::Pending => Poll::Pending,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PeerStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.fault().cut_in {
            if poll_wait(&mut this.read_wait, RECHECK, cx).is_pending() {
                return Poll::Pending;
            }
        }
        this.read_wait = None;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PeerStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            let fault = this.fault();
            if fault.cut_out {
                if poll_wait(&mut this.write_wait, RECHECK, cx).is_pending() {
                    return Poll::Pending;
                }
                continue;
            }
            this.write_wait = None;
            if fault.delay_ms > 0 && !this.write_ready {
                let delay = Duration::from_millis(fault.delay_ms);
                if poll_wait(&mut this.write_delay, delay, cx).is_pending() {
                    return Poll::Pending;
                }
                this.write_ready = true;
            }
            break;
        }
        let result = Pin::new(&mut this.inner).poll_write(cx, data);
        if result.is_ready() {
            this.write_ready = false;
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_cut_stalls_a_direction_until_the_heal_and_a_delay_holds_writes() {
        let table = Arc::new(FaultTable::default());
        let (a, mut b) = tokio::io::duplex(1024);
        let mut a = PeerStream::new(a, "127.0.0.1:6380".into(), Some(table.clone()));
        table.update("127.0.0.1:6380", |f| f.cut_out = true);
        let write = tokio::spawn(async move {
            a.write_all(b"held").await.unwrap();
            a
        });
        let mut got = [0u8; 4];
        let read = tokio::time::timeout(Duration::from_secs(5), b.read_exact(&mut got)).await;
        assert!(read.is_err(), "nothing crosses a cut");
        table.update("127.0.0.1:6380", |f| f.cut_out = false);
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"held");
        let mut a = write.await.unwrap();
        assert!(table.rules().is_empty(), "a healed rule is gone");

        table.update("127.0.0.1:6380", |f| f.delay_ms = 300);
        let started = tokio::time::Instant::now();
        a.write_all(b"late").await.unwrap();
        b.read_exact(&mut got).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));

        table.update("127.0.0.1:6380", |f| f.cut_in = true);
        b.write_all(b"in").await.unwrap();
        let mut two = [0u8; 2];
        assert!(
            tokio::time::timeout(Duration::from_secs(5), a.read_exact(&mut two))
                .await
                .is_err()
        );
        table.clear();
        a.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"in");
    }

    #[tokio::test]
    async fn without_a_table_nothing_changes() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = PeerStream::new(a, "x:1".into(), None);
        a.write_all(b"ok").await.unwrap();
        let mut got = [0u8; 2];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ok");
    }
}
