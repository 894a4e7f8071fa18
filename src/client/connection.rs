//! A small async Redis client over one TCP connection: send commands, read replies.
//!
//! Shared by `redislab cli`, the lab runner, the cluster tool and sentinel. It is deliberately
//! thin: [`Client::command`] is "encode, write, read one frame"; [`Client::send`] and
//! [`Client::read_frame`] are the two halves, for pipelining and for streams (SUBSCRIBE,
//! MONITOR, a replica link). Error replies (`-ERR ...`) are ordinary [`Frame::Error`] values;
//! `Err` means the connection itself failed (I/O, protocol, closed). Only the typed helpers
//! ([`Client::auth`], [`Client::select`], [`Client::hello`]) turn an error reply into
//! [`ClientError::Reply`], since their callers want "did it work".
//!
//! A node's link to a peer (Sentinel's links to masters, replicas and other Sentinels) opens
//! with [`Client::connect_peer`]: the connection then goes through the node's fault table
//! ([`crate::net`]) under the peer's address, as every other node-to-node link does.
//!
//! Left out on purpose: connection pools, reconnection (callers decide; the CLI does it), TLS,
//! Unix sockets, and cluster routing (the CLI follows MOVED/ASK itself).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::{FaultTable, PeerStream};
use crate::resp::frame::{self, Frame, FrameError};

/// How long [`Client::connect`] waits for the TCP handshake, in milliseconds.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Why a client call failed. After `Io`, `Protocol` or `Closed` the connection is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Reading from or writing to the socket failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server sent bytes that are not valid RESP.
    #[error("Protocol error: {0}")]
    Protocol(#[from] FrameError),
    /// The server closed the connection (hiredis's wording, which redis-cli prints).
    #[error("Server closed the connection")]
    Closed,
    /// A typed helper (AUTH, SELECT, HELLO) got an error reply; the text without `-`.
    #[error("{0}")]
    Reply(String),
}

/// One connection to a Redis-compatible server.
#[derive(Debug)]
pub struct Client {
    /// Without a fault table (every client but a node's peer links) nothing is changed.
    stream: PeerStream<TcpStream>,
    /// Bytes read but not yet parsed into a frame.
    buf: BytesMut,
    addr: String,
    protocol: u8,
}

impl Client {
    /// Connects to `addr` (`host:port`), waiting at most [`CONNECT_TIMEOUT_MS`].
    pub async fn connect(addr: &str) -> io::Result<Client> {
        Self::connect_timeout(addr, Duration::from_millis(CONNECT_TIMEOUT_MS)).await
    }

    /// Connects to `addr` (`host:port`), waiting at most `timeout`.
    pub async fn connect_timeout(addr: &str, timeout: Duration) -> io::Result<Client> {
        Self::connect_peer(addr, timeout, None).await
    }

    /// Connects to the peer listening at `addr` (`host:port`), waiting at most `timeout`;
    /// traffic goes through `faults` under that address (see [`crate::net`]).
    pub async fn connect_peer(
        addr: &str,
        timeout: Duration,
        faults: Option<Arc<FaultTable>>,
    ) -> io::Result<Client> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(stream) => stream?,
            Err(_) => return Err(io::Error::from(io::ErrorKind::TimedOut)),
        };
        stream.set_nodelay(true)?;
        Ok(Client {
            stream: PeerStream::new(stream, addr.to_string(), faults),
            buf: BytesMut::with_capacity(16 * 1024),
            addr: addr.to_string(),
            protocol: 2,
        })
    }

    /// Our side's IP address on this connection (what a Sentinel announces in its hellos).
    pub fn local_ip(&self) -> Option<String> {
        self.stream
            .get_ref()
            .local_addr()
            .ok()
            .map(|a| a.ip().to_string())
    }

    /// The address this client was asked to connect to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The protocol version in use: 2, or 3 after a successful `HELLO 3`.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// Sends one command and reads its reply. Error replies come back as [`Frame::Error`].
    pub async fn command(&mut self, args: &[impl AsRef<[u8]>]) -> Result<Frame, ClientError> {
        self.send(args).await?;
        self.read_frame().await
    }

    /// Writes one command without reading its reply (pipelining, SUBSCRIBE, MONITOR).
    pub async fn send(&mut self, args: &[impl AsRef<[u8]>]) -> Result<(), ClientError> {
        let mut out = BytesMut::new();
        frame::encode_command(args, &mut out);
        self.stream.write_all(&out).await?;
        Ok(())
    }

    /// Reads the next frame. Cancel-safe: bytes already read stay buffered, so it can be
    /// raced against a timeout or Ctrl-C and called again.
    pub async fn read_frame(&mut self) -> Result<Frame, ClientError> {
        loop {
            if let Some(frame) = frame::parse(&mut self.buf)? {
                return Ok(frame);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// `AUTH [user] password`.
    pub async fn auth(&mut self, user: Option<&str>, password: &str) -> Result<(), ClientError> {
        let reply = match user {
            Some(user) => self.command(&["AUTH", user, password]).await?,
            None => self.command(&["AUTH", password]).await?,
        };
        expect_ok(reply)
    }

    /// `SELECT db`.
    pub async fn select(&mut self, db: i64) -> Result<(), ClientError> {
        let reply = self.command(&["SELECT", &db.to_string()]).await?;
        expect_ok(reply)
    }

    /// `HELLO proto`: switches protocol and returns the server's hello map (RESP3) or array.
    pub async fn hello(&mut self, proto: u8) -> Result<Frame, ClientError> {
        let reply = self.command(&["HELLO", &proto.to_string()]).await?;
        if let Frame::Error(e) = reply {
            return Err(ClientError::Reply(String::from_utf8_lossy(&e).into_owned()));
        }
        self.protocol = proto;
        Ok(reply)
    }
}

fn expect_ok(reply: Frame) -> Result<(), ClientError> {
    match reply {
        Frame::Error(e) => Err(ClientError::Reply(String::from_utf8_lossy(&e).into_owned())),
        _ => Ok(()),
    }
}

/// Formats `host:port` as redis-cli's prompt and anet do (`[::1]:6379` for IPv6).
pub fn format_addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Strips Rust's " (os error N)" so connection errors read like hiredis's (`strerror`).
pub fn io_error_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Iterates over the `field:value` lines of an INFO (or CLUSTER INFO) reply, skipping
/// `# Section` headers and blank lines. Accepts `\r\n` and `\n` line ends.
pub fn info_fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') {
            return None;
        }
        line.split_once(':')
    })
}

