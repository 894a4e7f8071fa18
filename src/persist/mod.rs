//! Persistence: turning the keyspace into bytes on disk (or on a replication link) and back.
//!
//! - [`rdb`]: the RDB snapshot format Redis 7.0 reads and writes (`rdb.c`), also used for the
//!   full-sync payload a master sends its replicas and for DUMP/RESTORE payloads.
//!
//! This layer sits below the server roles and above [`crate::store`]: it reads and writes
//! [`crate::store::Db`] values and knows nothing of sockets or commands. Writing is blocking
//! `std::io`; callers run it on a blocking thread.

pub mod aof;
pub mod rdb;
pub mod snapshot;
