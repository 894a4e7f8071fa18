//! RESP, the Redis serialization protocol: what crosses the socket.
//!
//! - [`request`] parses what clients send a server: multibulk arrays of bulk strings and inline
//!   commands, incrementally, with Redis's limits (`networking.c`: `processMultibulkBuffer`,
//!   `processInlineBuffer`). It is the first step on the path of a command.
//! - [`frame`] is the client side: any RESP2/RESP3 value a server sends, parsed incrementally,
//!   and requests encoded as multibulk arrays (used by `redislab cli` and every internal client).
//! - [`reply`] is the value a command answers ([`Reply`]) and its encoding in RESP2 or RESP3,
//!   chosen per connection by `HELLO`. It is the last step.
//!
//! This layer knows nothing of commands; it only moves bytes and values.

pub mod frame;
pub mod reply;
pub mod request;

pub use reply::Reply;
pub use request::{ProtocolError, RequestParser};
