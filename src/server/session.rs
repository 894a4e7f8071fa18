//! [`Session`]: one connection's state as commands see it — selected db, protocol version,
//! authentication, MULTI queue, watched keys, subscriptions.
//!
//! The connection task owns its session and lends it to each command; a blocked client's
//! session is rebuilt from its [`Waiter`](super::engine::Waiter) record when it is served.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;

use crate::resp::Reply;

use super::clients::ClientHandle;
use super::engine::ClientId;
use super::pubsub::{PushSink, PushSource};
use super::Shared;

/// A MULTI block being queued.
#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<Vec<Bytes>>,
    /// A queued command was rejected (unknown, wrong arity): EXEC answers EXECABORT.
    pub failed: bool,
}

/// `REPLCONF listening-port` / `capa` as a replica announced them.
#[derive(Debug, Default, Clone)]
pub struct ReplConf {
    pub listening_port: Option<u16>,
    pub capa_eof: bool,
    pub capa_psync2: bool,
}

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    pub id: ClientId,
    /// `ip:port` of the peer, for MONITOR lines and logs.
    pub addr: String,
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    pub name: Option<Bytes>,
    pub multi: Option<MultiState>,
    pub watched: Vec<(usize, Bytes)>,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// Sharded channels (SSUBSCRIBE).
    pub shard_channels: HashSet<Bytes>,
    pub monitor: bool,
    /// Name of the last command run (`cmd=` in CLIENT LIST).
    pub last_command: &'static str,
    /// Set when this connection is our master's replication link: its writes are applied even
    /// though we are a read-only replica, and it gets no replies.
    pub is_master_link: bool,
    /// Whether its writes are queued for the AOF and replicas (not when replaying the AOF).
    pub propagates: bool,
    /// When false, blocking commands answer at once instead of blocking (inside MULTI, or when
    /// a blocked client is being served).
    pub may_block: bool,
    pub handle: Option<Arc<ClientHandle>>,
    /// What a replica told us with REPLCONF before PSYNC.
    pub replconf: ReplConf,
    push: Option<PushSink>,
    /// The receiving end of `push`, until the connection task takes it.
    pub push_source: Option<PushSource>,
    /// `CLIENT REPLY`: whether replies reach the client.
    pub reply_mode: ReplyMode,
    /// Cluster: ASKING was sent; the next command may use an importing slot.
    pub asking: bool,
    /// Cluster: READONLY was sent; a replica serves reads of its master's slots.
    pub cluster_readonly: bool,
    /// A transaction was aborted while the keyspace was locked by a busy script: its WATCHes
    /// are dropped by the next command that holds the lock.
    pub stale_watches: bool,
    /// A Lua script is running commands on this session (`CLIENT_SCRIPT`).
    pub in_script: bool,
}

/// `CLIENT REPLY ON|OFF|SKIP` state (Redis's `CLIENT_REPLY_OFF`, `_SKIP_NEXT`, `_SKIP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Set by `CLIENT REPLY SKIP`: the next command's reply is dropped.
    SkipNext,
    /// The current command's reply is dropped.
    Skip,
}

impl Session {
    /// The session a replica applies its master's stream in: authenticated, never blocking,
    /// and marked as the master link (no read-only check; its writes reach our AOF, and our
    /// own replicas get the master's bytes instead).
    pub fn master_link() -> Session {
        let mut session = Session::new(0, "master".into(), true);
        session.is_master_link = true;
        session.may_block = false;
        session
    }

    /// The session the AOF is replayed in at start-up: applied as recorded, with no read-only
    /// check, never blocking, and not written back to the AOF.
    pub fn aof_loader() -> Session {
        let mut session = Session::master_link();
        session.addr = "aof".into();
        session.propagates = false;
        session
    }

    pub fn new(id: ClientId, addr: String, authenticated: bool) -> Session {
        Session {
            id,
            addr,
            db: 0,
            resp3: false,
            authenticated,
            name: None,
            multi: None,
            watched: Vec::new(),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: HashSet::new(),
            monitor: false,
            last_command: "NULL",
            is_master_link: false,
            propagates: true,
            may_block: true,
            handle: None,
            replconf: ReplConf::default(),
            push: None,
            push_source: None,
            reply_mode: ReplyMode::On,
            asking: false,
            cluster_readonly: false,
            stale_watches: false,
            in_script: false,
        }
    }

    /// The out-of-band message queue (pub/sub, MONITOR), created on first use.
    pub fn push_sink(&mut self) -> PushSink {
        if self.push.is_none() {
            let (sink, source) = super::new_push_channel();
            self.push = Some(sink);
            self.push_source = Some(source);
        }
        self.push.clone().expect("created above")
    }

    /// Number of channel and pattern subscriptions (pub/sub replies report it).
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Marks the start of a command for `CLIENT REPLY SKIP` (the command after SKIP loses its
    /// reply).
    pub fn start_command(&mut self) {
        match self.reply_mode {
            ReplyMode::Skip => self.reply_mode = ReplyMode::On,
            ReplyMode::SkipNext => self.reply_mode = ReplyMode::Skip,
            _ => {}
        }
    }

    /// What of `reply` reaches the client under `CLIENT REPLY`: everything, or only the push
    /// messages (pub/sub confirmations are pushes and always delivered, as in Redis).
    pub fn filter_reply(&self, reply: Reply) -> Reply {
        match self.reply_mode {
            ReplyMode::On | ReplyMode::SkipNext => reply,
            ReplyMode::Off | ReplyMode::Skip => match reply {
                Reply::Push(_) => reply,
                Reply::Many(parts) => Reply::Many(
                    parts
                        .into_iter()
                        .filter(|p| matches!(p, Reply::Push(_)))
                        .collect(),
                ),
                _ => Reply::None,
            },
        }
    }

    /// True in RESP2 pub/sub mode, where only (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT and RESET
    /// are allowed.
    pub fn in_pubsub_mode(&self) -> bool {
        !self.resp3 && (self.subscription_count() > 0 || !self.shard_channels.is_empty())
    }
}

/// Releases what a closing connection held: watches, subscriptions, MONITOR, a blocked pop,
/// a client pause's hold, its entry in the client list.
pub fn release(shared: &Shared, session: &mut Session) {
    {
        let mut engine = shared.engine();
        engine.unwatch_all(session.id, &session.watched);
        engine.unblock(session.id);
        engine.resume(session.id);
    }
    if !session.channels.is_empty()
        || !session.patterns.is_empty()
        || !session.shard_channels.is_empty()
    {
        let mut pubsub = shared.pubsub();
        for channel in session.shard_channels.drain() {
            pubsub.sunsubscribe(&channel, session.id);
        }
        for channel in session.channels.drain() {
            pubsub.unsubscribe(&channel, session.id);
        }
        for pattern in session.patterns.drain() {
            pubsub.punsubscribe(&pattern, session.id);
        }
    }
    if session.monitor {
        shared.remove_monitor(session.id);
    }
    shared.clients.unregister(session.id);
}
