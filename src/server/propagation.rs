//! Propagation: what a batch of commands changed becomes AOF records and replication stream
//! bytes, under the keyspace lock, in apply order; and the stream's own traffic (PING,
//! `REPLCONF GETACK`, dropping replicas that stopped acknowledging).

use bytes::{Bytes, BytesMut};

use super::engine::Engine;
use super::Shared;
use crate::repl::encode_command;

// ANCHOR: flush
/// Turns the writes queued in the engine into the AOF and the replication stream.
/// Call with the keyspace lock held, after every batch of commands.
///
/// On a replica the queue goes to the AOF only: its stream is its master's, proxied byte for
/// byte as it is applied (Redis's `replicationFeedStreamFromMasterStream`).
pub fn flush(shared: &Shared, engine: &mut Engine) {
    if engine.propagated.is_empty() {
        return;
    }
    let records = std::mem::take(&mut engine.propagated);
    crate::server::aof::feed(shared, engine, &records);
    let repl = &mut engine.repl;
    if repl.is_replica() || (repl.backlog.is_none() && repl.replicas.is_empty()) {
        return;
    }
    let mut out = BytesMut::new();
    for record in &records {
        if repl.stream_db != Some(record.db) {
            let select = [
                Bytes::from_static(b"SELECT"),
                Bytes::from(record.db.to_string()),
            ];
            encode_command(&select, &mut out);
            repl.stream_db = Some(record.db);
        }
        encode_command(&record.argv, &mut out);
    }
    repl.feed(&out.freeze());
}
// ANCHOR_END: flush

/// Asks every replica for an ACK now (`REPLCONF GETACK *`, sent by WAIT). Like any stream
/// bytes it goes into the backlog and counts in the offset.
pub fn request_acks(shared: &Shared) {
    let mut engine = shared.engine();
    flush(shared, &mut engine);
    let mut out = BytesMut::new();
    encode_command(
        &[
            Bytes::from_static(b"REPLCONF"),
            Bytes::from_static(b"GETACK"),
            Bytes::from_static(b"*"),
        ],
        &mut out,
    );
    engine.repl.feed(&out.freeze());
}
