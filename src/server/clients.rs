//! The connected clients, as `CLIENT LIST`, `CLIENT KILL` and `INFO clients` see them.
//!
//! Each connection registers a [`ClientHandle`]; its task updates the handle's metadata once per
//! batch of commands (not once per command) and watches the handle's kill flag.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use super::engine::ClientId;

/// Redis 7.0's notion of a local client (protected mode, `enable-debug-command local`):
/// exactly 127.0.0.1 or ::1, as Redis compares the peer's address text — 127.0.0.2 is
/// loopback but not local. An IPv4-mapped 127.0.0.1 from a dual-stack socket counts.
pub fn is_local_peer(peer: &SocketAddr) -> bool {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match peer.ip() {
        IpAddr::V4(ip) => ip == Ipv4Addr::LOCALHOST,
        IpAddr::V6(ip) => {
            ip == Ipv6Addr::LOCALHOST || ip.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST)
        }
    }
}

/// What kind of connection a client is (`CLIENT KILL TYPE`, the `flags` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    Pubsub,
    /// A replica connected to us (after PSYNC/SYNC).
    Replica,
    /// Our link to our master.
    Master,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Normal => "normal",
            ClientKind::Pubsub => "pubsub",
            ClientKind::Replica => "replica",
            ClientKind::Master => "master",
        }
    }
}

/// Metadata shown by CLIENT LIST, updated by the connection task.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub name: Option<Bytes>,
    pub db: usize,
    pub kind: ClientKind,
    /// The last command's name (`cmd=`).
    pub last_command: &'static str,
    pub last_interaction: Instant,
    pub subscriptions: usize,
    pub patterns: usize,
    /// Queued commands if in MULTI, else -1.
    pub multi: i64,
    pub resp: u8,
    pub blocked: bool,
    pub monitor: bool,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
}

/// A registered connection.
#[derive(Debug)]
pub struct ClientHandle {
    pub id: ClientId,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created: Instant,
    pub meta: Mutex<ClientMeta>,
    killed: AtomicBool,
    kill_notify: Notify,
}

impl ClientHandle {
    pub fn new(id: ClientId, addr: SocketAddr, laddr: SocketAddr) -> ClientHandle {
        let now = Instant::now();
        ClientHandle {
            id,
            addr,
            laddr,
            created: now,
            meta: Mutex::new(ClientMeta {
                name: None,
                db: 0,
                kind: ClientKind::Normal,
                last_command: "NULL",
                last_interaction: now,
                subscriptions: 0,
                patterns: 0,
                multi: -1,
                resp: 2,
                blocked: false,
                monitor: false,
                lib_name: None,
                lib_ver: None,
            }),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
        }
    }

    pub fn meta(&self) -> std::sync::MutexGuard<'_, ClientMeta> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the connection to close (CLIENT KILL, SHUTDOWN, output limits).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves when the connection is asked to close.
    pub async fn killed(&self) {
        loop {
            if self.is_killed() {
                return;
            }
            self.kill_notify.notified().await;
        }
    }

    /// The CLIENT LIST / CLIENT INFO line for this client (Redis 7.0 field order).
    pub fn info_line(&self) -> String {
        let meta = self.meta();
        let now = Instant::now();
        let mut flags = String::new();
        match meta.kind {
            ClientKind::Replica => flags.push('S'),
            ClientKind::Master => flags.push('M'),
            _ => {}
        }
        if meta.subscriptions + meta.patterns > 0 {
            flags.push('P');
        }
        if meta.multi >= 0 {
            flags.push('x');
        }
        if meta.blocked {
            flags.push('b');
        }
        if meta.monitor {
            flags.push('O');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let name = meta
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}{}",
            self.id,
            self.addr,
            self.laddr,
            name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(meta.last_interaction).as_secs(),
            flags,
            meta.db,
            meta.subscriptions,
            meta.patterns,
            meta.multi,
            meta.last_command,
            meta.resp,
            lib_fields(&meta),
        )
    }
}

fn lib_fields(meta: &ClientMeta) -> String {
    // Redis 7.2 added lib-name/lib-ver; 7.0 has neither, so they are shown only when set.
    let mut s = String::new();
    if let Some(n) = &meta.lib_name {
        s.push_str(&format!(" lib-name={}", String::from_utf8_lossy(n)));
    }
    if let Some(v) = &meta.lib_ver {
        s.push_str(&format!(" lib-ver={}", String::from_utf8_lossy(v)));
    }
    s
}

/// All connected clients, ordered by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<ClientId, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ClientId, Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(&self, handle: Arc<ClientHandle>) {
        self.lock().insert(handle.id, handle);
    }

    pub fn unregister(&self, id: ClientId) {
        self.lock().remove(&id);
    }

    pub fn get(&self, id: ClientId) -> Option<Arc<ClientHandle>> {
        self.lock().get(&id).cloned()
    }

    /// A snapshot of every handle, by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.lock().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}
