//! The bytes on their way to one replica: a channel from the stream (fed under the keyspace
//! lock by `feed`) to the task that writes the replica's socket, with the output-buffer
//! accounting of `client-output-buffer-limit replica`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

/// The sending side of a replica's stream, with its output-buffer accounting
/// (`client-output-buffer-limit replica`: past the hard limit the replica is dropped).
#[derive(Debug, Clone)]
pub struct StreamSink {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    limit: usize,
}

/// The receiving side, owned by the link task.
#[derive(Debug)]
pub struct StreamSource {
    rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
}

/// A linked sink/source with a hard limit in bytes (0 = none).
pub fn stream_channel(limit: usize) -> (StreamSink, StreamSource) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let overflowed = Arc::new(AtomicBool::new(false));
    (
        StreamSink {
            tx,
            queued: queued.clone(),
            overflowed: overflowed.clone(),
            limit,
        },
        StreamSource {
            rx,
            queued,
            overflowed,
        },
    )
}

impl StreamSink {
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

    /// True once the sink passed its limit: the link must be dropped.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}
