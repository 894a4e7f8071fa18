//! The SENTINEL command family, answered from the machine's state with Redis 7.0's reply
//! shapes and error texts (`sentinelCommand` and `addReplySentinelRedisInstance`). Replies are
//! [`Reply`] values; the driver encodes them in RESP2 or RESP3 (instances are maps in RESP3,
//! flat arrays of bulk strings in RESP2, as in Redis).

use rand::RngCore;

use crate::config::LogLevel;
use crate::glob::glob_match;
use crate::resp::Reply;

use super::config::{set_down_after, CreateError};
use super::event::describe_master;
use super::failover::{self, select_slave};
use super::instance::{Instance, Kind, Master};
use super::{Event, Ms, Output, Sentinel};

fn err(text: impl Into<String>) -> Reply {
    Reply::error(text.into())
}

fn no_such_master() -> Reply {
    err("ERR No such master with that name")
}

fn arity_error(sub: &str) -> Reply {
    err(format!(
        "ERR wrong number of arguments for 'sentinel|{}' command",
        sub.to_ascii_lowercase()
    ))
}

fn bulk(text: impl Into<String>) -> Reply {
    Reply::bulk_string(text.into())
}

/// One instance as SENTINEL MASTER/REPLICAS/SENTINELS show it.
pub fn instance_reply(inst: &Instance, master: Option<&Master>, now: Ms) -> Reply {
    let mut fields: Vec<(&str, String)> = vec![
        ("name", inst.name.clone()),
        ("ip", inst.addr.ip.clone()),
        ("port", inst.addr.port.to_string()),
        ("runid", inst.runid.clone().unwrap_or_default()),
        ("flags", inst.flags_text()),
        ("link-pending-commands", inst.link.pending.to_string()),
        ("link-refcount", "1".into()),
    ];
    if let Some(m) = master.filter(|_| inst.flags.failover_in_progress) {
        fields.push(("failover-state", m.failover_state.name().into()));
    }
    let ago = |t: Ms| now.saturating_sub(t).to_string();
    fields.push((
        "last-ping-sent",
        if inst.link.act_ping_time != 0 {
            ago(inst.link.act_ping_time)
        } else {
            "0".into()
        },
    ));
    fields.push(("last-ok-ping-reply", ago(inst.link.last_avail_time)));
    fields.push(("last-ping-reply", ago(inst.link.last_pong_time)));
    if inst.flags.s_down {
        fields.push(("s-down-time", ago(inst.s_down_since_time)));
    }
    if inst.flags.o_down {
        fields.push(("o-down-time", ago(inst.o_down_since_time)));
    }
    fields.push((
        "down-after-milliseconds",
        inst.down_after_period.to_string(),
    ));
    if inst.kind != Kind::Sentinel {
        fields.push((
            "info-refresh",
            if inst.info_refresh != 0 {
                ago(inst.info_refresh)
            } else {
                "0".into()
            },
        ));
        fields.push(("role-reported", inst.role_reported.word().into()));
        fields.push(("role-reported-time", ago(inst.role_reported_time)));
    }
    if let (Kind::Master, Some(m)) = (inst.kind, master) {
        fields.push(("config-epoch", m.config_epoch.to_string()));
        fields.push(("num-slaves", m.replicas.len().to_string()));
        fields.push(("num-other-sentinels", m.sentinels.len().to_string()));
        fields.push(("quorum", m.quorum.to_string()));
        fields.push(("failover-timeout", m.failover_timeout.to_string()));
        fields.push(("parallel-syncs", m.parallel_syncs.to_string()));
        if let Some(s) = &m.notification_script {
            fields.push(("notification-script", s.clone()));
        }
        if let Some(s) = &m.client_reconfig_script {
            fields.push(("client-reconfig-script", s.clone()));
        }
    }
    if inst.kind == Kind::Replica {
        fields.push((
            "master-link-down-time",
            inst.master_link_down_time.to_string(),
        ));
        fields.push((
            "master-link-status",
            if inst.slave_master_link_up {
                "ok"
            } else {
                "err"
            }
            .into(),
        ));
        fields.push((
            "master-host",
            inst.slave_master_host.clone().unwrap_or_else(|| "?".into()),
        ));
        fields.push(("master-port", inst.slave_master_port.to_string()));
        fields.push(("slave-priority", inst.slave_priority.to_string()));
        fields.push(("slave-repl-offset", inst.slave_repl_offset.to_string()));
        fields.push((
            "replica-announced",
            u8::from(inst.replica_announced).to_string(),
        ));
    }
    if inst.kind == Kind::Sentinel {
        fields.push(("last-hello-message", ago(inst.last_hello_time)));
        fields.push((
            "voted-leader",
            inst.leader.clone().unwrap_or_else(|| "?".into()),
        ));
        fields.push(("voted-leader-epoch", inst.leader_epoch.to_string()));
    }
    Reply::Map(
        fields
            .into_iter()
            .map(|(k, v)| (bulk(k), bulk(v)))
            .collect(),
    )
}

