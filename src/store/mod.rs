//! The keyspace: databases of keys, their values, and their expiry times.
//!
//! This layer knows nothing of sockets, commands or replication. It answers "what does this key
//! hold now" (expiring keys lazily on access, as Redis's `expireIfNeeded` does in `db.c`) and
//! records which keys it expired so that the command layer can propagate their deletion and
//! wake anyone watching them.

pub mod db;
pub mod hash;
pub mod list;
pub mod listpack;
pub mod packed;
pub mod pick;
pub mod set;
pub mod slots;
pub mod str;
pub mod table;
pub mod value;
pub mod zset;

pub use db::{AccessTracking, Db, WrongType};
pub use str::Str;
pub use value::Value;

/// The wall clock in Unix milliseconds (`crate::clock`), for access records written where no
/// command's time is at hand: `Db::set`, the RDB loader, eviction. Commands pass their own time
/// (`Db::set_at`).
pub fn clock_ms() -> i64 {
    crate::clock::unix_ms()
}
