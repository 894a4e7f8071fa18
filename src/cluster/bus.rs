//! The cluster bus wire format: Redis 7.0's `clusterMsg`, byte for byte (`cluster.h` pins every
//! field offset; all integers are big-endian).
//!
//! A message is a 2256-byte header (magic `RCmb`, total length, version 1, the sender's ports,
//! epochs, replication offset, name, slot bitmap, master, IP, flags, cluster state and message
//! flags) followed by a body that depends on the type: gossip entries (104 bytes each) and
//! 8-byte-aligned extensions for PING/PONG/MEET, a node name for FAIL, channel and message for
//! PUBLISH, a node's epoch and slots for UPDATE, nothing for the failover messages.
//!
//! [`frame_len`] reads the first 8 bytes of a frame (a bad magic or a length below the header
//! closes the link, as in Redis); [`decode`] checks a whole frame's length against its type
//! (a mismatch drops the message and keeps the link) and never trusts a length it has not
//! checked against the bytes it has.

use bytes::Bytes;

use super::slot::SlotBitmap;

/// The header's size: `sizeof(clusterMsg) - sizeof(union clusterMsgData)`.
pub const HEADER_LEN: usize = 2256;
/// One gossip entry (`clusterMsgDataGossip`).
pub const GOSSIP_LEN: usize = 104;
/// A node name: 40 hex characters.
pub const NAME_LEN: usize = 40;
/// `NET_IP_STR_LEN`: an IP field, NUL-padded.
pub const IP_LEN: usize = 46;
/// The bus protocol version (`CLUSTER_PROTO_VER`).
pub const VERSION: u16 = 1;
/// The largest frame we accept: a full UPDATE is 4352 bytes and PUBLISH carries a channel
/// and a message; past this the link is closed rather than buffering without bound.
pub const MAX_FRAME: usize = 512 * 1024 * 1024;

/// Message flags, byte 0 (`CLUSTERMSG_FLAG0_*`).
pub const MFLAG_PAUSED: u8 = 1 << 0;
pub const MFLAG_FORCEACK: u8 = 1 << 1;
pub const MFLAG_EXT_DATA: u8 = 1 << 2;

/// The only extension type 7.0 defines.
pub const EXT_HOSTNAME: u16 = 0;

/// A node name as the bus carries it.
pub type NodeName = [u8; NAME_LEN];

/// Message types (`CLUSTERMSG_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    AuthRequest = 5,
    AuthAck = 6,
    Update = 7,
    MfStart = 8,
    Module = 9,
    PublishShard = 10,
}

/// How many types there are (`CLUSTERMSG_TYPE_COUNT`), for the per-type counters.
pub const TYPE_COUNT: usize = 11;

impl Type {
    pub fn from_u16(v: u16) -> Option<Type> {
        use Type::*;
        Some(match v {
            0 => Ping,
            1 => Pong,
            2 => Meet,
            3 => Fail,
            4 => Publish,
            5 => AuthRequest,
            6 => AuthAck,
            7 => Update,
            8 => MfStart,
            9 => Module,
            10 => PublishShard,
            _ => return None,
        })
    }

    /// The name Redis logs and reports in INFO/CLUSTER INFO (`clusterGetMessageTypeString`).
    pub fn name(self) -> &'static str {
        use Type::*;
        match self {
            Ping => "ping",
            Pong => "pong",
            Meet => "meet",
            Fail => "fail",
            Publish => "publish",
            PublishShard => "publishshard",
            AuthRequest => "auth-req",
            AuthAck => "auth-ack",
            Update => "update",
            MfStart => "mfstart",
            Module => "module",
        }
    }
}

/// The fixed header every message starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: Type,
    /// The sender's client port (announced).
    pub port: u16,
    pub current_epoch: u64,
    /// The sender's configEpoch, or its master's when it is a replica.
    pub config_epoch: u64,
    /// The master's replication offset, or the replica's processed offset.
    pub offset: u64,
    pub sender: NodeName,
    /// The slots the sender (or its master) serves.
    pub slots: SlotBitmap,
    /// The sender's master, when it is a replica.
    pub replica_of: Option<NodeName>,
    /// The announced IP; empty means "use the address the packet came from".
    pub ip: String,
    pub pport: u16,
    pub cport: u16,
    pub flags: u16,
    /// 0 = ok, 1 = fail.
    pub state: u8,
    pub mflags: [u8; 3],
}

