//! The node's role as one value, and the one transition that changes it.
//!
//! A node is a master or a replica of `host:port`; the role lives in [`ReplState::master`](crate::repl::ReplState::master)
//! (`None`: master) inside the [`Engine`], under the one lock, and only [`change_role`]
//! writes it. Everything a role change touches changes there, together:
//!
//! - the read-only check and `ROLE`/`INFO` (they read the role itself);
//! - every db's expiry mode (a replica hides expired keys and waits for its master's `DEL`);
//! - propagation (a replica's stream is its master's bytes, proxied; a master encodes its own);
//! - the replication history (promotion keeps the old id as `replid2`, Redis's
//!   `shiftReplicationId`, so former siblings can `+CONTINUE`);
//! - the log's role letter (`M`/`S`);
//! - the replica link: the transition bumps the link generation and announces it on
//!   [`Shared::role_changes`]; the runtime starts a link task for the new generation and the
//!   old task, seeing it is stale, stops.
//!
//! `REPLICAOF`/`SLAVEOF` (also inside `MULTI`, as a Sentinel's promotion sends it), the
//! `replicaof` directive at start-up, and later a cluster failover all come through here.

use super::engine::Engine;
use super::Shared;
use crate::events::Event;
use crate::repl::MasterLink;
use crate::store::db::ExpiryMode;

/// The role asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Master,
    ReplicaOf { host: String, port: u16 },
}

/// Who asks for a role change: it decides what Redis logs and whether a master's own history
/// is offered to its new master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The `replicaof` directive at start-up: the history is what the dump's aux fields said.
    Config,
    /// `REPLICAOF`/`SLAVEOF` (a user, a Sentinel) or a failover.
    Request,
}

/// What [`change_role`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    /// Already that role (a master asked to be a master).
    Unchanged,
    /// Already replicating from that master (`+OK Already connected to specified master`).
    AlreadyConnected,
    /// Now a replica (of a new master, or of the first one).
    NowReplica,
    /// A replica promoted to master.
    Promoted,
}

// ANCHOR: change_role
/// Changes the node's role. The caller holds the keyspace lock (`engine`); `now_ms` is the
/// current Unix time in ms. The new replication id on promotion comes from the engine's
/// seedable rng.
pub fn change_role(
    shared: &Shared,
    engine: &mut Engine,
    to: Role,
    cause: Cause,
    now_ms: i64,
) -> RoleChange {
    let change = match to {
        Role::Master => {
            if engine.repl.master.is_none() {
                return RoleChange::Unchanged;
            }
            engine.propagate = true;
            let repl = &mut engine.repl;
            repl.master = None;
            apply_expiry_mode(engine);
            let repl = &mut engine.repl;
            repl.next_generation += 1;
            repl.shift_replid(&mut engine.rng);
            repl.ensure_backlog();
            repl.stream_db = None;
            shared.events.logger.set_role(b'M');
            shared.emit(Event::DiscardingCachedMaster);
            shared.emit(Event::SecondaryReplidSet {
                replid2: repl.replid2.clone(),
                valid_until: repl.second_offset,
                replid: repl.replid.clone(),
            });
            shared.emit(Event::MasterModeEnabled);
            RoleChange::Promoted
        }
        Role::ReplicaOf { host, port } => {
            let repl = &mut engine.repl;
            if repl
                .master
                .as_ref()
                .is_some_and(|m| m.host == host && m.port == port)
            {
                return RoleChange::AlreadyConnected;
            }
            if repl.master.is_none() && cause == Cause::Request {
                // Our own history may be the new master's too: try a partial resync first.
                shared.emit(Event::CachedMasterSynthesized);
                repl.has_history = true;
            }
            repl.next_generation += 1;
            let addr = format!("{host}:{port}");
            repl.master = Some(MasterLink {
                host,
                port,
                up: false,
                last_io_ms: 0,
                down_since_ms: now_ms,
                sync_in_progress: false,
                transfer: None,
                generation: repl.next_generation,
            });
            set_expiry(engine, ExpiryMode::HideOnly);
            // What a replica applies reaches its own AOF (its replicas get the master's bytes).
            engine.propagate = engine.aof.is_some();
            shared.events.logger.set_role(b'S');
            if cause == Cause::Request {
                shared.emit(Event::ReplicaOfEnabled { addr });
            }
            RoleChange::NowReplica
        }
    };
    shared
        .role_changes
        .send_replace(engine.repl.next_generation);
    change
}
// ANCHOR_END: change_role

/// Sets every db's expiry mode from the current role (after a role change, and after a load
/// replaced the dbs): a replica, or any node while CLIENT PAUSE holds the dataset static,
/// hides expired keys without deleting them.
pub fn apply_expiry_mode(engine: &mut Engine) {
    let mode = if engine.repl.master.is_some() || engine.pause.is_set() {
        ExpiryMode::HideOnly
    } else {
        ExpiryMode::Delete
    };
    set_expiry(engine, mode);
}

fn set_expiry(engine: &mut Engine, mode: ExpiryMode) {
    for db in engine.dbs.iter_mut() {
        db.set_expiry_mode(mode);
    }
}
