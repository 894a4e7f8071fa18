//! The cluster manager's view of a running cluster and the operations every subcommand is
//! built from: loading the nodes from one of them, the consistency and coverage check, moving
//! a slot with its keys, and the slot primitives `fix` repairs with. Follows redis-cli 7.0's
//! `clusterManager*` functions step by step, with the same commands on the wire and the same
//! messages.

use std::time::Duration;

use crate::client::connection::{format_addr, info_field, io_error_text, Client};
use crate::resp::frame::Frame;

use super::options::Options;
use super::output::Output;
use super::topology::{self, parse_address, Node, SLOTS};

/// How long one reply may take before the node counts as failed (MIGRATE's own timeout is
/// added to it). redis-cli waits forever.
const REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// redis-cli's first warning about unreachable bus ports comes after this many seconds of
/// waiting for the join (plus 0.15 s per node).
const JOIN_CHECK_AFTER: usize = 20;
/// Longest wait for the nodes to agree, in seconds. redis-cli waits forever.
pub const JOIN_LIMIT_SECS: usize = 300;
/// Most GETKEYSINSLOT/MIGRATE rounds for one slot.
const MAX_MIGRATE_ROUNDS: usize = 10_000_000;
/// What MIGRATE's source says when this slot has just become the target's (issue #9223).
const SETSLOT_ONLY_MASTERS: &str = "ERR Please use SETSLOT only with masters.";

/// How [`Manager::move_slot`] behaves (redis-cli's `CLUSTER_MANAGER_OPT_*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MoveOpts {
    /// A dot per migrated key.
    pub verbose: bool,
    /// Move keys without opening the slot or reassigning it.
    pub cold: bool,
    /// Update the manager's own slot tables afterwards.
    pub update: bool,
    /// No "Moving slot ..." line.
    pub quiet: bool,
}

/// The text of a bulk, simple or verbatim reply.
pub fn frame_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Bulk(b) | Frame::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Frame::Verbatim { text, .. } => Some(String::from_utf8_lossy(text).into_owned()),
        _ => None,
    }
}

fn error_text(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Error(e) => Some(String::from_utf8_lossy(e).into_owned()),
        _ => None,
    }
}

/// `getLongInfoField`: the number after `field:`; a missing field reads as `i64::MIN`.
fn info_number(text: &str, field: &str) -> i64 {
    info_field(text, field).map_or(i64::MIN, topology::atoi)
}

/// Sends one command to `node` and reads the reply. `None` (hiredis's NULL reply) when there
/// is no connection or it failed; the connection is dropped then.
pub async fn node_command<A: AsRef<[u8]>>(
    node: &mut Node,
    args: &[A],
    extra_wait: Duration,
) -> Option<Frame> {
    let conn = node.conn.as_mut()?;
    match tokio::time::timeout(REPLY_TIMEOUT + extra_wait, conn.command(args)).await {
        Ok(Ok(frame)) => Some(frame),
        _ => {
            node.conn = None;
            None
        }
    }
}

/// [`node_command`], with an error reply as `Err(Some(text))` and no reply as `Err(None)`.
pub async fn node_checked<A: AsRef<[u8]>>(
    node: &mut Node,
    args: &[A],
) -> Result<Frame, Option<String>> {
    match node_command(node, args, Duration::ZERO).await {
        None => Err(None),
        Some(Frame::Error(e)) => Err(Some(String::from_utf8_lossy(&e).into_owned())),
        Some(frame) => Ok(frame),
    }
}

/// The cluster as loaded, and the terminal.
pub struct Manager<'o, 'io> {
    /// The nodes: the one the command named first, then the others it knows.
    pub nodes: Vec<Node>,
    /// What the check found wrong (redis-cli's `cluster_manager.errors`).
    pub errors: Vec<String>,
    /// Masters that could not be loaded.
    pub unreachable_masters: usize,
    /// The command line.
    pub opts: Options,
    /// `fix` rather than `check`.
    pub fix: bool,
    /// Where it prints.
    pub out: &'o mut Output<'io>,
}

impl<'o, 'io> Manager<'o, 'io> {
    /// A manager with no nodes yet.
    pub fn new(opts: Options, out: &'o mut Output<'io>) -> Self {
        Manager {
            nodes: Vec::new(),
            errors: Vec::new(),
            unreachable_masters: 0,
            opts,
            fix: false,
            out,
        }
    }