/// `SENTINEL <subcommand> ...` (`args` excludes the word SENTINEL).
pub fn sentinel_command(
    s: &mut Sentinel,
    args: &[String],
    now: Ms,
    rng: &mut dyn RngCore,
) -> (Reply, Vec<Output>) {
    let reply = run(s, args, now, rng);
    (reply, std::mem::take(&mut s.core.out))
}

fn run(s: &mut Sentinel, args: &[String], now: Ms, rng: &mut dyn RngCore) -> Reply {
    let Some(sub) = args.first() else {
        return err("ERR wrong number of arguments for 'sentinel' command");
    };
    let sub_l = sub.to_ascii_lowercase();
    let argc = args.len() as i64 + 1; // as Redis counts: SENTINEL included
    let Some(arity) = subcommand_arity(&sub_l) else {
        return err(format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            truncate(sub, 128)
        ));
    };
    if (arity > 0 && argc != arity) || argc < -arity {
        return arity_error(&sub_l);
    }
    match sub_l.as_str() {
        "help" => Reply::Array(HELP.iter().map(|l| Reply::bulk(l.as_bytes())).collect()),
        "masters" => Reply::Array(
            s.masters
                .values()
                .map(|m| instance_reply(&m.inst, Some(m), now))
                .collect(),
        ),
        "master" => match s.masters.get(&args[1]) {
            Some(m) => instance_reply(&m.inst, Some(m), now),
            None => no_such_master(),
        },
        "slaves" | "replicas" => match s.masters.get(&args[1]) {
            // Ordered by address: the order replicas were discovered in depends on which one
            // connected to the master first (Redis's is its dict's order, also arbitrary).
            Some(m) => {
                let mut replicas: Vec<(&String, &Instance)> = m
                    .replicas
                    .iter()
                    .filter(|(_, r)| r.replica_announced)
                    .collect();
                replicas.sort_by(|a, b| a.0.cmp(b.0));
                Reply::Array(
                    replicas
                        .into_iter()
                        .map(|(_, r)| instance_reply(r, Some(m), now))
                        .collect(),
                )
            }
            None => no_such_master(),
        },
        "sentinels" => match s.masters.get(&args[1]) {
            Some(m) => Reply::Array(
                m.sentinels
                    .values()
                    .map(|r| instance_reply(r, Some(m), now))
                    .collect(),
            ),
            None => no_such_master(),
        },
        "myid" => bulk(s.core.myid.clone()),
        "get-master-addr-by-name" => match s.masters.get(&args[1]) {
            Some(m) => {
                let addr = m.current_addr();
                Reply::Array(vec![bulk(addr.ip.clone()), bulk(addr.port.to_string())])
            }
            None => Reply::NullArray,
        },
        "is-master-down-by-addr" => is_master_down_by_addr(s, args, now, rng),
        "reset" => {
            let pattern = args[1].as_bytes();
            let names: Vec<String> = s
                .masters
                .keys()
                .filter(|n| glob_match(pattern, n.as_bytes(), false))
                .cloned()
                .collect();
            for name in &names {
                let m = s.masters.get_mut(name).expect("listed");
                failover::reset_master(&mut s.core, m, true, now);
                let m = &s.masters[name];
                s.core.emit(Event::ResetMaster {
                    instance: describe_master(m),
                });
            }
            if !names.is_empty() {
                s.core.flush_config();
            }
            Reply::Int(names.len() as i64)
        }
        "failover" => {
            let Some(m) = s.masters.get_mut(&args[1]) else {
                return no_such_master();
            };
            if m.inst.flags.failover_in_progress {
                return err("INPROG Failover already in progress");
            }
            if select_slave(m, &s.core, now).is_none() {
                return err("NOGOODSLAVE No suitable replica to promote");
            }
            s.core.emit(Event::UserFailover {
                master: m.name().to_string(),
            });
            failover::start_failover(&mut s.core, m, now, rng);
            m.inst.flags.force_failover = true;
            Reply::ok()
        }
        "ckquorum" => {
            let Some(m) = s.masters.get(&args[1]) else {
                return no_such_master();
            };
            let voters = m.sentinels.len() + 1;
            let usable = 1 + m
                .sentinels
                .values()
                .filter(|r| !r.flags.s_down && !r.flags.o_down)
                .count();
            let no_quorum = usable < m.quorum as usize;
            let no_auth = usable < voters / 2 + 1;
            if !no_quorum && !no_auth {
                return Reply::Simple(
                    format!(
                        "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                    )
                    .into(),
                );
            }
            let mut text = format!("NOQUORUM {usable} usable Sentinels. ");
            if no_quorum {
                text.push_str(
                    "Not enough available Sentinels to reach the specified quorum for this master",
                );
            }
            if no_auth {
                if no_quorum {
                    text.push_str(". ");
                }
                text.push_str(
                    "Not enough available Sentinels to reach the majority and authorize a failover",
                );
            }
            err(text)
        }
        "flushconfig" => {
            s.core.flush_config();
            Reply::ok()
        }
        "monitor" => {
            let quorum = match args[4].parse::<i64>() {
                Ok(q) => q,
                Err(_) => return err("ERR Invalid quorum"),
            };
            if args[3].parse::<i64>().is_err() {
                return err("ERR Invalid port");
            }
            if quorum <= 0 {
                return err("ERR Quorum must be 1 or greater.");
            }
            match s.add_master(
                &args[1],
                &args[2],
                &args[3],
                quorum.min(u32::MAX as i64) as u32,
                now,
            ) {
                Ok(()) => {
                    let m = &s.masters[&args[1]];
                    s.core.emit(Event::Monitor {
                        instance: describe_master(m),
                        quorum: m.quorum,
                    });
                    s.core.flush_config();
                    Reply::ok()
                }
                Err(CreateError::Duplicate) => err("ERR Duplicate master name."),
                Err(CreateError::BadPort) => err("ERR Invalid port number."),
                Err(CreateError::BadAddress) => err("ERR Invalid IP address or hostname specified"),
            }
        }
        "remove" => {
            let Some(m) = s.masters.get(&args[1]) else {
                return no_such_master();
            };
            s.core.emit(Event::MonitorRemoved {
                instance: describe_master(m),
            });
            s.masters.shift_remove(&args[1]);
            s.core.flush_config();
            Reply::ok()
        }
        "set" => set(s, args, now),
        "config" => config(s, args),
        "info-cache" => {
            let names: Vec<&String> = if args.len() > 1 {
                args[1..]
                    .iter()
                    .filter(|n| s.masters.contains_key(*n))
                    .collect()
            } else {
                s.masters.keys().collect()
            };
            let mut out = Vec::new();
            for name in names {
                let m = &s.masters[name];
                out.push(bulk(name.clone()));
                let entry = |i: &Instance| {
                    Reply::Array(vec![
                        Reply::Int(if i.info_refresh != 0 {
                            now.saturating_sub(i.info_refresh) as i64
                        } else {
                            0
                        }),
                        match &i.info {
                            Some(text) => Reply::Bulk(text.clone().into()),
                            None => Reply::Null,
                        },
                    ])
                };
                let mut items = vec![entry(&m.inst)];
                items.extend(m.replicas.values().map(entry));
                out.push(Reply::Array(items));
            }
            Reply::Array(out)
        }
        "pending-scripts" => Reply::Array(Vec::new()),
        "simulate-failure" => {
            s.core.simfailure_flags = 0;
            for arg in &args[1..] {
                match arg.to_ascii_lowercase().as_str() {
                    "crash-after-election" => {
                        s.core.simfailure_flags |= super::SIMFAILURE_CRASH_AFTER_ELECTION;
                        s.core.log(LogLevel::Warning, "Failure simulation: this Sentinel will crash after being successfully elected as failover leader".into());
                    }
                    "crash-after-promotion" => {
                        s.core.simfailure_flags |= super::SIMFAILURE_CRASH_AFTER_PROMOTION;
                        s.core.log(LogLevel::Warning, "Failure simulation: this Sentinel will crash after promoting the selected replica to master".into());
                    }
                    "help" => {
                        return Reply::Array(vec![
                            bulk("crash-after-election"),
                            bulk("crash-after-promotion"),
                        ])
                    }
                    _ => return err("ERR Unknown failure simulation specified"),
                }
            }
            Reply::ok()
        }
        "debug" => debug(s, args),
        _ => err(format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            truncate(sub, 128)
        )),
    }
}

