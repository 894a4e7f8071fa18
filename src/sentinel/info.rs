//! Parsers for what a Sentinel reads from the wire: an instance's INFO reply and a hello
//! message. Both are pure and forgiving, as `sentinelRefreshInstanceInfo` and
//! `sentinelProcessHelloMessage` are: unknown lines are skipped, a malformed hello is ignored.

use super::instance::{Addr, Kind};

/// The INFO fields a Sentinel uses (interop notes §3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceInfo {
    /// `run_id:` when it is exactly 40 characters long.
    pub run_id: Option<String>,
    /// `role:master` or `role:slave`.
    pub role: Option<Kind>,
    /// `slaveN:ip=...,port=...` lines (a master's replicas).
    pub replicas: Vec<Addr>,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: bool,
    /// `master_link_down_since_seconds` × 1000.
    pub master_link_down_ms: u64,
    pub slave_priority: Option<i64>,
    pub slave_repl_offset: Option<u64>,
    pub replica_announced: Option<bool>,
}

/// Parses an INFO reply. Lines are split on `\r\n` (a bare `\n` also works).
pub fn parse_info(text: &str) -> InstanceInfo {
    let mut info = InstanceInfo::default();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(run_id) = line.strip_prefix("run_id:") {
            if run_id.len() >= 40 && run_id.is_char_boundary(40) {
                info.run_id = Some(run_id[..40].to_string());
            }
        } else if let Some(rest) = replica_line(line) {
            if let Some(addr) = parse_replica_line(rest) {
                info.replicas.push(addr);
            }
        } else if let Some(v) = line.strip_prefix("master_link_down_since_seconds:") {
            info.master_link_down_ms = (atoll(v).max(0) as u64).saturating_mul(1000);
        } else if let Some(v) = line.strip_prefix("role:") {
            info.role = match v {
                "master" => Some(Kind::Master),
                "slave" => Some(Kind::Replica),
                _ => info.role,
            };
        } else if let Some(v) = line.strip_prefix("master_host:") {
            info.master_host = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("master_port:") {
            info.master_port = Some(atoll(v).clamp(0, 65535) as u16);
        } else if let Some(v) = line.strip_prefix("master_link_status:") {
            info.master_link_up = v.eq_ignore_ascii_case("up");
        } else if let Some(v) = line.strip_prefix("slave_priority:") {
            info.slave_priority = Some(atoll(v));
        } else if let Some(v) = line.strip_prefix("slave_repl_offset:") {
            info.slave_repl_offset = Some(atoll(v).max(0) as u64);
        } else if let Some(v) = line.strip_prefix("replica_announced:") {
            info.replica_announced = Some(atoll(v) != 0);
        }
    }
    info
}

/// `slave<digit>...:` → the part after the colon.
fn replica_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("slave")?;
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let colon = rest.find(':')?;
    Some(&rest[colon + 1..])
}

/// `ip=127.0.0.1,port=6380,state=online,...`, or the old `127.0.0.1,6380,online` form.
fn parse_replica_line(rest: &str) -> Option<Addr> {
    if rest.contains("ip=") {
        let field = |key: &str| {
            rest.split(',')
                .find_map(|kv| kv.strip_prefix(key))
                .map(str::to_string)
        };
        let ip = field("ip=")?;
        let port = field("port=")?;
        Some(Addr::new(&ip, atoll(&port).clamp(0, 65535) as u16))
    } else {
        let mut parts = rest.split(',');
        let ip = parts.next()?;
        let port = parts.next()?;
        Some(Addr::new(ip, atoll(port).clamp(0, 65535) as u16))
    }
}

/// C's `atoll`: leading digits (with an optional sign), 0 when there are none.
pub fn atoll(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

/// A hello message: `ip,port,runid,current_epoch,master,master_ip,master_port,config_epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub addr: Addr,
    pub runid: String,
    pub current_epoch: u64,
    pub master_name: String,
    pub master_addr: Addr,
    pub master_config_epoch: u64,
}

impl Hello {
    /// Parses a hello; `None` unless it has exactly 8 fields (Redis ignores anything else).
    pub fn parse(payload: &str) -> Option<Hello> {
        let fields: Vec<&str> = payload.split(',').collect();
        if fields.len() != 8 {
            return None;
        }
        let port = |text: &str| atoll(text).clamp(0, 65535) as u16;
        let epoch = |text: &str| atoll(text).max(0) as u64;
        Some(Hello {
            addr: Addr::new(fields[0], port(fields[1])),
            runid: fields[2].to_string(),
            current_epoch: epoch(fields[3]),
            master_name: fields[4].to_string(),
            master_addr: Addr::new(fields[5], port(fields[6])),
            master_config_epoch: epoch(fields[7]),
        })
    }

    pub fn to_payload(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.addr.ip,
            self.addr.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master_addr.ip,
            self.master_addr.port,
            self.master_config_epoch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_of_a_master_lists_its_replicas() {
        let text = "# Server\r\nrun_id:0123456789012345678901234567890123456789\r\n\
                    # Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
                    slave0:ip=127.0.0.1,port=6380,state=online,offset=1,lag=0\r\n\
                    slave1:127.0.0.2,6381,online\r\n";
        let info = parse_info(text);
        assert_eq!(info.role, Some(Kind::Master));
        assert_eq!(info.run_id.as_deref().map(str::len), Some(40));
        assert_eq!(
            info.replicas,
            vec![Addr::new("127.0.0.1", 6380), Addr::new("127.0.0.2", 6381)]
        );
    }

    #[test]
    fn info_of_a_replica() {
        let text = "role:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\n\
                    master_link_status:down\r\nmaster_link_down_since_seconds:3\r\n\
                    slave_priority:0\r\nslave_repl_offset:77\r\nreplica_announced:0\r\n";
        let info = parse_info(text);
        assert_eq!(info.role, Some(Kind::Replica));
        assert_eq!(info.master_host.as_deref(), Some("10.0.0.1"));
        assert_eq!(info.master_port, Some(6379));
        assert!(!info.master_link_up);
        assert_eq!(info.master_link_down_ms, 3000);
        assert_eq!(info.slave_priority, Some(0));
        assert_eq!(info.slave_repl_offset, Some(77));
        assert_eq!(info.replica_announced, Some(false));
    }

    #[test]
    fn short_run_ids_and_junk_are_ignored() {
        let info = parse_info("run_id:abc\r\nslaveX:ip=1\r\nslave0:ip=1.2.3.4\r\nrole:weird\r\n");
        assert_eq!(info, InstanceInfo::default());
    }

    #[test]
    fn hello_round_trip_and_malformed_hellos() {
        let text =
            "127.0.0.1,26379,c25ad2d18e0d3a5aca621bc6dbf46137e1ad4e2b,1,mymaster,127.0.0.1,6379,0";
        let hello = Hello::parse(text).unwrap();
        assert_eq!(hello.addr, Addr::new("127.0.0.1", 26379));
        assert_eq!(hello.to_payload(), text);
        assert!(Hello::parse("a,b,c").is_none());
        assert!(Hello::parse(&format!("{text},extra")).is_none());
        let junk = Hello::parse("x,notaport,id,-5,m,y,99999999,zz").unwrap();
        assert_eq!(junk.addr.port, 0);
        assert_eq!(junk.current_epoch, 0);
        assert_eq!(junk.master_addr.port, 65535);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"slave0:ip=,port=run_id:role:master\r\n,0123456789\xc3\xa9";
        for _ in 0..2000 {
            let len = rng.gen_range(0..120);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_info(&text);
            let _ = Hello::parse(&text);
        }
    }
}
