//! Pub/Sub: who is subscribed to which channel or pattern, and message delivery.
//!
//! Follows `pubsub.c`. Each subscribed connection owns a [`PushSink`]: an unbounded queue whose
//! byte size is accounted, so that a subscriber that stops reading is disconnected when it
//! passes `client-output-buffer-limit pubsub` (hard limit; the connection task sets it from
//! the config and checks the soft limit) instead of growing memory without bound. Publishing
//! never waits on a subscriber.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::engine::ClientId;
use crate::resp::Reply;

/// Hard limit on a subscriber's queued bytes (Redis's default `pubsub 32mb`).
pub const PUBSUB_HARD_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// The sending side of a connection's out-of-band message queue.
#[derive(Debug, Clone)]
pub struct PushSink {
    tx: mpsc::UnboundedSender<Reply>,
    queued_bytes: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    /// Hard limit in bytes (0: none), shared with the source, which may change it.
    limit: Arc<AtomicUsize>,
}

/// The receiving side, owned by the connection task.
#[derive(Debug)]
pub struct PushSource {
    pub rx: mpsc::UnboundedReceiver<Reply>,
    queued_bytes: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    limit: Arc<AtomicUsize>,
}

/// Creates a linked sink/source pair with a hard limit in bytes (0 = no limit).
pub fn push_channel(limit: usize) -> (PushSink, PushSource) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let overflowed = Arc::new(AtomicBool::new(false));
    let limit = Arc::new(AtomicUsize::new(limit));
    (
        PushSink {
            tx,
            queued_bytes: queued_bytes.clone(),
            overflowed: overflowed.clone(),
            limit: limit.clone(),
        },
        PushSource {
            rx,
            queued_bytes,
            overflowed,
            limit,
        },
    )
}

fn approximate_size(reply: &Reply) -> usize {
    match reply {
        Reply::Bulk(b) | Reply::Simple(b) | Reply::Verbatim(b) => b.len() + 16,
        Reply::Str(s) => s.len() + 16,
        Reply::Bulks(bulks) => bulks.encoded_len() + 16,
        Reply::Array(items) | Reply::Push(items) => {
            items.iter().map(approximate_size).sum::<usize>() + 16
        }
        _ => 16,
    }
}

impl PushSink {
    /// Queues a message. Returns false if the receiver is gone or the limit was passed (the
    /// connection will then be closed by its task).
    pub fn send(&self, reply: Reply) -> bool {
        if self.overflowed.load(Ordering::Relaxed) {
            return false;
        }
        let size = approximate_size(&reply);
        let queued = self.queued_bytes.fetch_add(size, Ordering::Relaxed) + size;
        let limit = self.limit.load(Ordering::Relaxed);
        if limit > 0 && queued > limit {
            self.overflowed.store(true, Ordering::Relaxed);
            return false;
        }
        self.tx.send(reply).is_ok()
    }
}

impl PushSource {
    /// Accounts a message as written to the socket.
    pub fn delivered(&self, reply: &Reply) {
        self.queued_bytes
            .fetch_sub(approximate_size(reply), Ordering::Relaxed);
    }

    /// True once the queue passed its hard limit.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Bytes queued and not yet written (approximately, as Redis counts reply objects).
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    /// Sets the hard limit (`client-output-buffer-limit` of the client's class; 0: none).
    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }
}

/// The kind of the push that tells a client it was unsubscribed from a sharded channel. The
/// confirmations of a client's own SUNSUBSCRIBE are replies, never pushes on its queue, so a
/// push of this kind always comes from [`PubSub::remove_shard_channels`].
const SERVER_SUNSUBSCRIBE: &[u8] = b"sunsubscribe";

/// Channel and pattern subscriptions of every client.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: HashMap<Bytes, HashMap<ClientId, PushSink>>,
    patterns: HashMap<Bytes, HashMap<ClientId, PushSink>>,
    /// Sharded channels (SSUBSCRIBE), a namespace of their own.
    shard_channels: HashMap<Bytes, HashMap<ClientId, PushSink>>,
}

