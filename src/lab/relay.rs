//! A TCP relay the lab owns, for engines without a fault table (`--engine redis`): a replica's
//! `slaveof` points at the relay, which forwards to the master. Cutting a direction stops the
//! relay reading from that side, so the bytes stall in the kernel's buffers as they do in a
//! network partition: no connection closes, and both ends notice only by their own timeouts.
//! A delay holds each chunk before forwarding it. Healing lets the bytes (and any close that
//! happened meanwhile) through.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the relay does to each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayFaults {
    /// The connecting side (the replica) to the target (the master) is cut.
    pub to_target_cut: bool,
    /// The target back to the connecting side is cut.
    pub from_target_cut: bool,
    /// Hold each chunk towards the target this long.
    pub to_target_delay: Duration,
    /// Hold each chunk from the target this long.
    pub from_target_delay: Duration,
}

/// A running relay; dropping it stops accepting and ends every forwarding task.
#[derive(Debug)]
pub struct Relay {
    /// The relay's own address (what the replica connects to).
    pub addr: SocketAddr,
    /// Where it forwards to.
    pub target: SocketAddr,
    faults: watch::Sender<RelayFaults>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (faults, watcher) = watch::channel(RelayFaults::default());
        let task = tokio::spawn(async move {
            let mut pumps = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (client_r, client_w) = client.into_split();
                let (server_r, server_w) = server.into_split();
                let w = watcher.clone();
                pumps.spawn(pump(client_r, server_w, w, |f: &RelayFaults| {
                    (f.to_target_cut, f.to_target_delay)
                }));
                let w = watcher.clone();
                pumps.spawn(pump(server_r, client_w, w, |f: &RelayFaults| {
                    (f.from_target_cut, f.from_target_delay)
                }));
                // Reap finished pumps so a long lab does not keep them.
                while pumps.try_join_next().is_some() {}
            }
        });
        Ok(Relay {
            addr,
            target,
            faults,
            task,
        })
    }

    /// Changes the faults; every connection, present and future, follows at once.
    pub fn update(&self, change: impl FnOnce(&mut RelayFaults)) {
        self.faults.send_modify(change);
    }

    /// The current faults.
    pub fn faults(&self) -> RelayFaults {
        *self.faults.borrow()
    }
}

/// Copies `from` to `to` while the direction is not cut, holding each chunk for the delay.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut faults: watch::Receiver<RelayFaults>,
    direction: fn(&RelayFaults) -> (bool, Duration),
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // While cut, read nothing: the sender's buffers fill and its writes stall.
        if faults.wait_for(|f| !direction(f).0).await.is_err() {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => n,
            },
            // A cut while waiting to read: stop reading until healed.
            _ = cut(&mut faults, direction) => continue,
        };
        // Bytes read before a cut are held until the heal, as a dead link would hold them.
        if faults.wait_for(|f| !direction(f).0).await.is_err() {
            return;
        }
        let delay = direction(&faults.borrow()).1;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Resolves once `direction` is cut (never holding the watch's lock across an await).
async fn cut(
    faults: &mut watch::Receiver<RelayFaults>,
    direction: fn(&RelayFaults) -> (bool, Duration),
) {
    let _ = faults.wait_for(|f| direction(f).0).await.map(|_| ());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_relay_forwards_stalls_when_cut_and_delivers_after_the_heal() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let relay = Relay::start(target).await.unwrap();
        let mut c = TcpStream::connect(relay.addr).await.unwrap();
        let mut buf = [0u8; 5];
        c.write_all(b"hello").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");

        relay.update(|f| {
            f.to_target_cut = true;
            f.from_target_cut = true;
        });
        c.write_all(b"stuck").await.unwrap();
        let stalled =
            tokio::time::timeout(Duration::from_millis(200), c.read_exact(&mut buf)).await;
        assert!(stalled.is_err(), "nothing comes back through a cut");

        relay.update(|f| *f = RelayFaults::default());
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"stuck", "held bytes arrive after the heal");
    }
}
