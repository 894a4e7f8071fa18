//! The request parser (multibulk and inline) on arbitrary bytes, fed in chunks of a size the
//! input chooses: it must never panic, never loop, and give the same requests as when the
//! whole input is there at once (up to the first protocol error).
#![no_main]

#[path = "support/allocation_cap.rs"]
mod allocation_cap;

#[global_allocator]
static ALLOCATOR: allocation_cap::Capped<std::alloc::System> =
    allocation_cap::Capped(std::alloc::System);

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use redislab::resp::RequestParser;

/// The requests parsed from `data` fed `chunk` bytes at a time, and whether it ended in a
/// protocol error.
fn parse_in_chunks(
    data: &[u8],
    chunk: usize,
    max_bulk: i64,
    authed: bool,
) -> (Vec<Vec<Bytes>>, bool) {
    let mut parser = RequestParser::new(max_bulk);
    parser.authenticated = authed;
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(request)) => requests.push(request),
                Ok(None) => break,
                Err(_) => return (requests, true),
            }
        }
    }
    (requests, false)
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, data)) = input.split_first() else {
        return;
    };
    let max_bulk = if control & 1 == 0 {
        512 * 1024 * 1024
    } else {
        1024 * 1024
    };
    let authed = control & 2 == 0;
    let chunk = (control >> 2) as usize + 1;
    let whole = parse_in_chunks(data, data.len(), max_bulk, authed);
    let chunked = parse_in_chunks(data, chunk, max_bulk, authed);
    assert_eq!(whole, chunked, "chunk size {chunk}");
    let _ = redislab::resp::request::split_args(data);
});