/// One gossip entry: what the sender knows about another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gossip {
    pub name: NodeName,
    /// Seconds (Unix time) of the sender's last ping to that node.
    pub ping_sent: u32,
    pub pong_received: u32,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub pport: u16,
}

/// A PING/PONG/MEET extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    Hostname(String),
    /// A type this version does not know: kept so it can be logged and skipped.
    Unknown(u16),
}

/// The part after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// PING, PONG, MEET.
    Ping {
        gossip: Vec<Gossip>,
        extensions: Vec<Extension>,
    },
    Fail {
        about: NodeName,
    },
    /// PUBLISH and PUBLISHSHARD.
    Publish {
        channel: Bytes,
        message: Bytes,
    },
    /// FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: the header says it all.
    Empty,
    Update {
        config_epoch: u64,
        name: NodeName,
        slots: SlotBitmap,
    },
    Module {
        module_id: u64,
        kind: u8,
        payload: Bytes,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

/// Why a frame could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusError {
    /// Bad magic or a length below the header: Redis closes the link
    /// ("Bad message length or signature received from Cluster bus.").
    BadFrame,
    /// The length does not match the type: the message is dropped, the link stays.
    InvalidLength {
        kind: &'static str,
        totlen: usize,
        expected: usize,
    },
    /// An extension's length is not a multiple of 8.
    BadPadding { kind: &'static str, len: usize },
    /// Extensions claiming more than the frame holds.
    ExtensionOverrun { kind: &'static str, totlen: usize },
    /// Another protocol version: ignored silently, as Redis does.
    Version(u16),
    /// A type this version does not know: Redis logs "Received unknown packet type".
    UnknownType(u16),
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusError::BadFrame => {
                write!(f, "Bad message length or signature received from Cluster bus.")
            }
            BusError::InvalidLength {
                kind,
                totlen,
                expected,
            } => write!(
                f,
                "Received invalid {kind} packet of length {totlen} but expected length {expected}"
            ),
            BusError::BadPadding { kind, len } => {
                write!(f, "Received a {kind} packet without proper padding ({len} bytes)")
            }
            BusError::ExtensionOverrun { kind, totlen } => write!(
                f,
                "Received invalid {kind} packet with extension data that exceeds total packet length ({totlen})"
            ),
            BusError::Version(v) => write!(f, "Received a packet of bus version {v}"),
            BusError::UnknownType(t) => write!(f, "Received unknown packet type: {t}"),
        }
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn name_at(b: &[u8], at: usize) -> NodeName {
    b[at..at + NAME_LEN].try_into().expect("40 bytes")
}

/// A NUL-terminated string field (the IP, the hostname). An IP field is read as Redis reads
/// it: at most `IP_LEN - 1` bytes (`buf[NET_IP_STR_LEN-1] = '\0'`).
fn cstr(b: &[u8]) -> String {
    let b = if b.len() == IP_LEN {
        &b[..IP_LEN - 1]
    } else {
        b
    };
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The frame length announced by the first 8 bytes of a frame, checked as Redis's read
/// handler checks it (magic, at least a header), and bounded by [`MAX_FRAME`].
pub fn frame_len(first8: &[u8]) -> Result<usize, BusError> {
    if first8.len() < 8 || &first8[..4] != b"RCmb" {
        return Err(BusError::BadFrame);
    }
    let len = be32(first8, 4) as usize;
    if !(HEADER_LEN..=MAX_FRAME).contains(&len) {
        return Err(BusError::BadFrame);
    }
    Ok(len)
}

/// The raw type of a frame (for counters), if the frame is long enough to have one.
pub fn raw_type(frame: &[u8]) -> Option<u16> {
    (frame.len() >= 14).then(|| be16(frame, 12))
}

/// Decodes one whole frame (`frame.len()` is its announced total length).
pub fn decode(frame: &[u8]) -> Result<Message, BusError> {
    let totlen = frame_len(frame)?;
    if totlen != frame.len() {
        return Err(BusError::BadFrame);
    }
    let version = be16(frame, 8);
    if version != VERSION {
        return Err(BusError::Version(version));
    }
    let raw = be16(frame, 12);
    let kind = Type::from_u16(raw).ok_or(BusError::UnknownType(raw))?;
    let count = be16(frame, 14) as usize;
    let extensions = be16(frame, 2214) as usize;
    let mflags = [frame[2253], frame[2254], frame[2255]];
    let data = &frame[HEADER_LEN..];
    let wrong = |expected: usize| BusError::InvalidLength {
        kind: kind.name(),
        totlen,
        expected,
    };
    let body = match kind {
        Type::Ping | Type::Pong | Type::Meet => {
            let mut expected = HEADER_LEN + GOSSIP_LEN * count;
            if totlen < expected {
                return Err(wrong(expected));
            }
            let gossip = (0..count)
                .map(|i| {
                    let g = &data[i * GOSSIP_LEN..(i + 1) * GOSSIP_LEN];
                    Gossip {
                        name: name_at(g, 0),
                        ping_sent: be32(g, 40),
                        pong_received: be32(g, 44),
                        ip: cstr(&g[48..48 + IP_LEN]),
                        port: be16(g, 94),
                        cport: be16(g, 96),
                        flags: be16(g, 98),
                        pport: be16(g, 100),
                    }
                })
                .collect();
            let mut exts = Vec::new();
            if mflags[0] & MFLAG_EXT_DATA != 0 {
                for _ in 0..extensions {
                    if totlen - expected < 8 {
                        return Err(BusError::ExtensionOverrun {
                            kind: kind.name(),
                            totlen,
                        });
                    }
                    let len = be32(frame, expected) as usize;
                    let ext_type = be16(frame, expected + 4);
                    if !len.is_multiple_of(8) || len < 8 {
                        return Err(BusError::BadPadding {
                            kind: kind.name(),
                            len,
                        });
                    }
                    if totlen - expected < len {
                        return Err(BusError::ExtensionOverrun {
                            kind: kind.name(),
                            totlen,
                        });
                    }
                    let payload = &frame[expected + 8..expected + len];
                    exts.push(match ext_type {
                        EXT_HOSTNAME => Extension::Hostname(cstr(payload)),
                        other => Extension::Unknown(other),
                    });
                    expected += len;
                }
            }
            if totlen != expected {
                return Err(wrong(expected));
            }
            Body::Ping {
                gossip,
                extensions: exts,
            }
        }
        Type::Fail => {
            if totlen != HEADER_LEN + NAME_LEN {
                return Err(wrong(HEADER_LEN + NAME_LEN));
            }
            Body::Fail {
                about: name_at(data, 0),
            }
        }
        Type::Publish | Type::PublishShard => {
            if data.len() < 8 {
                return Err(wrong(HEADER_LEN + 8));
            }
            let channel_len = be32(data, 0) as usize;
            let message_len = be32(data, 4) as usize;
            let expected = (HEADER_LEN + 8)
                .saturating_add(channel_len)
                .saturating_add(message_len);
            if totlen != expected {
                return Err(wrong(expected));
            }
            Body::Publish {
                channel: Bytes::copy_from_slice(&data[8..8 + channel_len]),
                message: Bytes::copy_from_slice(&data[8 + channel_len..]),
            }
        }
        Type::AuthRequest | Type::AuthAck | Type::MfStart => {
            if totlen != HEADER_LEN {
                return Err(wrong(HEADER_LEN));
            }
            Body::Empty
        }
        Type::Update => {
            let expected = HEADER_LEN + 8 + NAME_LEN + 2048;
            if totlen != expected {
                return Err(wrong(expected));
            }
            let mut slots = SlotBitmap::default();
            slots.0.copy_from_slice(&data[48..48 + 2048]);
            Body::Update {
                config_epoch: be64(data, 0),
                name: name_at(data, 8),
                slots,
            }
        }
        Type::Module => {
            if data.len() < 13 {
                return Err(wrong(HEADER_LEN + 13));
            }
            let len = be32(data, 8) as usize;
            let expected = (HEADER_LEN + 13).saturating_add(len);
            if totlen != expected {
                return Err(wrong(expected));
            }
            Body::Module {
                module_id: u64::from_ne_bytes(data[0..8].try_into().expect("8 bytes")),
                kind: data[12],
                payload: Bytes::copy_from_slice(&data[13..]),
            }
        }
    };
    let mut slots = SlotBitmap::default();
    slots.0.copy_from_slice(&frame[80..80 + 2048]);
    let replica_of = name_at(frame, 2128);
    Ok(Message {
        header: Header {
            kind,
            port: be16(frame, 10),
            current_epoch: be64(frame, 16),
            config_epoch: be64(frame, 24),
            offset: be64(frame, 32),
            sender: name_at(frame, 40),
            slots,
            replica_of: (replica_of != [0; NAME_LEN]).then_some(replica_of),
            ip: cstr(&frame[2168..2168 + IP_LEN]),
            pport: be16(frame, 2246),
            cport: be16(frame, 2248),
            flags: be16(frame, 2250),
            state: frame[2252],
            mflags,
        },
        body,
    })
}

/// Writes a string field, NUL-terminated, cut at a character boundary if it is too long.
fn put_str(out: &mut [u8], s: &str) {
    let mut n = s.len().min(out.len() - 1);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Encodes a message. `count`, `extensions`, `totlen` and the EXT_DATA flag come from the
/// body; everything else from the header.
pub fn encode(msg: &Message) -> Vec<u8> {
    let h = &msg.header;
    let mut out = vec![0u8; HEADER_LEN];
    out[0..4].copy_from_slice(b"RCmb");
    out[8..10].copy_from_slice(&VERSION.to_be_bytes());
    out[10..12].copy_from_slice(&h.port.to_be_bytes());
    out[12..14].copy_from_slice(&(h.kind as u16).to_be_bytes());
    out[16..24].copy_from_slice(&h.current_epoch.to_be_bytes());
    out[24..32].copy_from_slice(&h.config_epoch.to_be_bytes());
    out[32..40].copy_from_slice(&h.offset.to_be_bytes());
    out[40..80].copy_from_slice(&h.sender);
    out[80..2128].copy_from_slice(&h.slots.0[..]);
    if let Some(m) = &h.replica_of {
        out[2128..2168].copy_from_slice(m);
    }
    put_str(&mut out[2168..2168 + IP_LEN], &h.ip);
    out[2246..2248].copy_from_slice(&h.pport.to_be_bytes());
    out[2248..2250].copy_from_slice(&h.cport.to_be_bytes());
    out[2250..2252].copy_from_slice(&h.flags.to_be_bytes());
    out[2252] = h.state;
    out[2253..2256].copy_from_slice(&h.mflags);
    match &msg.body {
        Body::Ping { gossip, extensions } => {
            out[14..16].copy_from_slice(&(gossip.len() as u16).to_be_bytes());
            for g in gossip {
                let mut e = [0u8; GOSSIP_LEN];
                e[0..40].copy_from_slice(&g.name);
                e[40..44].copy_from_slice(&g.ping_sent.to_be_bytes());
                e[44..48].copy_from_slice(&g.pong_received.to_be_bytes());
                put_str(&mut e[48..48 + IP_LEN], &g.ip);
                e[94..96].copy_from_slice(&g.port.to_be_bytes());
                e[96..98].copy_from_slice(&g.cport.to_be_bytes());
                e[98..100].copy_from_slice(&g.flags.to_be_bytes());
                e[100..102].copy_from_slice(&g.pport.to_be_bytes());
                out.extend_from_slice(&e);
            }
            let mut written = 0u16;
            for ext in extensions {
                if let Extension::Hostname(name) = ext {
                    let padded = (name.len() + 1).div_ceil(8) * 8;
                    let len = 8 + padded;
                    out.extend_from_slice(&(len as u32).to_be_bytes());
                    out.extend_from_slice(&EXT_HOSTNAME.to_be_bytes());
                    out.extend_from_slice(&[0, 0]);
                    out.extend_from_slice(name.as_bytes());
                    out.resize(out.len() + padded - name.len(), 0);
                    written += 1;
                }
            }
            if written > 0 {
                out[2253] |= MFLAG_EXT_DATA;
            }
            out[2214..2216].copy_from_slice(&written.to_be_bytes());
        }
        Body::Fail { about } => out.extend_from_slice(about),
        Body::Publish { channel, message } => {
            out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
            out.extend_from_slice(&(message.len() as u32).to_be_bytes());
            out.extend_from_slice(channel);
            out.extend_from_slice(message);
        }
        Body::Empty => {}
        Body::Update {
            config_epoch,
            name,
            slots,
        } => {
            out.extend_from_slice(&config_epoch.to_be_bytes());
            out.extend_from_slice(name);
            out.extend_from_slice(&slots.0[..]);
        }
        Body::Module {
            module_id,
            kind,
            payload,
        } => {
            out.extend_from_slice(&module_id.to_ne_bytes());
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.push(*kind);
            out.extend_from_slice(payload);
        }
    }
    let total = out.len() as u32;
    out[4..8].copy_from_slice(&total.to_be_bytes());
    out
}

/// A node name as text (names are 40 hex characters; anything else is shown lossily).
pub fn name_str(name: &NodeName) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// A node name from text, if it is 40 characters long.
pub fn parse_name(text: &[u8]) -> Option<NodeName> {
    text.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(c: u8) -> NodeName {
        [c; NAME_LEN]
    }

    fn header(kind: Type) -> Header {
        let mut slots = SlotBitmap::default();
        slots.set(0);
        slots.set(5798);
        Header {
            kind,
            port: 9001,
            current_epoch: 7,
            config_epoch: 3,
            offset: 1234,
            sender: name(b'a'),
            slots,
            replica_of: None,
            ip: "127.0.0.1".into(),
            pport: 0,
            cport: 19001,
            flags: 1,
            state: 0,
            mflags: [0; 3],
        }
    }

    #[test]
    fn header_fields_sit_at_cluster_h_offsets() {
        let msg = Message {
            header: header(Type::Meet),
            body: Body::Ping {
                gossip: vec![],
                extensions: vec![],
            },
        };
        let b = encode(&msg);
        assert_eq!(b.len(), HEADER_LEN);
        assert_eq!(&b[0..4], b"RCmb");
        assert_eq!(be32(&b, 4), 2256);
        assert_eq!(be16(&b, 8), 1);
        assert_eq!(be16(&b, 10), 9001);
        assert_eq!(be16(&b, 12), 2);
        assert_eq!(be64(&b, 16), 7);
        assert_eq!(be64(&b, 32), 1234);
        assert_eq!(&b[40..80], &[b'a'; 40]);
        assert_eq!(b[80], 1);
        assert_eq!(b[80 + 5798 / 8], 1 << (5798 % 8));
        assert_eq!(&b[2168..2177], b"127.0.0.1");
        assert_eq!(be16(&b, 2248), 19001);
        assert_eq!(be16(&b, 2250), 1);
        assert_eq!(decode(&b).unwrap(), msg);
    }

    #[test]
    fn every_type_round_trips() {
        let gossip = Gossip {
            name: name(b'b'),
            ping_sent: 1,
            pong_received: 2,
            ip: "127.0.0.2".into(),
            port: 9002,
            cport: 19002,
            flags: 2,
            pport: 0,
        };
        let mut slots = SlotBitmap::default();
        slots.set(16383);
        let bodies = [
            (
                Type::Pong,
                Body::Ping {
                    gossip: vec![gossip.clone(), gossip],
                    extensions: vec![Extension::Hostname("host-1".into())],
                },
            ),
            (Type::Fail, Body::Fail { about: name(b'c') }),
            (
                Type::Publish,
                Body::Publish {
                    channel: Bytes::from_static(b"news"),
                    message: Bytes::from_static(b"hello"),
                },
            ),
            (Type::AuthRequest, Body::Empty),
            (Type::AuthAck, Body::Empty),
            (Type::MfStart, Body::Empty),
            (
                Type::Update,
                Body::Update {
                    config_epoch: 9,
                    name: name(b'd'),
                    slots,
                },
            ),
            (
                Type::Module,
                Body::Module {
                    module_id: 42,
                    kind: 3,
                    payload: Bytes::from_static(b"xyz"),
                },
            ),
        ];
        for (kind, body) in bodies {
            let mut h = header(kind);
            h.replica_of = Some(name(b'e'));
            if matches!(body, Body::Ping { .. }) {
                h.mflags[0] = MFLAG_EXT_DATA;
            }
            let msg = Message { header: h, body };
            let bytes = encode(&msg);
            assert_eq!(decode(&bytes).unwrap(), msg, "{kind:?}");
        }
    }

    #[test]
    fn sizes_match_redis() {
        let pong = Message {
            header: header(Type::Pong),
            body: Body::Ping {
                gossip: vec![
                    Gossip {
                        name: name(b'b'),
                        ping_sent: 0,
                        pong_received: 0,
                        ip: String::new(),
                        port: 0,
                        cport: 0,
                        flags: 0,
                        pport: 0,
                    };
                    3
                ],
                extensions: vec![],
            },
        };
        // The captured PONG: 2256 + 3 x 104.
        assert_eq!(encode(&pong).len(), 2256 + 3 * 104);
        let fail = encode(&Message {
            header: header(Type::Fail),
            body: Body::Fail { about: name(b'x') },
        });
        assert_eq!(fail.len(), 2296);
        let update = encode(&Message {
            header: header(Type::Update),
            body: Body::Update {
                config_epoch: 1,
                name: name(b'x'),
                slots: SlotBitmap::default(),
            },
        });
        assert_eq!(update.len(), 4352);
    }

    #[test]
    fn string_fields_are_read_as_redis_reads_them_and_then_round_trip() {
        // An IP field with no NUL, and one that is not UTF-8 (found by the fuzzer).
        for ip in [[b'9'; IP_LEN].to_vec(), vec![0xC3; IP_LEN]] {
            let mut b = encode(&Message {
                header: header(Type::AuthAck),
                body: Body::Empty,
            });
            b[2168..2168 + IP_LEN].copy_from_slice(&ip);
            let first = decode(&b).unwrap();
            assert!(first.header.ip.len() <= 3 * (IP_LEN - 1));
            let normal = decode(&encode(&first)).unwrap();
            assert_eq!(decode(&encode(&normal)).unwrap(), normal);
        }
    }

    #[test]
    fn bad_frames_are_refused_without_panicking() {
        assert_eq!(frame_len(b"RCmx\0\0\x08\xd0"), Err(BusError::BadFrame));
        assert_eq!(frame_len(b"RCmb\0\0\0\x10"), Err(BusError::BadFrame));
        assert_eq!(frame_len(b"RCmb\0\0\x08\xd0"), Ok(2256));
        let mut b = encode(&Message {
            header: header(Type::Ping),
            body: Body::Ping {
                gossip: vec![],
                extensions: vec![],
            },
        });
        // A ping claiming one gossip entry it does not carry.
        b[15] = 1;
        assert!(matches!(decode(&b), Err(BusError::InvalidLength { .. })));
        b[15] = 0;
        b[13] = 99;
        assert_eq!(decode(&b), Err(BusError::UnknownType(99)));
        b[13] = 0;
        b[9] = 2;
        assert_eq!(decode(&b), Err(BusError::Version(2)));
        b[9] = 1;
        // Extensions announced but absent.
        b[2253] = MFLAG_EXT_DATA;
        b[2215] = 1;
        assert!(matches!(decode(&b), Err(BusError::ExtensionOverrun { .. })));
        // A publish whose lengths lie.
        let mut p = encode(&Message {
            header: header(Type::Publish),
            body: Body::Publish {
                channel: Bytes::from_static(b"c"),
                message: Bytes::from_static(b"m"),
            },
        });
        p[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(decode(&p), Err(BusError::InvalidLength { .. })));
    }
}
