//! The simulator's network: ordered byte streams between nodes (TCP-like connections) over
//! links that can be cut, healed and delayed per direction.
//!
//! A cut direction holds what is sent on it (as TCP keeps retransmitting) until it heals or
//! the connection closes; a connection attempt across a cut times out after
//! [`CONNECT_TIMEOUT_MS`]. A paused receiver (SIGSTOP) reads nothing, so what is sent to it
//! stays in flight, and once [`WINDOW`] bytes are in flight the sender must keep the rest in
//! its own buffers: that is how a stalled replica grows its master's output buffer. Bytes on
//! one direction of a connection are always delivered in order; a close (FIN) comes after the
//! data sent before it.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::NodeId;

/// A connection's id (also the serving side's client id for it).
pub type ConnId = u64;

/// One-way latency of a healthy link (ms).
pub const LATENCY_MS: i64 = 1;
/// How long a connection attempt across a cut link takes to fail (ms).
pub const CONNECT_TIMEOUT_MS: i64 = 5000;
/// Bytes that may be in flight on one direction of a connection.
pub const WINDOW: usize = 256 * 1024;

/// What the network hands to a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// `to` accepted a connection from `from`.
    Accepted {
        conn: ConnId,
        to: NodeId,
        from: NodeId,
    },
    /// `from`'s connection attempt succeeded.
    Connected { conn: ConnId, from: NodeId },
    /// `from`'s connection attempt failed.
    Refused {
        conn: ConnId,
        from: NodeId,
        error: String,
    },
    Data {
        conn: ConnId,
        to: NodeId,
        bytes: Bytes,
    },
    /// The other side closed.
    Closed { conn: ConnId, to: NodeId },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Fault {
    cut: bool,
    delay_ms: i64,
}

#[derive(Debug)]
struct Conn {
    client: NodeId,
    server: NodeId,
    /// Sides that closed (they receive nothing more).
    closed: BTreeSet<NodeId>,
}

#[derive(Debug)]
struct Packet {
    at: i64,
    seq: u64,
    from: NodeId,
    to: NodeId,
    delivery: Delivery,
    /// Bytes it counts against the window.
    size: usize,
    /// Whether a cut link holds it (a connection attempt's timeout does not travel).
    travels: bool,
}

/// Connections, faults and what is in flight.
#[derive(Debug, Default)]
pub struct Network {
    next_conn: ConnId,
    seq: u64,
    conns: BTreeMap<ConnId, Conn>,
    faults: BTreeMap<(NodeId, NodeId), Fault>,
    in_flight: Vec<Packet>,
    /// Last delivery time scheduled per (connection, sender), to keep each direction ordered.
    last_at: BTreeMap<(ConnId, NodeId), i64>,
}

impl Network {
    /// Cuts `from -> to` (and back, if `both`).
    pub fn cut(&mut self, from: NodeId, to: NodeId, both: bool) {
        self.faults.entry((from, to)).or_default().cut = true;
        if both {
            self.faults.entry((to, from)).or_default().cut = true;
        }
    }

    /// Heals `from -> to` and back: what was held flows again.
    pub fn heal(&mut self, from: NodeId, to: NodeId) {
        for key in [(from, to), (to, from)] {
            if let Some(f) = self.faults.get_mut(&key) {
                f.cut = false;
            }
        }
    }

    /// Adds `ms` of latency to `from -> to` (and back, if `both`).
    pub fn delay(&mut self, from: NodeId, to: NodeId, ms: i64, both: bool) {
        self.faults.entry((from, to)).or_default().delay_ms = ms;
        if both {
            self.faults.entry((to, from)).or_default().delay_ms = ms;
        }
    }

    fn fault(&self, from: NodeId, to: NodeId) -> Fault {
        self.faults.get(&(from, to)).copied().unwrap_or_default()
    }

    fn latency(&self, from: NodeId, to: NodeId) -> i64 {
        LATENCY_MS + self.fault(from, to).delay_ms
    }