impl PubSub {
    /// Subscribes; returns false if it already was.
    pub fn subscribe(&mut self, channel: Bytes, client: ClientId, sink: &PushSink) -> bool {
        self.channels
            .entry(channel)
            .or_default()
            .insert(client, sink.clone())
            .is_none()
    }

    pub fn unsubscribe(&mut self, channel: &[u8], client: ClientId) -> bool {
        let Some(subs) = self.channels.get_mut(channel) else {
            return false;
        };
        let removed = subs.remove(&client).is_some();
        if subs.is_empty() {
            self.channels.remove(channel);
        }
        removed
    }

    pub fn psubscribe(&mut self, pattern: Bytes, client: ClientId, sink: &PushSink) -> bool {
        self.patterns
            .entry(pattern)
            .or_default()
            .insert(client, sink.clone())
            .is_none()
    }

    pub fn punsubscribe(&mut self, pattern: &[u8], client: ClientId) -> bool {
        let Some(subs) = self.patterns.get_mut(pattern) else {
            return false;
        };
        let removed = subs.remove(&client).is_some();
        if subs.is_empty() {
            self.patterns.remove(pattern);
        }
        removed
    }

    /// SSUBSCRIBE; returns false if it already was.
    pub fn ssubscribe(&mut self, channel: Bytes, client: ClientId, sink: &PushSink) -> bool {
        self.shard_channels
            .entry(channel)
            .or_default()
            .insert(client, sink.clone())
            .is_none()
    }

    pub fn sunsubscribe(&mut self, channel: &[u8], client: ClientId) -> bool {
        let Some(subs) = self.shard_channels.get_mut(channel) else {
            return false;
        };
        let removed = subs.remove(&client).is_some();
        if subs.is_empty() {
            self.shard_channels.remove(channel);
        }
        removed
    }

    /// Delivers `message` to the subscribers of a sharded channel (`smessage`).
    pub fn spublish(&self, channel: &Bytes, message: &Bytes) -> i64 {
        let Some(subs) = self.shard_channels.get(channel) else {
            return 0;
        };
        for sink in subs.values() {
            sink.send(Reply::Push(vec![
                Reply::Bulk(Bytes::from_static(b"smessage")),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(message.clone()),
            ]));
        }
        subs.len() as i64
    }

