//! `nodes.conf`: the cluster configuration a node rewrites on every change Redis persists and
//! reads back at start-up (`clusterLoadConfig`). The file is CLUSTER NODES' lines plus a
//! `vars currentEpoch N lastVoteEpoch M` line.

use super::bus::NodeName;
use super::node::{flags, parse_flags, Node};
use super::slot::SLOTS;
use super::{valid_name, Cluster, Ms, Settings};

/// Why `nodes.conf` could not be read; Redis reports "Unrecoverable error: corrupted cluster
/// config file." and exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

fn name_of(text: &str) -> Option<NodeName> {
    valid_name(text.as_bytes()).then(|| text.as_bytes().try_into().expect("40 bytes"))
}

impl Cluster {
    /// Reads a `nodes.conf`. `Ok(None)` for an empty file (start fresh, as Redis does).
    pub fn from_config(
        settings: Settings,
        text: &str,
        now: Ms,
    ) -> Result<Option<Cluster>, ConfError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let mut cluster = Cluster::empty(settings, [0; 40]);
        let mut myself: Option<NodeName> = None;
        for (i, raw) in text.lines().enumerate() {
            let err = |reason: &str| ConfError {
                line: i + 1,
                reason: reason.to_string(),
            };
            let argv: Vec<&str> = raw.split_whitespace().collect();
            if argv.is_empty() {
                continue;
            }
            if argv[0].eq_ignore_ascii_case("vars") {
                if argv.len().is_multiple_of(2) {
                    return Err(err("a vars line needs name value pairs"));
                }
                for pair in argv[1..].chunks(2) {
                    let value = pair[1].parse::<u64>().unwrap_or(0);
                    if pair[0].eq_ignore_ascii_case("currentEpoch") {
                        cluster.current_epoch = value;
                    } else if pair[0].eq_ignore_ascii_case("lastVoteEpoch") {
                        cluster.last_vote_epoch = value;
                    }
                }
                continue;
            }
            if argv.len() < 8 {
                return Err(err("a node line needs at least eight fields"));
            }
            let name = name_of(argv[0]).ok_or_else(|| err("invalid node name"))?;
            let mut node = cluster
                .nodes
                .remove(&name)
                .unwrap_or_else(|| Node::new(name, 0, now));
            let (addr, hostname) = match argv[1].split_once(',') {
                Some((a, h)) => (a, h.to_string()),
                None => (argv[1], String::new()),
            };
            node.hostname = hostname;
            let (ip, ports) = addr
                .rsplit_once(':')
                .ok_or_else(|| err("address without a port"))?;
            node.ip = ip.to_string();
            let (port, cport) = match ports.split_once('@') {
                Some((p, c)) => (p, Some(c)),
                None => (ports, None),
            };
            node.port = port.parse().map_err(|_| err("invalid port"))?;
            node.cport = match cport {
                Some(c) => c.parse().map_err(|_| err("invalid bus port"))?,
                None => node.port.wrapping_add(10000),
            };
            let f = parse_flags(argv[2]).ok_or_else(|| err("unknown flag"))?;
            if f & flags::MYSELF != 0 {
                if myself.is_some() {
                    return Err(err("two nodes flagged myself"));
                }
                myself = Some(name);
            }
            node.flags |= f;
            if f & flags::FAIL != 0 {
                node.fail_time = now;
            }
            if argv[3] != "-" {
                let master = name_of(argv[3]).ok_or_else(|| err("invalid master name"))?;
                if master == name {
                    return Err(err("a node cannot replicate itself"));
                }
                cluster
                    .nodes
                    .entry(master)
                    .or_insert_with(|| Node::new(master, 0, now));
                node.replica_of = Some(master);
                cluster.add_replica(&master, name);
            }
            if argv[4].parse::<i64>().unwrap_or(0) != 0 {
                node.ping_sent = now;
            }
            if argv[5].parse::<i64>().unwrap_or(0) != 0 {
                node.pong_received = now;
            }
            node.config_epoch = if node.is_replica() && node.replica_of.is_some() {
                0
            } else {
                argv[6].parse().unwrap_or(0)
            };
            cluster.nodes.insert(name, node);
            for field in &argv[8..] {
                if let Some(inner) = field.strip_prefix('[') {
                    let inner = inner
                        .strip_suffix(']')
                        .ok_or_else(|| err("unterminated migration entry"))?;
                    let (slot, rest) = inner
                        .split_once('-')
                        .ok_or_else(|| err("invalid migration entry"))?;
                    let slot: usize = slot.parse().map_err(|_| err("invalid slot"))?;
                    if slot >= SLOTS {
                        return Err(err("slot out of range"));
                    }
                    let (to, other) = if let Some(o) = rest.strip_prefix(">-") {
                        (true, o)
                    } else if let Some(o) = rest.strip_prefix("<-") {
                        (false, o)
                    } else {
                        return Err(err("invalid migration direction"));
                    };
                    let other = name_of(other).ok_or_else(|| err("invalid node name"))?;
                    cluster
                        .nodes
                        .entry(other)
                        .or_insert_with(|| Node::new(other, 0, now));
                    if to {
                        cluster.migrating.insert(slot as u16, other);
                    } else {
                        cluster.importing.insert(slot as u16, other);
                    }
                    continue;
                }
                let (start, stop) = match field.split_once('-') {
                    Some((a, b)) => (a.parse::<usize>(), b.parse::<usize>()),
                    None => (field.parse::<usize>(), field.parse::<usize>()),
                };
                let (Ok(start), Ok(stop)) = (start, stop) else {
                    return Err(err("invalid slot range"));
                };
                if start >= SLOTS || stop >= SLOTS {
                    return Err(err("slot out of range"));
                }
                for s in start..=stop {
                    cluster.add_slot(&name, s as u16);
                }
            }
        }
        let me = myself.ok_or(ConfError {
            line: text.lines().count(),
            reason: "no node is flagged myself".into(),
        })?;
        cluster.myself = me;
        let max = cluster.max_epoch();
        if max > cluster.current_epoch {
            cluster.current_epoch = max;
        }
        let settings = cluster.settings.clone();
        let me = cluster.me_mut();
        me.port = settings.port;
        me.cport = settings.cport;
        if let Some(ip) = &settings.announce_ip {
            me.ip = ip.clone();
        }
        me.hostname = settings.hostname;
        Ok(Some(cluster))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn settings() -> Settings {
        Settings {
            port: 9001,
            cport: 19001,
            ..Settings::default()
        }
    }