    fn push(
        &mut self,
        at: i64,
        from: NodeId,
        to: NodeId,
        delivery: Delivery,
        size: usize,
        travels: bool,
    ) {
        self.seq += 1;
        self.in_flight.push(Packet {
            at,
            seq: self.seq,
            from,
            to,
            delivery,
            size,
            travels,
        });
    }

    /// `from` opens a connection to `to`.
    pub fn connect(&mut self, from: NodeId, to: NodeId, now: i64) -> ConnId {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.conns.insert(
            conn,
            Conn {
                client: from,
                server: to,
                closed: BTreeSet::new(),
            },
        );
        if self.fault(from, to).cut || self.fault(to, from).cut {
            let error = "connection timed out".to_string();
            let refused = Delivery::Refused { conn, from, error };
            self.push(now + CONNECT_TIMEOUT_MS, from, from, refused, 0, false);
            self.conns.remove(&conn);
            return conn;
        }
        let there = now + self.latency(from, to);
        self.push(
            there,
            from,
            to,
            Delivery::Accepted { conn, to, from },
            0,
            true,
        );
        let back = there + self.latency(to, from);
        self.push(back, to, from, Delivery::Connected { conn, from }, 0, true);
        self.last_at.insert((conn, to), back);
        self.last_at.insert((conn, from), there);
        conn
    }

    /// A connection attempt that fails at once (no such node).
    pub fn refuse(&mut self, from: NodeId, error: String, now: i64) {
        self.next_conn += 1;
        let conn = self.next_conn;
        self.push(
            now + LATENCY_MS,
            from,
            from,
            Delivery::Refused { conn, from, error },
            0,
            false,
        );
    }

    fn peer(&self, conn: ConnId, side: NodeId) -> Option<NodeId> {
        let c = self.conns.get(&conn)?;
        Some(if c.client == side { c.server } else { c.client })
    }

    fn schedule(&mut self, conn: ConnId, from: NodeId, to: NodeId, now: i64) -> i64 {
        let earliest = now + self.latency(from, to);
        let last = self.last_at.get(&(conn, from)).copied().unwrap_or(0);
        let at = earliest.max(last);
        self.last_at.insert((conn, from), at);
        at
    }

    /// `from` writes `bytes` on `conn`.
    pub fn send(&mut self, conn: ConnId, from: NodeId, bytes: Bytes, now: i64) {
        let Some(to) = self.peer(conn, from) else {
            return;
        };
        if self.conns[&conn].closed.contains(&from) || bytes.is_empty() {
            return;
        }
        let at = self.schedule(conn, from, to, now);
        let size = bytes.len();
        self.push(at, from, to, Delivery::Data { conn, to, bytes }, size, true);
    }

    /// `by` closes `conn`; the other side learns it after the data sent before.
    pub fn close(&mut self, conn: ConnId, by: NodeId, now: i64) {
        let Some(to) = self.peer(conn, by) else {
            return;
        };
        let conn_state = self.conns.get_mut(&conn).expect("peer found it");
        if !conn_state.closed.insert(by) {
            return;
        }
        let at = self.schedule(conn, by, to, now);
        self.push(at, by, to, Delivery::Closed { conn, to }, 0, true);
    }

    /// How many more bytes `from` may put in flight on `conn`.
    pub fn window_left(&self, conn: ConnId, from: NodeId) -> usize {
        let in_flight: usize = self
            .in_flight
            .iter()
            .filter(|p| {
                p.from == from && matches!(p.delivery, Delivery::Data { conn: c, .. } if c == conn)
            })
            .map(|p| p.size)
            .sum();
        WINDOW.saturating_sub(in_flight)
    }