/// The value of `field` in an INFO reply, e.g. `info_field(text, "role") == Some("master")`.
pub fn info_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    info_fields(text).find(|(k, _)| *k == field).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    const INFO: &str = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
        slave0:ip=127.0.0.1,port=6380,state=online,offset=42,lag=0\r\n\r\n# CPU\r\n";

    #[test]
    fn info_field_finds_values() {
        assert_eq!(info_field(INFO, "role"), Some("master"));
        assert_eq!(info_field(INFO, "connected_slaves"), Some("1"));
        assert_eq!(
            info_field(INFO, "slave0"),
            Some("ip=127.0.0.1,port=6380,state=online,offset=42,lag=0")
        );
        assert_eq!(info_field(INFO, "missing"), None);
        assert_eq!(info_field("a:1\nb:2\n", "b"), Some("2"));
        assert_eq!(info_fields(INFO).count(), 3);
    }

    /// A one-connection fake server that answers each request with the next canned reply.
    async fn fake_server(replies: Vec<&'static [u8]>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            for reply in replies {
                loop {
                    if frame::parse(&mut buf).unwrap().is_some() {
                        break;
                    }
                    if sock.read_buf(&mut buf).await.unwrap() == 0 {
                        return;
                    }
                }
                sock.write_all(reply).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn command_returns_error_replies_as_frames() {
        let addr = fake_server(vec![b"+OK\r\n", b"-ERR nope\r\n", b"-WRONGPASS bad\r\n"]).await;
        let mut c = Client::connect(&addr).await.unwrap();
        assert_eq!(c.command(&["PING"]).await.unwrap(), Frame::simple("OK"));
        assert_eq!(c.command(&["X"]).await.unwrap(), Frame::error("ERR nope"));
        match c.auth(None, "pw").await {
            Err(ClientError::Reply(e)) => assert_eq!(e, "WRONGPASS bad"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c.command(&["PING"]).await,
            Err(ClientError::Closed)
        ));
    }

    #[tokio::test]
    async fn hello_switches_protocol_and_pipelining_works() {
        let addr = fake_server(vec![b"%1\r\n+proto\r\n:3\r\n", b":1\r\n", b":2\r\n"]).await;
        let mut c = Client::connect(&addr).await.unwrap();
        let hello = c.hello(3).await.unwrap();
        assert!(matches!(hello, Frame::Map(_)));
        assert_eq!(c.protocol(), 3);
        c.send(&["INCR", "a"]).await.unwrap();
        c.send(&["INCR", "a"]).await.unwrap();
        assert_eq!(c.read_frame().await.unwrap(), Frame::Integer(1));
        assert_eq!(c.read_frame().await.unwrap(), Frame::Integer(2));
    }

    #[tokio::test]
    async fn a_peer_client_goes_through_the_fault_table_under_the_peer_address() {
        let addr = fake_server(vec![b"+PONG\r\n", b"+PONG\r\n"]).await;
        let table = Arc::new(FaultTable::default());
        let timeout = Duration::from_millis(CONNECT_TIMEOUT_MS);
        let mut c = Client::connect_peer(&addr, timeout, Some(table.clone()))
            .await
            .unwrap();
        assert_eq!(c.command(&["PING"]).await.unwrap(), Frame::simple("PONG"));
        table.update(&addr, |f| f.cut_out = true);
        let stalled = tokio::time::timeout(Duration::from_millis(300), c.command(&["PING"])).await;
        assert!(stalled.is_err(), "nothing crosses a cut link");
        table.update(&addr, |f| f.cut_out = false);
        assert_eq!(c.command(&["PING"]).await.unwrap(), Frame::simple("PONG"));
    }

    #[tokio::test]
    async fn connect_refused_is_an_io_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let err = Client::connect(&addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }
}
