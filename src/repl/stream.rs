//! The bytes on their way to one replica: a channel from the stream (fed under the keyspace
//! lock by `feed`) to the task that writes the replica's socket, with the output-buffer
//! accounting of `client-output-buffer-limit replica`; beside it, the sync machine's actions
//! for that replica (replies, the dump, start of the stream), which come ahead of the stream.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::serve::ReplicaAction;

/// The sending side of a replica's stream, with its output-buffer accounting
/// (`client-output-buffer-limit replica`: past the hard limit the replica is dropped).
#[derive(Debug, Clone)]
pub struct StreamSink {
    tx: mpsc::UnboundedSender<Bytes>,
    actions: mpsc::UnboundedSender<ReplicaAction>,
    /// The replica's socket, for a child that writes a snapshot straight to it (diskless).
    fd: Option<i32>,
    queued: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    limit: usize,
}

/// The receiving side, owned by the link task.
#[derive(Debug)]
pub struct StreamSource {
    rx: mpsc::UnboundedReceiver<Bytes>,
    actions: Option<Actions>,
    queued: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
}

/// A linked sink/source with a hard limit in bytes (0 = none).
pub fn stream_channel(limit: usize) -> (StreamSink, StreamSource) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (actions_tx, actions_rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let overflowed = Arc::new(AtomicBool::new(false));
    (
        StreamSink {
            tx,
            actions: actions_tx,
            fd: None,
            queued: queued.clone(),
            overflowed: overflowed.clone(),
            limit,
        },
        StreamSource {
            rx,
            actions: Some(Actions(actions_rx)),
            queued,
            overflowed,
        },
    )
}

impl StreamSink {
    /// Records the replica's socket (see [`StreamSink::fd`]).
    pub fn with_fd(mut self, fd: i32) -> StreamSink {
        self.fd = Some(fd);
        self
    }

    /// The replica's socket, if the driver has one.
    pub fn fd(&self) -> Option<i32> {
        self.fd
    }

    /// Hands an action of the sync machine to the replica's task.
    pub fn act(&self, action: ReplicaAction) {
        let _ = self.actions.send(action);
    }

    pub fn send(&self, bytes: Bytes) {
        if self.overflowed.load(Ordering::Relaxed) {
            return;
        }
        let queued = self.queued.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if self.limit > 0 && queued > self.limit {
            self.overflowed.store(true, Ordering::Relaxed);
            return;
        }
        let _ = self.tx.send(bytes);
    }
}

impl StreamSource {
    /// The next bytes to send, if any are queued (for a driver that polls).
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let bytes = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
        Some(bytes)
    }

    /// The next bytes to send, once queued.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let bytes = self.rx.recv().await?;
        self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
        Some(bytes)
    }

    /// The sync machine's actions for this replica, to be received beside the stream (once).
    pub fn take_actions(&mut self) -> Option<Actions> {
        self.actions.take()
    }

    /// True once the sink passed its limit: the link must be dropped.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}

/// The receiving side of the sync machine's actions for one replica.
#[derive(Debug)]
pub struct Actions(mpsc::UnboundedReceiver<ReplicaAction>);

impl Actions {
    /// The next action, once sent.
    pub async fn recv(&mut self) -> Option<ReplicaAction> {
        self.0.recv().await
    }
}