    /// What arrives by `now`, in order; held back: what crosses a cut link or goes to a paused
    /// node. Deliveries to a side that closed its end are dropped.
    pub fn deliver(&mut self, now: i64, paused: impl Fn(NodeId) -> bool) -> Vec<Delivery> {
        let mut due: Vec<Packet> = Vec::new();
        let mut keep = Vec::new();
        for packet in self.in_flight.drain(..) {
            let held = packet.at > now
                || (packet.travels
                    && self
                        .faults
                        .get(&(packet.from, packet.to))
                        .is_some_and(|f| f.cut))
                || paused(packet.to);
            if held {
                keep.push(packet);
            } else {
                due.push(packet);
            }
        }
        self.in_flight = keep;
        due.sort_by_key(|p| (p.at, p.seq));
        let mut out = Vec::new();
        for packet in due {
            let conn = match &packet.delivery {
                Delivery::Accepted { conn, .. }
                | Delivery::Connected { conn, .. }
                | Delivery::Data { conn, .. }
                | Delivery::Closed { conn, .. } => Some(*conn),
                Delivery::Refused { .. } => None,
            };
            if let Some(conn) = conn {
                let Some(state) = self.conns.get_mut(&conn) else {
                    continue;
                };
                if state.closed.contains(&packet.to) {
                    continue;
                }
                if matches!(packet.delivery, Delivery::Closed { .. }) {
                    state.closed.insert(packet.to);
                }
                if state.closed.len() == 2 {
                    self.conns.remove(&conn);
                }
            }
            out.push(packet.delivery);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(out: &[Delivery]) -> Vec<&[u8]> {
        out.iter()
            .filter_map(|d| match d {
                Delivery::Data { bytes, .. } => Some(&bytes[..]),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_cut_holds_bytes_in_order_until_the_heal() {
        let mut net = Network::default();
        let conn = net.connect(0, 1, 0);
        let out = net.deliver(10, |_| false);
        assert_eq!(out.len(), 2, "accepted, then connected: {out:?}");
        net.send(conn, 0, Bytes::from_static(b"a"), 10);
        net.cut(0, 1, false);
        net.send(conn, 0, Bytes::from_static(b"b"), 11);
        assert!(data(&net.deliver(100, |_| false)).is_empty());
        net.send(conn, 1, Bytes::from_static(b"back"), 100);
        assert_eq!(
            data(&net.deliver(101, |_| false)),
            [b"back"],
            "one direction only"
        );
        net.heal(0, 1);
        assert_eq!(data(&net.deliver(102, |_| false)), [b"a", b"b"]);
    }

    #[test]
    fn connecting_across_a_cut_times_out_and_a_paused_reader_fills_the_window() {
        let mut net = Network::default();
        net.cut(1, 0, false);
        net.connect(0, 1, 0);
        assert!(net.deliver(4999, |_| false).is_empty());
        assert!(matches!(
            net.deliver(5000, |_| false)[..],
            [Delivery::Refused { .. }]
        ));
        net.heal(0, 1);
        let conn = net.connect(0, 1, 6000);
        net.deliver(6010, |_| false);
        net.send(conn, 1, Bytes::from(vec![0u8; WINDOW]), 6010);
        assert_eq!(net.window_left(conn, 1), 0);
        assert!(net.deliver(7000, |n| n == 0).is_empty(), "node 0 is paused");
        assert_eq!(net.deliver(7001, |_| false).len(), 1);
        assert_eq!(net.window_left(conn, 1), WINDOW);
    }

    #[test]
    fn a_close_follows_the_data_and_nothing_reaches_a_closed_side() {
        let mut net = Network::default();
        let conn = net.connect(0, 1, 0);
        net.deliver(10, |_| false);
        net.send(conn, 1, Bytes::from_static(b"last"), 10);
        net.close(conn, 1, 10);
        net.send(conn, 0, Bytes::from_static(b"late"), 10);
        let out = net.deliver(20, |_| false);
        assert_eq!(
            out,
            [
                Delivery::Data {
                    conn,
                    to: 0,
                    bytes: Bytes::from_static(b"last")
                },
                Delivery::Closed { conn, to: 0 }
            ],
            "and 'late' to the closed side is dropped"
        );
    }
}
