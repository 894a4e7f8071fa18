//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream, kept
//! so that a replica that lost its link can resume with `+CONTINUE` instead of a full resync
//! (Redis's `repl_backlog`, `replication.c: addReplyReplicationBacklog`).
//!
//! Offsets are those of the stream: the byte at offset `o` is the `o`-th byte ever streamed
//! under this history. The backlog holds the bytes `first_offset() ..= end_offset()`.

use std::collections::VecDeque;

/// A bounded window on the end of the replication stream.
#[derive(Debug, Clone)]
pub struct Backlog {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// Offset of the last byte appended (`master_repl_offset`).
    end: i64,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `end + 1`.
    pub fn new(capacity: usize, end: i64) -> Backlog {
        Backlog {
            bytes: VecDeque::new(),
            capacity: capacity.max(16 * 1024),
            end,
        }
    }

    /// Appends stream bytes, dropping the oldest beyond the capacity.
    pub fn append(&mut self, data: &[u8]) {
        self.end += data.len() as i64;
        if data.len() >= self.capacity {
            self.bytes.clear();
            self.bytes.extend(&data[data.len() - self.capacity..]);
            return;
        }
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(data);
    }

    /// Offset of the first byte held (`repl_backlog_first_byte_offset`).
    pub fn first_offset(&self) -> i64 {
        self.end - self.bytes.len() as i64 + 1
    }

    pub fn end_offset(&self) -> i64 {
        self.end
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the capacity (CONFIG SET repl-backlog-size), keeping the newest bytes.
    pub fn resize(&mut self, capacity: usize) {
        self.capacity = capacity.max(16 * 1024);
        let overflow = self.bytes.len().saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
    }

    /// The bytes from `offset` to the end, if the backlog still holds them. `offset` may be
    /// `end + 1` (nothing is missing).
    pub fn since(&self, offset: i64) -> Option<Vec<u8>> {
        if offset > self.end + 1 || offset < self.first_offset() {
            return None;
        }
        let skip = (offset - self.first_offset()) as usize;
        Some(self.bytes.iter().skip(skip).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_answers_ranges_by_offset() {
        let mut backlog = Backlog::new(16 * 1024, 100);
        assert_eq!(backlog.since(101), Some(vec![]));
        backlog.append(b"abc");
        assert_eq!(backlog.first_offset(), 101);
        assert_eq!(backlog.end_offset(), 103);
        assert_eq!(backlog.since(102), Some(b"bc".to_vec()));
        assert_eq!(backlog.since(104), Some(vec![]));
        assert_eq!(backlog.since(105), None);
        assert_eq!(backlog.since(100), None);
        let big = vec![7u8; 20 * 1024];
        backlog.append(&big);
        assert_eq!(backlog.len(), 16 * 1024);
        assert_eq!(backlog.first_offset(), backlog.end_offset() - 16 * 1024 + 1);
        assert_eq!(backlog.since(102), None, "fell out of the window");
    }
}