/// The arity of each SENTINEL subcommand, from Redis 7.0's command table (negative: at least).
fn subcommand_arity(sub: &str) -> Option<i64> {
    Some(match sub {
        "masters" | "myid" | "flushconfig" | "pending-scripts" | "help" => 2,
        "master"
        | "slaves"
        | "replicas"
        | "sentinels"
        | "get-master-addr-by-name"
        | "reset"
        | "failover"
        | "ckquorum"
        | "remove" => 3,
        "is-master-down-by-addr" | "monitor" => 6,
        "set" => -5,
        "config" | "info-cache" | "simulate-failure" => -3,
        "debug" => -2,
        _ => return None,
    })
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid|*>`.
fn is_master_down_by_addr(
    s: &mut Sentinel,
    args: &[String],
    now: Ms,
    rng: &mut dyn RngCore,
) -> Reply {
    let not_int = || err("ERR value is not an integer or out of range");
    let Ok(port) = args[2].parse::<i64>() else {
        return not_int();
    };
    let Ok(req_epoch) = args[3].parse::<i64>() else {
        return not_int();
    };
    let found = s
        .masters
        .values()
        .find(|m| {
            m.inst.addr.is(&args[1], port.clamp(0, 65535) as u16) && (0..=65535).contains(&port)
        })
        .map(|m| m.name().to_string());
    let mut is_down = false;
    let mut leader: Option<String> = None;
    let mut leader_epoch = 0u64;
    if let Some(name) = found {
        let m = s.masters.get_mut(&name).expect("found");
        is_down = !s.core.tilt && m.inst.flags.s_down;
        if args[4] != "*" {
            let (l, e) =
                failover::vote_leader(&mut s.core, m, req_epoch.max(0) as u64, &args[4], now, rng);
            leader = l;
            leader_epoch = e;
        }
    }
    Reply::Array(vec![
        Reply::Int(i64::from(is_down)),
        bulk(leader.unwrap_or_else(|| "*".into())),
        Reply::Int(leader_epoch as i64),
    ])
}

/// `SENTINEL SET <master> <option> <value> [<option> <value> ...]`. Options are applied one
/// by one, each with its `+set` event, as `sentinelSetCommand` does: an error stops at that
/// option, keeping the ones before it.
fn set(s: &mut Sentinel, args: &[String], now: Ms) -> Reply {
    let Some(m) = s.masters.get_mut(&args[1]) else {
        return no_such_master();
    };
    let master_name = m.name().to_string();
    let mut changes = 0;
    let mut drop_links = false;
    let mut j = 2;
    let result = loop {
        if j >= args.len() {
            break Ok(());
        }
        let option = args[j].as_str();
        let option_l = option.to_ascii_lowercase();
        let more = args.len() - 1 - j;
        let value = args.get(j + 1).cloned().unwrap_or_default();
        let bad = |value: &str| {
            err(format!(
                "ERR Invalid argument '{value}' for SENTINEL SET '{option}'"
            ))
        };
        let positive = |value: &str| value.parse::<i64>().ok().filter(|v| *v > 0);
        let mut shown = value.clone();
        let mut used = 2;
        match option_l.as_str() {
            "down-after-milliseconds" if more > 0 => match positive(&value) {
                Some(ms) => set_down_after(m, ms as Ms),
                None => break Err(bad(&value)),
            },
            "failover-timeout" if more > 0 => match positive(&value) {
                Some(ms) => m.failover_timeout = ms as Ms,
                None => break Err(bad(&value)),
            },
            "parallel-syncs" if more > 0 => match positive(&value) {
                Some(n) => m.parallel_syncs = n,
                None => break Err(bad(&value)),
            },
            "quorum" if more > 0 => match positive(&value) {
                Some(q) => m.quorum = q.min(u32::MAX as i64) as u32,
                None => break Err(bad(&value)),
            },
            "master-reboot-down-after-period" if more > 0 => {
                match value.parse::<i64>().ok().filter(|v| *v >= 0) {
                    Some(ms) => m.master_reboot_down_after_period = ms as Ms,
                    None => break Err(bad(&value)),
                }
            }
            "notification-script" | "client-reconfig-script" if more > 0 => {
                if s.core.settings.deny_scripts_reconfig {
                    break Err(err("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"));
                }
                let notification = option_l == "notification-script";
                if !value.is_empty() && !super::config::is_executable(&value) {
                    break Err(err(if notification {
                        "ERR Notification script seems non existing or non executable"
                    } else {
                        "ERR Client reconfiguration script seems non existing or non executable"
                    }));
                }
                let slot = if notification {
                    &mut m.notification_script
                } else {
                    &mut m.client_reconfig_script
                };
                *slot = (!value.is_empty()).then(|| value.clone());
            }
            "auth-pass" if more > 0 => {
                m.auth_pass = (!value.is_empty()).then(|| value.clone());
                drop_links = true;
                shown = "******".into();
            }
            "auth-user" if more > 0 => {
                m.auth_user = (!value.is_empty()).then(|| value.clone());
                drop_links = true;
            }
            "rename-command" if more > 1 => {
                let to = args[j + 2].clone();
                if value.is_empty() || to.is_empty() {
                    break Err(bad(if to.is_empty() { &to } else { &value }));
                }
                m.renamed_commands
                    .retain(|(f, _)| !f.eq_ignore_ascii_case(&value));
                if !value.eq_ignore_ascii_case(&to) {
                    m.renamed_commands.push((value.clone(), to.clone()));
                }
                shown = format!("{value} {to}");
                used = 3;
            }
            _ => {
                break Err(err(format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{option}'"
                )))
            }
        }
        changes += 1;
        let text = format!("{} {option} {shown}", describe_master(m));
        s.core.emit(Event::SettingChanged { change: text });
        j += used;
    };
    if drop_links {
        failover::drop_links(
            &mut s.core,
            s.masters.get_mut(&master_name).expect("exists"),
        );
    }
    let _ = now;
    if changes > 0 {
        s.core.flush_config();
    }
    match result {
        Ok(()) => Reply::ok(),
        Err(reply) => reply,
    }
}

/// `SENTINEL CONFIG GET <pattern>` / `SENTINEL CONFIG SET <name> <value>`.
fn config(s: &mut Sentinel, args: &[String]) -> Reply {
    let st = &mut s.core.settings;
    match (args[1].to_ascii_lowercase().as_str(), args.len()) {
        ("get", 3) => {
            let pattern = args[2].as_bytes();
            let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
            let all = [
                ("resolve-hostnames", yn(st.resolve_hostnames)),
                ("announce-hostnames", yn(st.announce_hostnames)),
                ("announce-ip", st.announce_ip.clone().unwrap_or_default()),
                ("announce-port", st.announce_port.to_string()),
                (
                    "sentinel-user",
                    st.sentinel_user.clone().unwrap_or_default(),
                ),
                (
                    "sentinel-pass",
                    st.sentinel_pass.clone().unwrap_or_default(),
                ),
            ];
            Reply::Map(
                all.into_iter()
                    .filter(|(k, _)| glob_match(pattern, k.as_bytes(), true))
                    .map(|(k, v)| (bulk(k), bulk(v)))
                    .collect(),
            )
        }
        ("set", 4) => {
            let (option, value) = (args[2].to_ascii_lowercase(), args[3].clone());
            let bad = || {
                err(format!(
                    "ERR Invalid value '{}' to SENTINEL CONFIG SET '{}'",
                    args[3], args[2]
                ))
            };
            let yes_no = |v: &str| match v.to_ascii_lowercase().as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            match option.as_str() {
                "resolve-hostnames" => match yes_no(&value) {
                    Some(b) => st.resolve_hostnames = b,
                    None => return bad(),
                },
                "announce-hostnames" => match yes_no(&value) {
                    Some(b) => st.announce_hostnames = b,
                    None => return bad(),
                },
                "announce-ip" => st.announce_ip = Some(value),
                "announce-port" => match value.parse::<u16>() {
                    Ok(p) => st.announce_port = p,
                    Err(_) => return bad(),
                },
                "sentinel-user" => st.sentinel_user = (!value.is_empty()).then_some(value),
                "sentinel-pass" => st.sentinel_pass = (!value.is_empty()).then_some(value),
                _ => {
                    return err(format!(
                        "ERR Invalid argument '{}' to SENTINEL CONFIG SET",
                        args[2]
                    ))
                }
            }
            s.core.flush_config();
            if option.starts_with("sentinel-") {
                // New credentials for the other sentinels: reconnect with them
                // (`sentinelDropConnections`).
                for m in s.masters.values_mut() {
                    failover::drop_sentinel_links(&mut s.core, m);
                }
            }
            Reply::ok()
        }
        _ => err("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported."),
    }
}

/// `SENTINEL DEBUG [<param> <value> ...]`: show or change the timing constants.
fn debug(s: &mut Sentinel, args: &[String]) -> Reply {
    let t = &mut s.core.timing;
    if args.len() == 1 {
        let all = [
            ("INFO-PERIOD", t.info_period),
            ("PING-PERIOD", t.ping_period),
            ("ASK-PERIOD", t.ask_period),
            ("PUBLISH-PERIOD", t.publish_period),
            ("DEFAULT-DOWN-AFTER", t.default_down_after),
            ("DEFAULT-FAILOVER-TIMEOUT", t.default_failover_timeout),
            ("TILT-TRIGGER", t.tilt_trigger),
            ("TILT-PERIOD", t.tilt_period),
            ("SLAVE-RECONF-TIMEOUT", t.slave_reconf_timeout),
            ("MIN-LINK-RECONNECT-PERIOD", t.min_link_reconnect_period),
            ("ELECTION-TIMEOUT", t.election_timeout),
            ("SCRIPT-MAX-RUNTIME", t.script_max_runtime),
            ("SCRIPT-RETRY-DELAY", t.script_retry_delay),
        ];
        return Reply::Map(
            all.into_iter()
                .map(|(k, v)| (bulk(k), bulk(v.to_string())))
                .collect(),
        );
    }
    let mut j = 1;
    while j < args.len() {
        let option = args[j].as_str();
        let slot = match option.to_ascii_lowercase().as_str() {
            "info-period" => Some(&mut t.info_period),
            "ping-period" => Some(&mut t.ping_period),
            "ask-period" => Some(&mut t.ask_period),
            "publish-period" => Some(&mut t.publish_period),
            "default-down-after" => Some(&mut t.default_down_after),
            "default-failover-timeout" => Some(&mut t.default_failover_timeout),
            "tilt-trigger" => Some(&mut t.tilt_trigger),
            "tilt-period" => Some(&mut t.tilt_period),
            "slave-reconf-timeout" => Some(&mut t.slave_reconf_timeout),
            "min-link-reconnect-period" => Some(&mut t.min_link_reconnect_period),
            "election-timeout" => Some(&mut t.election_timeout),
            "script-max-runtime" => Some(&mut t.script_max_runtime),
            "script-retry-delay" => Some(&mut t.script_retry_delay),
            _ => None,
        };
        let (Some(slot), Some(value)) = (slot, args.get(j + 1)) else {
            return err(format!(
                "ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
            ));
        };
        match value.parse::<i64>() {
            Ok(v) if v > 0 => *slot = v as Ms,
            _ => {
                return err(format!(
                    "ERR Invalid argument '{value}' for SENTINEL DEBUG '{option}'"
                ))
            }
        }
        j += 2;
    }
    Reply::ok()
}

/// The `# Sentinel` section of INFO.
pub fn info_section(s: &Sentinel, now: Ms) -> String {
    let core = &s.core;
    let mut out = String::from("# Sentinel\r\n");
    out.push_str(&format!("sentinel_masters:{}\r\n", s.masters.len()));
    out.push_str(&format!("sentinel_tilt:{}\r\n", u8::from(core.tilt)));
    let tilt_since = if core.tilt {
        (now.saturating_sub(core.tilt_start_time) / 1000) as i64
    } else {
        -1
    };
    out.push_str(&format!("sentinel_tilt_since_seconds:{tilt_since}\r\n"));
    out.push_str("sentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\n");
    out.push_str(&format!(
        "sentinel_simulate_failure_flags:{}\r\n",
        core.simfailure_flags
    ));
    for (i, m) in s.masters.values().enumerate() {
        let status = if m.inst.flags.o_down {
            "odown"
        } else if m.inst.flags.s_down {
            "sdown"
        } else {
            "ok"
        };
        let addr = &m.inst.addr;
        out.push_str(&format!(
            "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
            m.name(),
            addr.ip,
            addr.port,
            m.replicas.len(),
            m.sentinels.len() + 1
        ));
    }
    out
}

/// `ROLE` on a sentinel: `sentinel` and the names of the monitored masters.
pub fn role_reply(s: &Sentinel) -> Reply {
    Reply::Array(vec![
        bulk("sentinel"),
        Reply::Array(s.masters.keys().map(|n| bulk(n.clone())).collect()),
    ])
}

const HELP: &[&str] = &[
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
    "HELP",
    "    Print this help.",
];