    #[test]
    fn a_saved_config_reads_back_the_same() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut c = Cluster::new(settings(), 0, &mut rng);
        let me = c.myself;
        for s in 0..100 {
            c.add_slot(&me, s);
        }
        c.current_epoch = 5;
        c.last_vote_epoch = 3;
        c.me_mut().config_epoch = 2;
        c.me_mut().ip = "127.0.0.1".into();
        let other = super::super::random_name(&mut rng);
        c.migrating.insert(7, other);
        let mut n = Node::new(other, flags::SLAVE, 0);
        n.ip = "127.0.0.1".into();
        n.port = 9002;
        n.cport = 19002;
        n.replica_of = Some(me);
        c.add_node(n);
        c.add_replica(&me, other);
        let text = c.config_text();
        let back = Cluster::from_config(settings(), &text, 0).unwrap().unwrap();
        assert_eq!(back.config_text(), text);
        assert_eq!(back.myself, me);
        assert_eq!(back.current_epoch, 5);
        assert_eq!(back.me().replicas, vec![other]);
    }

    #[test]
    fn corrupt_configs_name_the_line() {
        let good = format!(
            "{} 127.0.0.1:9001@19001 myself,master - 0 0 1 connected 0-10\nvars currentEpoch 1 lastVoteEpoch 0\n",
            "a".repeat(40)
        );
        assert!(Cluster::from_config(settings(), &good, 0)
            .unwrap()
            .is_some());
        assert!(Cluster::from_config(settings(), "\n\n", 0)
            .unwrap()
            .is_none());
        for (bad, line) in [
            (good.replace("0-10", "0-16384"), 1),
            (good.replace("myself,master", "myself,boss"), 1),
            (good.replace(&"a".repeat(40), "short"), 1),
            (good.replace("myself,", ""), 2),
            (good.replace("lastVoteEpoch 0", "lastVoteEpoch"), 2),
            (good.replace(" connected 0-10", ""), 1),
            (good.replace("0-10", "[5-?-x]"), 1),
        ] {
            let e = Cluster::from_config(settings(), &bad, 0).err().unwrap();
            assert_eq!(e.line, line, "{bad}: {e}");
        }
    }
}