    /// Index of the node with id `name` (case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<usize> {
        let name = name.to_ascii_lowercase();
        self.nodes
            .iter()
            .position(|n| !n.name.is_empty() && n.name == name)
    }

    /// Index of the node whose id starts with `prefix`.
    pub fn by_abbreviated_name(&self, prefix: &str) -> Option<usize> {
        let prefix = prefix.to_ascii_lowercase();
        self.nodes
            .iter()
            .position(|n| !n.name.is_empty() && n.name.starts_with(&prefix))
    }

    /// `clusterManagerNodeConnect`: connects (and AUTHs) `node`; prints why not.
    pub async fn connect(&mut self, node: &mut Node) -> bool {
        let addr = format_addr(&node.ip, node.port);
        let mut client = match Client::connect(&addr).await {
            Ok(client) => client,
            Err(e) => {
                self.out.eprint(&format!(
                    "Could not connect to Redis at {}:{}: {}\n",
                    node.ip,
                    node.port,
                    io_error_text(&e)
                ));
                return false;
            }
        };
        if let Some(password) = self.opts.password.clone() {
            let mut args = vec!["AUTH".to_string()];
            args.extend(self.opts.user.clone());
            args.push(password);
            let reply = tokio::time::timeout(REPLY_TIMEOUT, client.command(&args)).await;
            match reply {
                Ok(Ok(Frame::Error(e))) => {
                    self.out
                        .reply_error(&node.addr(), &String::from_utf8_lossy(&e));
                    return false;
                }
                Ok(Ok(_)) => {}
                _ => return false,
            }
        }
        node.conn = Some(client);
        true
    }

    /// Sends a command to node `i` (see [`node_command`]).
    pub async fn call<A: AsRef<[u8]>>(&mut self, i: usize, args: &[A]) -> Option<Frame> {
        node_command(&mut self.nodes[i], args, Duration::ZERO).await
    }

    /// Sends a command to node `i`: `Ok` unless the reply is an error (its text) or missing
    /// (`None`). With `print`, an error reply is printed as redis-cli's
    /// `clusterManagerCheckRedisReply` does.
    pub async fn checked<A: AsRef<[u8]>>(
        &mut self,
        i: usize,
        args: &[A],
        print: bool,
    ) -> Result<Frame, Option<String>> {
        let result = node_checked(&mut self.nodes[i], args).await;
        if let (Err(Some(text)), true) = (&result, print) {
            let addr = self.nodes[i].addr();
            self.out.reply_error(&addr, text);
        }
        result
    }

    /// `clusterManagerNodeIsCluster`: `Err` carries INFO's error reply, if any.
    pub async fn is_cluster(node: &mut Node) -> Result<bool, Option<String>> {
        let info = node_checked(node, &["INFO"]).await?;
        let text = frame_text(&info).unwrap_or_default();
        Ok(info_number(&text, "cluster_enabled") != 0)
    }

    /// `clusterManagerNodeIsEmpty`: no key in db0 and no other known node.
    pub async fn is_empty(node: &mut Node) -> Result<bool, Option<String>> {
        // No reply at all counts as "not empty", with nothing more to say.
        let info = match node_checked(node, &["INFO"]).await {
            Err(None) => return Ok(false),
            other => frame_text(&other?).unwrap_or_default(),
        };
        if info.contains("db0:") {
            return Ok(false);
        }
        let cluster_info = match node_checked(node, &["CLUSTER", "INFO"]).await {
            Err(None) => return Ok(false),
            other => frame_text(&other?).unwrap_or_default(),
        };
        Ok(info_number(&cluster_info, "cluster_known_nodes") == 1)
    }

    /// `[ERR] Node ip:port is not configured as a cluster node.` (or the INFO error).
    pub fn print_not_cluster(&mut self, node: &Node, err: Option<String>) {
        let msg = err.unwrap_or_else(|| "is not configured as a cluster node.".to_string());
        self.out.err(&format!("[ERR] Node {} {msg}\n", node.addr()));
    }

    /// `[ERR] Node ip:port is not empty. ...` (or the error met while asking).
    pub fn print_not_empty(&mut self, node: &Node, err: Option<String>) {
        let msg = err.unwrap_or_else(|| {
            "is not empty. Either the node already knows other nodes (check with CLUSTER NODES) \
             or contains some key in database 0."
                .to_string()
        });
        self.out.err(&format!("[ERR] Node {} {msg}\n", node.addr()));
    }

    /// `clusterManagerNodeLoadInfo`: reads the node's own line of `CLUSTER NODES` (id, flags,
    /// slots, open slots) and, with `friends`, returns the other nodes it lists.
    pub async fn load_info(
        &mut self,
        node: &mut Node,
        friends: bool,
    ) -> Result<Vec<Node>, Option<String>> {
        let nodes = node_checked(node, &["CLUSTER", "NODES"]).await?;
        let text = frame_text(&nodes).unwrap_or_default();
        let lines = match topology::parse_nodes(&text) {
            Ok(lines) => lines,
            Err(_) => {
                self.out.eprint("Error: invalid CLUSTER NODES reply\n");
                return Err(None);
            }
        };
        let mut found = Vec::new();
        for line in &lines {
            if line.has_flag("myself") {
                node.apply_line(line);
                node.apply_own_slots(line);
                if !friends {
                    break;
                }
            } else if friends {
                let mut friend = Node::new(&line.ip, line.port, line.bus_port);
                friend.apply_line(line);
                found.push(friend);
            }
        }
        Ok(found)
    }

    /// `clusterManagerLoadInfoFromNode`: loads the whole cluster as `node` sees it. Prints why
    /// not and returns false if the entry node cannot be loaded.
    pub async fn load_from_node(&mut self, mut node: Node) -> bool {
        if node.conn.is_none() && !self.connect(&mut node).await {
            return false;
        }
        match Self::is_cluster(&mut node).await {
            Ok(true) => {}
            Ok(false) => {
                self.print_not_cluster(&node, None);
                return false;
            }
            Err(e) => {
                self.print_not_cluster(&node, e);
                return false;
            }
        }
        let friends = match self.load_info(&mut node, true).await {
            Ok(friends) => friends,
            Err(e) => {
                if let Some(e) = e {
                    self.out.reply_error(&node.addr(), &e);
                }
                return false;
            }
        };
        self.nodes = vec![node];
        for mut friend in friends {
            let mut valid = !friend.ip.is_empty() && friend.port != 0;
            if valid {
                valid = self.connect(&mut friend).await;
            }
            if valid {
                match self.load_info(&mut friend, false).await {
                    Ok(_) => {
                        valid = !(friend.has_flag("noaddr")
                            || friend.has_flag("disconnected")
                            || friend.has_flag("fail"));
                    }
                    Err(_) => {
                        self.out.err(&format!(
                            "[ERR] Unable to load info for node {}\n",
                            friend.addr()
                        ));
                        valid = false;
                    }
                }
            }
            if valid {
                self.nodes.push(friend);
            } else if !friend.is_slave() {
                self.unreachable_masters += 1;
            }
        }
        self.count_replicas();
        true
    }

    fn count_replicas(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(master) = self.nodes[i].replicate.clone() else {
                continue;
            };
            match self.by_name(&master) {
                Some(m) => self.nodes[m].replicas_count += 1,
                None => {
                    let addr = self.nodes[i].addr();
                    self.out.warn(&format!(
                        "*** WARNING: {addr} claims to be slave of unknown node ID {master}.\n"
                    ));
                }
            }
        }
    }

    /// `clusterManagerIsConfigConsistent`: every node's slot signature is the same.
    pub async fn is_config_consistent(&mut self) -> bool {
        if self.nodes.len() <= 1 {
            return true;
        }
        let mut first: Option<String> = None;
        for i in 0..self.nodes.len() {
            let signature = match self.call(i, &["CLUSTER", "NODES"]).await {
                Some(frame) if !frame.is_error() => {
                    frame_text(&frame).and_then(|t| topology::config_signature(&t))
                }
                _ => None,
            };
            let Some(signature) = signature else {
                return false;
            };
            match &first {
                None => first = Some(signature),
                Some(f) if *f != signature => return false,
                Some(_) => {}
            }
        }
        true
    }

    /// `clusterManagerGetLinkStatus`: for each node address some node cannot reach (link
    /// disconnected or still in handshake), the nodes that cannot.
    async fn link_status(&mut self) -> Vec<(String, Vec<String>)> {
        let mut status: Vec<(String, Vec<String>)> = Vec::new();
        for i in 0..self.nodes.len() {
            let Ok(frame) = self.checked(i, &["CLUSTER", "NODES"], true).await else {
                continue;
            };
            let text = frame_text(&frame).unwrap_or_default();
            let Some(end) = text.rfind('\n') else {
                continue;
            };
            let from = self.nodes[i].addr();
            for line in text[..end].split('\n') {
                let fields: Vec<&str> = line.split(' ').collect();
                if fields.len() < 8 {
                    continue;
                }
                let (addr, flags, link) = (fields[1], fields[2], fields[7]);
                if flags.contains("myself") {
                    continue;
                }
                let disconnected = flags.contains("disconnected") || link.contains("disconnected");
                if disconnected || flags.contains("handshake") {
                    match status.iter_mut().find(|(a, _)| a == addr) {
                        Some((_, list)) => list.push(from.clone()),
                        None => status.push((addr.to_string(), vec![from.clone()])),
                    }
                }
            }
        }
        status
    }

    /// `clusterManagerWaitForClusterJoin`: a dot a second until the nodes agree, warning
    /// about unreachable bus ports now and then. Gives up after [`JOIN_LIMIT_SECS`].
    pub async fn wait_for_cluster_join(&mut self) -> bool {
        self.out.print("Waiting for the cluster to join\n");
        let check_after = JOIN_CHECK_AFTER + (self.nodes.len() as f32 * 0.15) as usize;
        let mut counter = 0;
        let mut waited = 0;
        while !self.is_config_consistent().await {
            if waited >= JOIN_LIMIT_SECS {
                self.out.print("\n");
                self.out.err(&format!(
                    "[ERR] The nodes did not agree about the configuration within {JOIN_LIMIT_SECS} seconds.\n"
                ));
                return false;
            }
            self.out.print(".");
            tokio::time::sleep(Duration::from_secs(1)).await;
            waited += 1;
            counter += 1;
            if counter > check_after {
                let status = self.link_status().await;
                if !status.is_empty() {
                    self.out.print("\n");
                    self.out.err(&format!(
                        "Warning: {} node(s) may be unreachable\n",
                        status.len()
                    ));
                    for (addr, from) in status {
                        match parse_address(&addr) {
                            Some((ip, _, bus)) if bus != 0 => self.out.err(&format!(
                                " - The port {bus} of node {ip} may be unreachable from:\n"
                            )),
                            _ => self
                                .out
                                .err(&format!(" - Node {addr} may be unreachable from:\n")),
                        }
                        for f in from {
                            self.out.err(&format!("   {f}\n"));
                        }
                        self.out.err(
                            "Cluster bus ports must be reachable by every node.\n\
                             Remember that cluster bus ports are different from standard instance ports.\n",
                        );
                    }
                }
                counter = 0;
            }
        }
        self.out.print("\n");
        true
    }

    /// `clusterManagerShowNodes`.
    pub fn show_nodes(&mut self) {
        let text: String = self
            .nodes
            .iter()
            .map(|n| format!("{}\n", topology::node_info(n, 0)))
            .collect();
        self.out.print(&text);
    }

    /// `clusterManagerShowClusterInfo`: keys, slots and replicas per master.
    pub async fn show_cluster_info(&mut self) {
        let mut masters = 0;
        let mut keys: i64 = 0;
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_slave() || self.nodes[i].name.is_empty() {
                continue;
            }
            let name = self.nodes[i].name.clone();
            let replicas = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(j, n)| *j != i && n.is_slave() && n.replicate.as_deref() == Some(&name))
                .count();
            let dbsize = match self.call(i, &["DBSIZE"]).await {
                Some(Frame::Integer(n)) if n >= 0 => n,
                other => {
                    let err = other.as_ref().and_then(error_text).unwrap_or_default();
                    let addr = self.nodes[i].addr();
                    self.out.reply_error(&addr, &err);
                    return;
                }
            };
            let short: String = name.chars().take(8).collect();
            let line = format!(
                "{} ({short}...) -> {dbsize} keys | {} slots | {replicas} slaves.\n",
                self.nodes[i].addr(),
                self.nodes[i].slots_count
            );
            self.out.print(&line);
            masters += 1;
            keys += dbsize;
        }
        self.out
            .ok(&format!("[OK] {keys} keys in {masters} masters.\n"));
        let per_slot = keys as f32 / SLOTS as f32;
        self.out
            .print(&format!("{per_slot:.2} keys per slot on average.\n"));
    }

    pub(super) fn on_error(&mut self, err: String) {
        self.out.err(&format!("{err}\n"));
        self.errors.push(err);
    }

    /// `clusterManagerCheckCluster`: agreement, open slots, coverage (and multiple owners
    /// when asked), repairing what it can under `fix`. True if all is well.
    pub async fn check_cluster(&mut self, quiet: bool) -> bool {
        let Some(first) = self.nodes.first() else {
            return false;
        };
        let addr = first.addr();
        self.out.info(&format!(
            ">>> Performing Cluster Check (using node {addr})\n"
        ));
        let mut result = true;
        if !quiet {
            self.show_nodes();
        }
        if !self.is_config_consistent().await {
            self.on_error("[ERR] Nodes don't agree about configuration!".to_string());
            result = false;
        } else {
            self.out
                .ok("[OK] All nodes agree about slots configuration.\n");
        }
        self.out.info(">>> Check for open slots...\n");
        let mut open_slots: Vec<String> = Vec::new();
        for i in 0..self.nodes.len() {
            for (state, list) in [
                ("migrating", self.nodes[i].migrating.clone()),
                ("importing", self.nodes[i].importing.clone()),
            ] {
                if list.is_empty() {
                    continue;
                }
                let slots: Vec<String> = list.iter().map(|(slot, _)| slot.clone()).collect();
                for slot in &slots {
                    if !open_slots.contains(slot) {
                        open_slots.push(slot.clone());
                    }
                }
                let err = format!(
                    "[WARNING] Node {} has slots in {state} state {}.",
                    self.nodes[i].addr(),
                    slots.join(",")
                );
                self.on_error(err);
            }
        }
        if !open_slots.is_empty() {
            result = false;
            self.out.err(&format!(
                "[WARNING] The following slots are open: {}.\n",
                open_slots.join(",")
            ));
            if self.fix {
                for slot in &open_slots {
                    let slot = usize::try_from(topology::atoi(slot)).unwrap_or(SLOTS);
                    if slot >= SLOTS {
                        continue;
                    }
                    result = Box::pin(self.fix_open_slot(slot)).await;
                    if !result {
                        break;
                    }
                }
            }
        }
        self.out.info(">>> Check slots coverage...\n");
        let covered = self.covered_slots();
        if covered.iter().all(|c| *c) {
            self.out.ok(&format!("[OK] All {SLOTS} slots covered.\n"));
        } else {
            self.on_error(format!(
                "[ERR] Not all {SLOTS} slots are covered by nodes.\n"
            ));
            result = false;
            if self.fix {
                let fixed = Box::pin(self.fix_slots_coverage(&covered)).await;
                if fixed > 0 {
                    result = true;
                }
            }
        }
        if self.opts.search_multiple_owners {
            result &= Box::pin(self.check_multiple_owners()).await;
        }
        result
    }

    /// Which slots some loaded node serves.
    pub fn covered_slots(&self) -> Vec<bool> {
        let mut covered = vec![false; SLOTS];
        for node in &self.nodes {
            for slot in node.slots.iter() {
                covered[slot] = true;
            }
        }
        covered
    }

    /// `clusterManagerSetSlot`: `CLUSTER SETSLOT <slot> <state> <id of node2>` on node1.
    pub async fn set_slot(
        &mut self,
        node: usize,
        other: usize,
        slot: usize,
        state: &str,
    ) -> Result<(), String> {
        let id = self.nodes[other].name.clone();
        let args = [
            "CLUSTER".to_string(),
            "SETSLOT".into(),
            slot.to_string(),
            state.into(),
            id,
        ];
        match self.call(node, &args).await {
            None => Err("CLUSTER SETSLOT failed to run".to_string()),
            Some(Frame::Error(e)) => Err(String::from_utf8_lossy(&e).into_owned()),
            Some(_) => Ok(()),
        }
    }

    /// [`Manager::set_slot`], printing an error reply.
    pub(super) async fn set_slot_printed(
        &mut self,
        node: usize,
        other: usize,
        slot: usize,
        state: &str,
    ) -> bool {
        match self.set_slot(node, other, slot, state).await {
            Ok(()) => true,
            Err(e) => {
                let addr = self.nodes[node].addr();
                self.out.reply_error(&addr, &e);
                false
            }
        }
    }

    /// `CLUSTER SETSLOT <slot> STABLE`.
    pub(super) async fn clear_slot_status(&mut self, node: usize, slot: usize) -> bool {
        let args = [
            "CLUSTER".to_string(),
            "SETSLOT".into(),
            slot.to_string(),
            "STABLE".into(),
        ];
        self.checked(node, &args, true).await.is_ok()
    }

    /// `CLUSTER COUNTKEYSINSLOT <slot>`; -1 on error.
    pub(super) async fn count_keys_in_slot(&mut self, node: usize, slot: usize) -> i64 {
        let args = [
            "CLUSTER".to_string(),
            "COUNTKEYSINSLOT".into(),
            slot.to_string(),
        ];
        match self.checked(node, &args, true).await {
            Ok(Frame::Integer(n)) => n,
            _ => -1,
        }
    }

    /// `clusterManagerGetSlotOwner`: who serves `slot` according to node `n`'s CLUSTER SLOTS.
    /// `Err` carries the error reply.
    pub(super) async fn slot_owner(
        &mut self,
        n: usize,
        slot: usize,
    ) -> Result<Option<usize>, String> {
        let reply = match self.call(n, &["CLUSTER", "SLOTS"]).await {
            None => return Err(String::new()),
            Some(Frame::Error(e)) => return Err(String::from_utf8_lossy(&e).into_owned()),
            Some(reply) => reply,
        };
        let Frame::Array(ranges) = reply else {
            return Ok(None);
        };
        for range in ranges {
            let Frame::Array(fields) = range else {
                continue;
            };
            let (Some(from), Some(to)) = (
                fields.first().and_then(Frame::as_integer),
                fields.get(1).and_then(Frame::as_integer),
            ) else {
                continue;
            };
            let slot = slot as i64;
            if slot < from || slot > to {
                continue;
            }
            let Some(Frame::Array(node)) = fields.get(2) else {
                continue;
            };
            let owner = match node.get(2).and_then(frame_text) {
                Some(id) => self.by_name(&id),
                None => {
                    let ip = node.first().and_then(frame_text).unwrap_or_default();
                    let port = node.get(1).and_then(Frame::as_integer).unwrap_or(0);
                    self.nodes
                        .iter()
                        .position(|n| n.ip == ip && i64::from(n.port) == port)
                }
            };
            if owner.is_some() {
                return Ok(owner);
            }
        }
        Ok(None)
    }

    /// `clusterManagerDelSlot`: DELSLOTS, an "already unassigned" error tolerated when asked.
    pub(super) async fn del_slot(
        &mut self,
        node: usize,
        slot: usize,
        ignore_unassigned: bool,
    ) -> bool {
        let args = ["CLUSTER".to_string(), "DELSLOTS".into(), slot.to_string()];
        let err = match self.checked(node, &args, false).await {
            Ok(_) => return true,
            Err(err) => err,
        };
        let mut success = false;
        if err.is_some() && ignore_unassigned {
            match self.slot_owner(node, slot).await {
                Ok(None) => success = true,
                Ok(Some(_)) => {}
                Err(owner_err) => {
                    let addr = self.nodes[node].addr();
                    self.out.reply_error(&addr, &owner_err);
                }
            }
        }
        if !success {
            if let Some(err) = err {
                let addr = self.nodes[node].addr();
                self.out.reply_error(&addr, &err);
            }
        }
        success
    }

    /// `clusterManagerSetSlotOwner`: in one MULTI, DELSLOTS + ADDSLOTS (+ STABLE) + BUMPEPOCH;
    /// only an ADDSLOTS error counts.
    pub(super) async fn set_slot_owner(&mut self, owner: usize, slot: usize, clear: bool) -> bool {
        if self.checked(owner, &["MULTI"], true).await.is_err() {
            return false;
        }
        let slot_text = slot.to_string();
        let mut queued: Vec<Vec<String>> = vec![
            vec!["CLUSTER".into(), "DELSLOTS".into(), slot_text.clone()],
            vec!["CLUSTER".into(), "ADDSLOTS".into(), slot_text.clone()],
        ];
        if clear {
            queued.push(vec![
                "CLUSTER".into(),
                "SETSLOT".into(),
                slot_text,
                "STABLE".into(),
            ]);
        }
        queued.push(vec!["CLUSTER".into(), "BUMPEPOCH".into()]);
        for args in &queued {
            // Queued commands answer +QUEUED; redis-cli checks them one by one.
            let _ = self.checked(owner, args, true).await;
        }
        let reply = match self.checked(owner, &["EXEC"], true).await {
            Ok(reply) => reply,
            Err(_) => return false,
        };
        let Frame::Array(replies) = reply else {
            return false;
        };
        for (index, reply) in replies.iter().enumerate() {
            if let Some(err) = error_text(reply) {
                if index == 1 {
                    let addr = self.nodes[owner].addr();
                    self.out.reply_error(&addr, &err);
                    return false;
                }
            }
        }
        true
    }

    /// `clusterManagerMoveSlot`: opens the slot on both sides (unless cold), migrates its
    /// keys in batches, then gives it to the target on the target, the source and every
    /// other master.
    pub async fn move_slot(
        &mut self,
        source: usize,
        target: usize,
        slot: usize,
        opts: MoveOpts,
    ) -> Result<(), Option<String>> {
        if !opts.quiet {
            let line = format!(
                "Moving slot {slot} from {} to {}: ",
                self.nodes[source].addr(),
                self.nodes[target].addr()
            );
            self.out.print(&line);
        }
        if !opts.cold {
            self.set_slot(target, source, slot, "importing")
                .await
                .map_err(Some)?;
            self.set_slot(source, target, slot, "migrating")
                .await
                .map_err(Some)?;
        }
        let migrated = self
            .migrate_keys_in_slot(source, target, slot, opts.verbose)
            .await;
        if !opts.quiet {
            self.out.print("\n");
        }
        migrated?;
        if !opts.cold {
            self.set_slot(target, target, slot, "node")
                .await
                .map_err(Some)?;
            if let Err(e) = self.set_slot(source, target, slot, "node").await {
                if !e.starts_with(SETSLOT_ONLY_MASTERS) {
                    return Err(Some(e));
                }
            }
            for n in 0..self.nodes.len() {
                if n == source || n == target || self.nodes[n].is_slave() {
                    continue;
                }
                self.set_slot(n, target, slot, "node").await.map_err(Some)?;
            }
        }
        if opts.update {
            if self.nodes[source].slots.clear(slot) {
                self.nodes[source].slots_count -= 1;
            }
            if !self.nodes[target].slots.set(slot) {
                self.nodes[target].slots_count += 1;
            }
        }
        Ok(())
    }

    /// `MIGRATE <target> "" 0 <timeout> [REPLACE] [AUTH ...] KEYS <keys>` sent to the source.
    async fn migrate_keys(
        &mut self,
        source: usize,
        target: usize,
        keys: &[Vec<u8>],
        replace: bool,
    ) -> Option<Frame> {
        let mut args: Vec<Vec<u8>> = vec![
            b"MIGRATE".to_vec(),
            self.nodes[target].ip.clone().into_bytes(),
            self.nodes[target].port.to_string().into_bytes(),
            Vec::new(),
            b"0".to_vec(),
            self.opts.timeout.to_string().into_bytes(),
        ];
        if replace {
            args.push(b"REPLACE".to_vec());
        }
        if let Some(password) = &self.opts.password {
            match &self.opts.user {
                Some(user) => {
                    args.push(b"AUTH2".to_vec());
                    args.push(user.clone().into_bytes());
                }
                None => args.push(b"AUTH".to_vec()),
            }
            args.push(password.clone().into_bytes());
        }
        args.push(b"KEYS".to_vec());
        args.extend(keys.iter().cloned());
        let wait = Duration::from_millis(self.opts.timeout.max(0) as u64);
        node_command(&mut self.nodes[source], &args, wait).await
    }

    /// `clusterManagerCompareKeysValues`: the keys whose DEBUG DIGEST-VALUE differs on the
    /// two nodes (keys missing on either side ignored). `None` on an error reply.
    async fn differing_keys(
        &mut self,
        a: usize,
        b: usize,
        keys: &[Vec<u8>],
    ) -> Option<Vec<Vec<u8>>> {
        let mut args: Vec<Vec<u8>> = vec![b"DEBUG".to_vec(), b"DIGEST-VALUE".to_vec()];
        args.extend(keys.iter().cloned());
        let ra = self.call(a, &args).await?;
        let rb = self.call(b, &args).await?;
        let mut ok = true;
        for (node, reply) in [(a, &ra), (b, &rb)] {
            if let Some(e) = error_text(reply) {
                let addr = self.nodes[node].addr();
                self.out.reply_error(&addr, &e);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let (Frame::Array(da), Frame::Array(db)) = (ra, rb) else {
            return None;
        };
        const ZERO: &str = "0000000000000000000000000000000000000000";
        let mut diffs = Vec::new();
        for ((key, ha), hb) in keys.iter().zip(&da).zip(&db) {
            let (ha, hb) = (
                frame_text(ha).unwrap_or_default(),
                frame_text(hb).unwrap_or_default(),
            );
            if ha == ZERO || hb == ZERO {
                continue;
            }
            if ha != hb {
                diffs.push(key.clone());
            }
        }
        Some(diffs)
    }

    /// `clusterManagerMigrateKeysInSlot`: GETKEYSINSLOT + MIGRATE until the slot is empty on
    /// the source. A BUSYKEY is retried with REPLACE when the values are equal (or with
    /// `--cluster-replace`).
    async fn migrate_keys_in_slot(
        &mut self,
        source: usize,
        target: usize,
        slot: usize,
        verbose: bool,
    ) -> Result<(), Option<String>> {
        // At least one key per round: with 0, GETKEYSINSLOT answers nothing and the slot
        // would change owner with its keys left behind.
        let pipeline = self.opts.pipeline.max(1).to_string();
        for _ in 0..MAX_MIGRATE_ROUNDS {
            let args = [
                "CLUSTER".to_string(),
                "GETKEYSINSLOT".into(),
                slot.to_string(),
                pipeline.clone(),
            ];
            let keys: Vec<Vec<u8>> = match self.call(source, &args).await {
                None => return Err(None),
                Some(Frame::Error(e)) => {
                    let e = String::from_utf8_lossy(&e).into_owned();
                    let addr = self.nodes[source].addr();
                    self.out.reply_error(&addr, &e);
                    return Err(Some(e));
                }
                Some(Frame::Array(keys)) => keys
                    .iter()
                    .filter_map(|k| k.as_bytes().map(<[u8]>::to_vec))
                    .collect(),
                Some(_) => return Err(None),
            };
            if keys.is_empty() {
                return Ok(());
            }
            let Some(mut reply) = self.migrate_keys(source, target, &keys, false).await else {
                return Err(None);
            };
            if let Some(err) = error_text(&reply) {
                let busy = err.contains("BUSYKEY");
                let mut not_served = false;
                if !busy {
                    match self.slot_owner(source, slot).await {
                        Ok(None) => not_served = true,
                        Ok(Some(_)) => {}
                        Err(e) => {
                            let addr = self.nodes[source].addr();
                            self.out.reply_error(&addr, &e);
                        }
                    }
                }
                if !busy && !not_served {
                    self.out.print("\n");
                    let addr = self.nodes[source].addr();
                    self.out.reply_error(&addr, &err);
                    return Err(Some(err));
                }
                if self.fix && not_served {
                    let addr = self.nodes[target].addr();
                    self.out.warn(&format!(
                        "*** Slot was not served, setting owner to node {addr}.\n"
                    ));
                    let _ = self.set_slot(source, target, slot, "node").await;
                }
                if busy {
                    self.out.warn("\n*** Target key exists\n");
                    if !self.opts.replace {
                        self.out.warn("*** Checking key values on both nodes...\n");
                        let Some(diffs) = self.differing_keys(source, target, &keys).await else {
                            self.out.err("*** Value check failed!\n");
                            return Err(None);
                        };
                        if !diffs.is_empty() {
                            let mut text = format!(
                                "*** Found {} key(s) in both source node and target node having different values.\n    Source node: {}\n    Target node: {}\n    Keys(s):\n",
                                diffs.len(),
                                self.nodes[source].addr(),
                                self.nodes[target].addr()
                            );
                            for key in &diffs {
                                text.push_str(&format!("    - {}\n", String::from_utf8_lossy(key)));
                            }
                            text.push_str(
                                "Please fix the above key(s) manually and try again or relaunch the command \n\
                                 with --cluster-replace option to force key overriding.\n",
                            );
                            self.out.err(&text);
                            return Err(None);
                        }
                    }
                    self.out.warn("*** Replacing target keys...\n");
                }
                reply = match self.migrate_keys(source, target, &keys, busy).await {
                    Some(reply) => reply,
                    None => return Err(None),
                };
                if let Some(err) = error_text(&reply) {
                    self.out.print("\n");
                    let addr = self.nodes[source].addr();
                    self.out.reply_error(&addr, &err);
                    return Err(Some(err));
                }
            }
            if verbose {
                self.out.print(&".".repeat(keys.len()));
            }
        }
        Err(Some("too many MIGRATE rounds".to_string()))
    }

    /// `clusterManagerFlushNodeConfig`: sends a planned configuration (REPLICATE for a
    /// replica, ADDSLOTS with every slot listed for a master). `Err` carries an error reply.
    pub async fn flush_node_config(&mut self, i: usize) -> Result<bool, String> {
        if !self.nodes[i].dirty {
            return Ok(false);
        }
        if let Some(master) = self.nodes[i].replicate.clone() {
            // Before the join the replica may not know its master yet: stays dirty, retried.
            return match self
                .checked(i, &["CLUSTER", "REPLICATE", master.as_str()], false)
                .await
            {
                Ok(_) => {
                    self.nodes[i].dirty = false;
                    Ok(true)
                }
                Err(e) => Err(e.unwrap_or_default()),
            };
        }
        let mut args = vec!["CLUSTER".to_string(), "ADDSLOTS".to_string()];
        args.extend(self.nodes[i].slots.iter().map(|s| s.to_string()));
        if args.len() == 2 {
            self.nodes[i].dirty = false;
            return Ok(false);
        }
        let result = self.checked(i, &args, false).await;
        self.nodes[i].dirty = false;
        match result {
            Ok(_) => Ok(true),
            Err(e) => Err(e.unwrap_or_default()),
        }
    }

    /// `clusterManagerNodeWithLeastReplicas`.
    pub fn node_with_least_replicas(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_slave() {
                continue;
            }
            if best.is_none_or(|b| self.nodes[i].replicas_count < self.nodes[b].replicas_count) {
                best = Some(i);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::super::options;
    use super::*;
    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake node answering each command (its first two words, upper-cased) with a canned
    /// reply, `-ERR unknown` otherwise, on every connection.
    async fn fake_node(replies: Vec<(&'static str, Vec<u8>)>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let replies = replies.clone();
                tokio::spawn(async move {
                    let mut buf = BytesMut::new();
                    loop {
                        let request = loop {
                            if let Some(frame) = crate::resp::frame::parse(&mut buf).unwrap() {
                                break frame;
                            }
                            if sock.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                                return;
                            }
                        };
                        let Frame::Array(words) = request else { return };
                        let name: Vec<String> = words
                            .iter()
                            .take(2)
                            .map(|w| frame_text(w).unwrap_or_default().to_ascii_uppercase())
                            .collect();
                        let reply = replies
                            .iter()
                            .find(|(cmd, _)| *cmd == name.join(" ") || *cmd == name[0])
                            .map(|(_, r)| r.clone())
                            .unwrap_or_else(|| b"-ERR unknown\r\n".to_vec());
                        if sock.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    fn bulk(text: &str) -> Vec<u8> {
        format!("${}\r\n{text}\r\n", text.len()).into_bytes()
    }

    async fn check(port: u16, fix: bool) -> (bool, String, String) {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut stdin = std::io::Cursor::new(Vec::new());
        let mut out = Output {
            stdout: &mut stdout,
            stderr: &mut stderr,
            stdin: &mut stdin,
            color: false,
        };
        let opts = options::parse(&[
            "--cluster".to_string(),
            if fix { "fix" } else { "check" }.to_string(),
            format!("127.0.0.1:{port}"),
        ])
        .unwrap();
        let mut manager = Manager::new(opts, &mut out);
        manager.fix = fix;
        let ok = manager.check().await;
        drop(manager);
        (
            ok,
            String::from_utf8(stdout).unwrap(),
            String::from_utf8(stderr).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_one_node_cluster_checks_clean() {
        let nodes = "aaaa 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-16383\n";
        let port = fake_node(vec![
            ("INFO", bulk("# Cluster\r\ncluster_enabled:1\r\n")),
            ("CLUSTER NODES", bulk(nodes)),
            ("DBSIZE", b":3\r\n".to_vec()),
        ])
        .await;
        let (ok, stdout, stderr) = check(port, false).await;
        assert!(ok, "{stdout}{stderr}");
        assert_eq!(
            stdout,
            format!(
                "127.0.0.1:{port} (aaaa...) -> 3 keys | 16384 slots | 0 slaves.\n\
                 [OK] 3 keys in 1 masters.\n0.00 keys per slot on average.\n\
                 >>> Performing Cluster Check (using node 127.0.0.1:{port})\n\
                 M: aaaa 127.0.0.1:{port}\n   slots:[0-16383] (16384 slots) master\n\
                 [OK] All nodes agree about slots configuration.\n>>> Check for open slots...\n\
                 >>> Check slots coverage...\n[OK] All 16384 slots covered.\n"
            )
        );
    }

    #[tokio::test]
    async fn bad_replies_are_reported_not_panicked_on() {
        // Not in cluster mode.
        let port = fake_node(vec![("INFO", bulk("cluster_enabled:0\r\n"))]).await;
        let (ok, stdout, _) = check(port, false).await;
        assert!(!ok);
        assert_eq!(
            stdout,
            format!("[ERR] Node 127.0.0.1:{port} is not configured as a cluster node.\n")
        );
        // INFO refused.
        let port = fake_node(vec![(
            "INFO",
            b"-NOAUTH Authentication required.\r\n".to_vec(),
        )])
        .await;
        let (_, stdout, _) = check(port, false).await;
        assert_eq!(
            stdout,
            format!("[ERR] Node 127.0.0.1:{port} NOAUTH Authentication required.\n")
        );
        // CLUSTER NODES that cannot be read: a slot out of range, a line without flags.
        for nodes in [
            "aaaa 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-99999\n",
            "aaaa\n",
            "aaaa 127.0.0.1:1@2 myself,master - 0 0 1 connected [x\n",
        ] {
            let port = fake_node(vec![
                ("INFO", bulk("cluster_enabled:1\r\n")),
                ("CLUSTER NODES", bulk(nodes)),
            ])
            .await;
            let (ok, stdout, stderr) = check(port, false).await;
            if nodes.contains('[') {
                // An unreadable open-slot token is skipped, as redis-cli does; coverage fails.
                assert!(!ok);
                assert!(stdout.contains("[ERR] Not all 16384 slots are covered by nodes.\n\n"));
            } else {
                assert!(!ok, "{nodes:?}");
                assert_eq!(stderr, "Error: invalid CLUSTER NODES reply\n", "{nodes:?}");
            }
        }
        // A friend that cannot be reached is skipped (and counts as an unreachable master).
        let nodes = "aaaa 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-100\n\
                     bbbb 127.0.0.1:1@10001 master - 0 0 2 connected 101-16383\n";
        let port = fake_node(vec![
            ("INFO", bulk("cluster_enabled:1\r\n")),
            ("CLUSTER NODES", bulk(nodes)),
            ("DBSIZE", b":0\r\n".to_vec()),
        ])
        .await;
        let (ok, stdout, stderr) = check(port, true).await;
        assert!(!ok);
        assert!(
            stderr.starts_with("Could not connect to Redis at 127.0.0.1:1: "),
            "{stderr}"
        );
        assert!(
            stdout.contains("*** Fixing slots coverage with 1 unreachable masters is dangerous")
        );
    }
}