    /// Active sharded channels matching `pattern` (PUBSUB SHARDCHANNELS).
    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.shard_channels
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of a sharded channel (PUBSUB SHARDNUMSUB).
    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        self.shard_channels.get(channel).map_or(0, |s| s.len())
    }

    /// Delivers `message` on `channel`; returns how many clients received it (PUBLISH's reply).
    pub fn publish(&self, channel: &Bytes, message: &Bytes) -> i64 {
        let mut receivers = 0;
        if let Some(subs) = self.channels.get(channel) {
            for sink in subs.values() {
                let push = Reply::Push(vec![
                    Reply::Bulk(Bytes::from_static(b"message")),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                sink.send(push);
                receivers += 1;
            }
        }
        for (pattern, subs) in &self.patterns {
            if !crate::glob::glob_match(pattern, channel, false) {
                continue;
            }
            for sink in subs.values() {
                let push = Reply::Push(vec![
                    Reply::Bulk(Bytes::from_static(b"pmessage")),
                    Reply::Bulk(pattern.clone()),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                sink.send(push);
                receivers += 1;
            }
        }
        receivers
    }

    /// Active channels matching `pattern` (PUBSUB CHANNELS).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of `channel` (PUBSUB NUMSUB).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map_or(0, |s| s.len())
    }

    /// Number of distinct patterns (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    /// The node's shard stopped serving some slots: every sharded channel in one of them
    /// (`lost(slot)`) loses all its subscribers, each told with a `sunsubscribe` push
    /// (Redis's `removeChannelsInSlot`). The push carries a count of 0; the subscriber's
    /// connection removes the channel from its session and writes its own remaining count
    /// ([`PubSub::server_sunsubscribed`]). Returns how many channels were removed.
    pub fn remove_shard_channels(&mut self, lost: impl Fn(u16) -> bool) -> usize {
        let mut gone: Vec<(u16, Bytes)> = self
            .shard_channels
            .keys()
            .map(|c| (crate::store::slots::key_slot(c), c.clone()))
            .filter(|(slot, _)| lost(*slot))
            .collect();
        // Redis walks its slot-to-channels index: by slot, then by channel name.
        gone.sort();
        for (_, channel) in &gone {
            let Some(subs) = self.shard_channels.remove(channel) else {
                continue;
            };
            for sink in subs.values() {
                sink.send(Reply::Push(vec![
                    Reply::Bulk(Bytes::from_static(SERVER_SUNSUBSCRIBE)),
                    Reply::Bulk(channel.clone()),
                    Reply::Int(0),
                ]));
            }
        }
        gone.len()
    }

    /// The channel of a `sunsubscribe` push the server sent on its own
    /// ([`PubSub::remove_shard_channels`]); `None` for any other push.
    pub fn server_sunsubscribed(push: &Reply) -> Option<&Bytes> {
        match push {
            Reply::Push(items) => match items.as_slice() {
                [Reply::Bulk(kind), Reply::Bulk(channel), Reply::Int(_)]
                    if kind.as_ref() == SERVER_SUNSUBSCRIBE =>
                {
                    Some(channel)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Channel and pattern counts for INFO stats (`pubsub_channels`, `pubsub_patterns`).
    pub fn counts(&self) -> (usize, usize) {
        (self.channels.len(), self.patterns.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers() {
        let mut hub = PubSub::default();
        let (sink, mut source) = push_channel(0);
        hub.subscribe(Bytes::from("news"), 1, &sink);
        hub.psubscribe(Bytes::from("n*"), 1, &sink);
        assert_eq!(hub.publish(&Bytes::from("news"), &Bytes::from("hi")), 2);
        assert_eq!(hub.publish(&Bytes::from("other"), &Bytes::from("hi")), 0);
        let first = source.rx.try_recv().unwrap();
        assert!(matches!(&first, Reply::Push(items) if items.len() == 3));
        let second = source.rx.try_recv().unwrap();
        assert!(matches!(&second, Reply::Push(items) if items.len() == 4));
    }

    #[test]
    fn losing_a_slot_unsubscribes_its_shard_channels_only() {
        let mut hub = PubSub::default();
        let (sink, mut source) = push_channel(0);
        // `{name}x` is in slot 5798, as `name`; `other` is in another slot.
        hub.ssubscribe(Bytes::from("{name}x"), 1, &sink);
        hub.ssubscribe(Bytes::from("other"), 1, &sink);
        hub.subscribe(Bytes::from("{name}x"), 1, &sink);
        assert_eq!(hub.remove_shard_channels(|slot| slot == 5798), 1);
        assert_eq!(hub.shard_channels(None), [Bytes::from("other")]);
        assert_eq!(hub.numsub(b"{name}x"), 1, "plain channels are not sharded");
        let push = source.rx.try_recv().unwrap();
        assert_eq!(
            PubSub::server_sunsubscribed(&push),
            Some(&Bytes::from("{name}x"))
        );
        assert!(source.rx.try_recv().is_err());
        assert_eq!(hub.spublish(&Bytes::from("{name}x"), &Bytes::from("m")), 0);
        let message = Reply::Push(vec![
            Reply::Bulk(Bytes::from_static(b"smessage")),
            Reply::Bulk(Bytes::from("c")),
            Reply::Bulk(Bytes::from("m")),
        ]);
        assert_eq!(PubSub::server_sunsubscribed(&message), None);
    }

    #[test]
    fn a_subscriber_past_its_limit_is_cut_off() {
        let (sink, source) = push_channel(100);
        let big = Reply::Push(vec![Reply::Bulk(Bytes::from(vec![0u8; 200]))]);
        assert!(!sink.send(big));
        assert!(source.overflowed());
    }
}
