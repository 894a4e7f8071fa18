//! The one table from event kinds (what a lab file names) to the Redis-format log line each
//! node writes when it happens (see [`crate::server::events::Event::log_line`]).
//!
//! The runner tails each node's `logfile` and matches these pieces; matching the log, not an
//! in-process channel, keeps the nodes real processes and makes the transcript evidence: every
//! event line in it was written by a node.

/// `(kind, piece of the log line)`, in the order they occur in a full sync.
pub const EVENTS: &[(&str, &str)] = &[
    ("ready", "Ready to accept connections"),
    ("connecting-to-master", "Connecting to MASTER "),
    ("master-sync-started", "MASTER <-> REPLICA sync started"),
    ("replica-asked-for-sync", " asks for synchronization"),
    ("full-resync-requested", "Full resync requested by replica "),
    (
        "partial-resync-rejected",
        "Partial resynchronization not accepted",
    ),
    ("backlog-created", "Replication backlog created"),
    (
        "bgsave-for-sync-started",
        "Starting BGSAVE for SYNC with target: ",
    ),
    (
        "background-save-started",
        "Background saving started by pid ",
    ),
    (
        "background-save-finished",
        "Background saving terminated with success",
    ),
    ("full-resync-from-master", "Full resync from master: "),
    ("rdb-transferred", " bytes of RDB to replica "),
    ("receiving-rdb", "MASTER <-> REPLICA sync: receiving "),
    (
        "flushing-old-data",
        "MASTER <-> REPLICA sync: Flushing old data",
    ),
    (
        "loading-db-in-memory",
        "MASTER <-> REPLICA sync: Loading DB in memory",
    ),
    ("rdb-loaded-from-master", "Done loading RDB, keys loaded: "),
    (
        "master-sync-finished",
        "MASTER <-> REPLICA sync: Finished with success",
    ),
    ("replica-synced", "Synchronization with replica "),
    (
        "partial-resync-accepted",
        "Partial resynchronization request from ",
    ),
    (
        "partial-resync-from-master",
        "Successful partial resynchronization with master.",
    ),
    ("master-link-lost", "Connection with master lost."),
    ("replica-link-lost", "Connection with replica "),
    (
        "shutdown-complete",
        "Redis is now ready to exit, bye bye...",
    ),
];

/// The log-line piece for an event kind.
pub fn pattern_for(kind: &str) -> Option<&'static str> {
    EVENTS.iter().find(|(k, _)| *k == kind).map(|(_, p)| *p)
}

/// The message of a Redis log line, without `pid:role date time level ` in front:
/// `12:M 24 Nov 2026 16:22:01.123 * Ready` → `Ready`. Other lines come back unchanged.
pub fn message(line: &str) -> &str {
    let mut parts = line.splitn(7, ' ');
    let head = parts.next().unwrap_or_default();
    if !head.contains(':')
        || !head
            .split(':')
            .next()
            .unwrap_or("x")
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return line;
    }
    // day, month, year, time, level, message
    let rest: Vec<&str> = parts.collect();
    if rest.len() == 6 && rest[4].len() == 1 {
        rest[5]
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::events::Event;

    #[test]
    fn message_strips_the_redis_prefix() {
        assert_eq!(
            message("12:M 24 Nov 2026 16:22:01.123 * Ready to accept connections tcp"),
            "Ready to accept connections tcp"
        );
        assert_eq!(message("not a log line"), "not a log line");
    }

    #[test]
    fn every_pattern_matches_the_line_its_event_writes() {
        let samples = [
            (
                "replica-asked-for-sync",
                Event::ReplicaAskedForSync {
                    addr: "127.0.0.1:6380".into(),
                },
            ),
            (
                "full-resync-requested",
                Event::FullResyncRequested {
                    addr: "127.0.0.1:6380".into(),
                },
            ),
            (
                "bgsave-for-sync-started",
                Event::BgsaveForSyncStarted { target: "disk" },
            ),
            (
                "background-save-finished",
                Event::BackgroundSaveFinished { ok: true },
            ),
            (
                "rdb-transferred",
                Event::RdbTransferred {
                    addr: "127.0.0.1:6380".into(),
                    bytes: 9,
                },
            ),
            ("receiving-rdb", Event::ReceivingRdb { bytes: Some(9) }),
            ("loading-db-in-memory", Event::LoadingDbInMemory),
            (
                "replica-synced",
                Event::ReplicaSynced {
                    addr: "127.0.0.1:6380".into(),
                },
            ),
            (
                "partial-resync-accepted",
                Event::PartialResyncAccepted {
                    addr: "a".into(),
                    bytes: 1,
                    offset: 2,
                },
            ),
            ("partial-resync-from-master", Event::PartialResyncFromMaster),
            ("master-link-lost", Event::MasterLinkLost),
            (
                "replica-link-lost",
                Event::ReplicaLinkLost { addr: "a".into() },
            ),
            ("master-sync-finished", Event::MasterSyncFinished),
            ("ready", Event::Ready),
        ];
        for (kind, event) in samples {
            let (_, line) = event.log_line();
            assert!(line.contains(pattern_for(kind).unwrap()), "{kind}: {line}");
        }
    }
}
