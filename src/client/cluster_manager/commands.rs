//! The subcommands, each as redis-cli 7.0's `clusterManagerCommand*`: the same steps, the
//! same questions and the same output. Each returns whether it succeeded (exit code 0 or 1).

use rand::SeedableRng;

use crate::client::format::format_raw;
use crate::resp::frame::Frame;

use super::manager::{Manager, MoveOpts};
use super::plan;
use super::topology::{self, parse_address, parse_host_args, Node, SLOTS};

const INVALID_HOST_ARG: &str = "[ERR] Invalid arguments: you need to pass either a valid address (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)\n";

impl Manager<'_, '_> {
    /// The node named by the subcommand's first argument(s), loaded with its cluster.
    async fn load_cluster_from_args(&mut self, args: &[String]) -> Option<()> {
        let Some((ip, port)) = parse_host_args(args) else {
            self.out.eprint(INVALID_HOST_ARG);
            return None;
        };
        self.load_from_node(Node::new(&ip, port, 0))
            .await
            .then_some(())
    }

    /// Checks that a connected node is an empty cluster node, as `create` and `add-node`
    /// require, loading its id. Prints why not.
    async fn check_empty_node(&mut self, mut node: Node) -> Option<Node> {
        match Self::is_cluster(&mut node).await {
            Ok(true) => {}
            Ok(false) => {
                self.print_not_cluster(&node, None);
                return None;
            }
            Err(e) => {
                self.print_not_cluster(&node, e);
                return None;
            }
        }
        if let Err(e) = self.load_info(&mut node, false).await {
            if let Some(e) = e {
                self.out.reply_error(&node.addr(), &e);
            }
            return None;
        }
        match Self::is_empty(&mut node).await {
            Ok(true) => Some(node),
            Ok(false) => {
                self.print_not_empty(&node, None);
                None
            }
            Err(e) => {
                self.print_not_empty(&node, e);
                None
            }
        }
    }

    /// `create host:port... [--replicas N] [--yes]`.
    pub async fn create(&mut self) -> bool {
        let args = self.opts.args.clone();
        for addr in &args {
            let Some((ip, port, _)) = parse_address(addr).filter(|(_, port, _)| *port != 0) else {
                self.out
                    .eprint(&format!("Invalid address format: {addr}\n"));
                return false;
            };
            let mut node = Node::new(&ip, port, 0);
            if !self.connect(&mut node).await {
                return false;
            }
            let Some(node) = self.check_empty_node(node).await else {
                return false;
            };
            self.nodes.push(node);
        }
        let node_len = self.nodes.len();
        let replicas = self.opts.replicas;
        if plan::masters_count(node_len, replicas) < 3 {
            self.out.err(&format!(
                "*** ERROR: Invalid configuration for cluster creation.\n\
                 *** Redis Cluster requires at least 3 master nodes.\n\
                 *** This is not possible with {node_len} nodes and {replicas} replicas per node."
            ));
            self.out.err(&format!(
                "\n*** At least {} nodes are required.\n",
                3 * (replicas + 1)
            ));
            return false;
        }
        self.out.info(&format!(
            ">>> Performing hash slots allocation on {node_len} nodes...\n"
        ));
        let mut rng = rand::rngs::StdRng::from_entropy();
        for (level, line) in plan::plan_create(&mut self.nodes, replicas, &mut rng) {
            self.out.line(level, &line);
        }
        self.show_nodes();
        if !self
            .out
            .confirm("Can I set the above configuration?", self.opts.yes)
        {
            return true;
        }
        for i in 0..node_len {
            let flushed = self.flush_node_config(i).await;
            if let Err(e) = flushed {
                if self.nodes[i].replicate.is_none() {
                    let addr = self.nodes[i].addr();
                    self.out.reply_error(&addr, &e);
                    return false;
                }
            }
        }
        self.out.info(">>> Nodes configuration updated\n");
        self.out
            .info(">>> Assign a different config epoch to each node\n");
        for i in 0..node_len {
            let epoch = (i + 1).to_string();
            let _ = self.call(i, &["cluster", "set-config-epoch", &epoch]).await;
        }
        self.out
            .info(">>> Sending CLUSTER MEET messages to join the cluster\n");
        let Some(first_ip) = resolve(&self.nodes[0].ip).await else {
            let ip = self.nodes[0].ip.clone();
            self.out
                .eprint(&format!("Invalid IP address or hostname specified: {ip}\n"));
            return false;
        };
        let meet = meet_args(&first_ip, &self.nodes[0]);
        for i in 1..node_len {
            match self.call(i, &meet).await {
                Some(Frame::Error(e)) => {
                    let addr = self.nodes[i].addr();
                    self.out.reply_error(&addr, &String::from_utf8_lossy(&e));
                    return false;
                }
                Some(_) => {}
                None => {
                    self.out.eprint("Failed to send CLUSTER MEET command.\n");
                    return false;
                }
            }
        }
        // A second for the join to start, so that the wait does not find the nodes agreeing
        // while still apart.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if !self.wait_for_cluster_join().await {
            return false;
        }
        for i in 0..node_len {
            if !self.nodes[i].dirty {
                continue;
            }
            if let Err(e) = self.flush_node_config(i).await {
                if self.nodes[i].replicate.is_none() {
                    let addr = self.nodes[i].addr();
                    self.out.reply_error(&addr, &e);
                    return false;
                }
            }
        }
        let first = self.nodes.swap_remove(0);
        self.nodes.clear();
        let first = Node::new(&first.ip, first.port, 0);
        if !self.load_from_node(first).await {
            return false;
        }
        self.check_cluster(false).await;
        true
    }

    /// `add-node new_host:new_port existing_host:existing_port [--slave [--master-id id]]`.
    pub async fn add_node(&mut self) -> bool {
        let args = self.opts.args.clone();
        let (Some((ref_ip, ref_port)), Some((ip, port))) =
            (parse_host_args(&args[1..]), parse_host_args(&args[..1]))
        else {
            self.out.eprint(INVALID_HOST_ARG);
            return false;
        };
        self.out.info(&format!(
            ">>> Adding node {ip}:{port} to cluster {ref_ip}:{ref_port}\n"
        ));
        if !self.load_from_node(Node::new(&ref_ip, ref_port, 0)).await {
            return false;
        }
        if !self.check_cluster(false).await {
            return false;
        }
        let mut master = None;
        if self.opts.slave {
            match self.opts.master_id.clone() {
                Some(id) => match self.by_name(&id) {
                    Some(m) => master = Some(m),
                    None => {
                        self.out.err(&format!("[ERR] No such master ID {id}\n"));
                        return false;
                    }
                },
                None => {
                    let Some(m) = self.node_with_least_replicas() else {
                        self.out.err("[ERR] No master to replicate.\n");
                        return false;
                    };
                    let addr = self.nodes[m].addr();
                    self.out
                        .print(&format!("Automatically selected master {addr}\n"));
                    master = Some(m);
                }
            }
        }
        let mut new_node = Node::new(&ip, port, 0);
        if !self.connect(&mut new_node).await {
            self.out
                .err(&format!("[ERR] Sorry, can't connect to node {ip}:{port}\n"));
            return false;
        }
        let Some(new_node) = self.check_empty_node(new_node).await else {
            return false;
        };
        self.nodes.push(new_node);
        let new = self.nodes.len() - 1;
        if master.is_none() && !self.copy_functions(new).await {
            return false;
        }
        self.out.info(&format!(
            ">>> Send CLUSTER MEET to node {ip}:{port} to make it join the cluster.\n"
        ));
        let Some(first_ip) = resolve(&self.nodes[0].ip).await else {
            let first = self.nodes[0].ip.clone();
            self.out.eprint(&format!(
                "Invalid IP address or hostname specified: {first}\n"
            ));
            return false;
        };
        let mut meet = meet_args(&first_ip, &self.nodes[0]);
        meet[0] = "CLUSTER".to_string();
        meet[1] = "MEET".to_string();
        if self.checked(new, &meet, true).await.is_err() {
            return false;
        }
        if let Some(m) = master {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if !self.wait_for_cluster_join().await {
                return false;
            }
            let addr = self.nodes[m].addr();
            self.out
                .info(&format!(">>> Configure node as replica of {addr}.\n"));
            let id = self.nodes[m].name.clone();
            if self
                .checked(new, &["CLUSTER", "REPLICATE", id.as_str()], true)
                .await
                .is_err()
            {
                return false;
            }
        }
        self.out.ok("[OK] New node added correctly.\n");
        true
    }

    /// add-node's function copy: FUNCTION DUMP from the entry node, FUNCTION LIST (must be
    /// empty) and FUNCTION RESTORE on the new one. Skipped when the cluster cannot dump.
    async fn copy_functions(&mut self, new: usize) -> bool {
        self.out.info(">>> Getting functions from cluster\n");
        let addr = self.nodes[new].addr();
        let payload = match self.checked(0, &["FUNCTION", "DUMP"], false).await {
            Ok(Frame::Bulk(payload)) => payload,
            Ok(_) => {
                self.out.info(">>> Failed retrieving Functions from the cluster, skip this step as Redis version do not support function command (error = 'NULL reply')\n");
                return true;
            }
            Err(e) => {
                let e = e.unwrap_or_else(|| "NULL reply".to_string());
                self.out.info(&format!(">>> Failed retrieving Functions from the cluster, skip this step as Redis version do not support function command (error = '{e}')\n"));
                return true;
            }
        };
        self.out.info(&format!(
            ">>> Send FUNCTION LIST to {addr} to verify there is no functions in it\n"
        ));
        match self.checked(new, &["FUNCTION", "LIST"], false).await {
            Ok(Frame::Array(list)) if list.is_empty() => {}
            Ok(_) => {
                self.out.err(">>> New node already contains functions and can not be added to the cluster. Use FUNCTION FLUSH and try again.\r\n");
                return false;
            }
            Err(e) => {
                let e = e.unwrap_or_else(|| "NULL reply".to_string());
                self.out
                    .err(&format!(">>> Failed on CLUSTER LIST (error = '{e}')\r\n"));
                return false;
            }
        }
        self.out
            .info(&format!(">>> Send FUNCTION RESTORE to {addr}\n"));
        let args: [&[u8]; 3] = [b"FUNCTION", b"RESTORE", &payload];
        if let Err(e) = self.checked(new, &args, false).await {
            let e = e.unwrap_or_else(|| "NULL reply".to_string());
            self.out.err(&format!(
                ">>> Failed loading functions to the new node (error = '{e}')\r\n"
            ));
            return false;
        }
        true
    }

    /// `del-node host:port node_id`.
    pub async fn del_node(&mut self) -> bool {
        let args = self.opts.args.clone();
        let Some((ip, port)) = parse_host_args(&args[..1]) else {
            self.out.eprint(INVALID_HOST_ARG);
            return false;
        };
        let id = args[1].clone();
        self.out.info(&format!(
            ">>> Removing node {id} from cluster {ip}:{port}\n"
        ));
        if !self.load_from_node(Node::new(&ip, port, 0)).await {
            return false;
        }
        let Some(victim) = self.by_name(&id) else {
            self.out.err(&format!("[ERR] No such node ID {id}\n"));
            return false;
        };
        if self.nodes[victim].slots_count != 0 {
            let addr = self.nodes[victim].addr();
            self.out.err(&format!(
                "[ERR] Node {addr} is not empty! Reshard data away and try again.\n"
            ));
            return false;
        }
        self.out
            .info(">>> Sending CLUSTER FORGET messages to the cluster...\n");
        for n in 0..self.nodes.len() {
            if n == victim {
                continue;
            }
            let replicates_victim = self.nodes[n]
                .replicate
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(&id));
            if replicates_victim {
                let Some(master) = self.node_with_least_replicas() else {
                    return false;
                };
                let line = format!(
                    ">>> {} as replica of {}\n",
                    self.nodes[n].addr(),
                    self.nodes[master].addr()
                );
                self.out.info(&line);
                let master_id = self.nodes[master].name.clone();
                if self
                    .checked(n, &["CLUSTER", "REPLICATE", master_id.as_str()], true)
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            if self
                .checked(n, &["CLUSTER", "FORGET", id.as_str()], true)
                .await
                .is_err()
            {
                return false;
            }
        }
        self.out
            .info(">>> Sending CLUSTER RESET SOFT to the deleted node.\n");
        self.checked(victim, &["CLUSTER", "RESET", "SOFT"], true)
            .await
            .is_ok()
    }

    /// `info host:port`.
    pub async fn info(&mut self) -> bool {
        let args = self.opts.args.clone();
        if self.load_cluster_from_args(&args).await.is_none() {
            return false;
        }
        self.show_cluster_info().await;
        true
    }

    /// `check host:port` (and `fix`, which repairs what check finds).
    pub async fn check(&mut self) -> bool {
        let args = self.opts.args.clone();
        if self.load_cluster_from_args(&args).await.is_none() {
            return false;
        }
        self.show_cluster_info().await;
        self.check_cluster(false).await
    }

    /// `reshard host:port [--from ids|all] [--to id] [--slots n] [--yes]`; asks for what
    /// is not given.
    pub async fn reshard(&mut self) -> bool {
        let args = self.opts.args.clone();
        if self.load_cluster_from_args(&args).await.is_none() {
            return false;
        }
        self.check_cluster(false).await;
        if !self.errors.is_empty() {
            self.out
                .eprint("*** Please fix your cluster problems before resharding\n");
            return false;
        }
        // As redis-cli: asked only when not given; a given count is taken as is (a negative
        // one moves nothing).
        let mut slots = self.opts.slots;
        while slots == 0 || (self.opts.slots == 0 && (slots < 0 || slots > SLOTS as i64)) {
            self.out.print(&format!(
                "How many slots do you want to move (from 1 to {SLOTS})? "
            ));
            let Some(line) = self.out.read_line() else {
                return self.end_of_input();
            };
            slots = topology::atoi(&line);
        }
        let to = match self.opts.to.clone() {
            Some(to) => to,
            None => loop {
                self.out.print("What is the receiving node ID? ");
                let Some(line) = self.out.read_line() else {
                    return self.end_of_input();
                };
                if !line.is_empty() {
                    break line;
                }
            },
        };
        let Some(target) = self.node_for_resharding(&to, None).0 else {
            return false;
        };
        let mut sources = Vec::new();
        let mut all = false;
        match self.opts.from.clone() {
            None => {
                self.out.print("Please enter all the source node IDs.\n");
                self.out.print(
                    "  Type 'all' to use all the nodes as source nodes for the hash slots.\n",
                );
                self.out
                    .print("  Type 'done' once you entered all the source nodes IDs.\n");
                loop {
                    self.out
                        .print(&format!("Source node #{}: ", sources.len() + 1));
                    let Some(line) = self.out.read_line() else {
                        return self.end_of_input();
                    };
                    match line.as_str() {
                        "done" => break,
                        "all" => {
                            all = true;
                            break;
                        }
                        id => match self.node_for_resharding(id, Some(target)) {
                            (Some(src), _) => sources.push(src),
                            (None, true) => return false,
                            (None, false) => {}
                        },
                    }
                }
            }
            Some(from) => {
                for id in from.split(',') {
                    if id == "all" {
                        all = true;
                        break;
                    }
                    if id.is_empty() {
                        continue;
                    }
                    match self.node_for_resharding(id, Some(target)) {
                        (Some(src), _) => sources.push(src),
                        (None, true) => return false,
                        (None, false) => {}
                    }
                }
            }
        }
        if all {
            sources = (0..self.nodes.len())
                .filter(|&n| self.nodes[n].is_serving_master() && n != target)
                .collect();
        }
        if sources.is_empty() {
            self.out
                .eprint("*** No source nodes given, operation aborted.\n");
            return false;
        }
        let mut text = format!("\nReady to move {slots} slots.\n  Source nodes:\n");
        for &s in &sources {
            text.push_str(&topology::node_info(&self.nodes[s], 4));
            text.push('\n');
        }
        text.push_str("  Destination node:\n");
        text.push_str(&topology::node_info(&self.nodes[target], 4));
        text.push('\n');
        let table = plan::reshard_table(&self.nodes, &sources, slots.max(0) as usize);
        text.push_str("  Resharding plan:\n");
        for (source, slot) in &table {
            text.push_str(&format!(
                "    Moving slot {slot} from {}\n",
                self.nodes[*source].name
            ));
        }
        self.out.print(&text);
        if !self.opts.yes {
            self.out
                .print("Do you want to proceed with the proposed reshard plan (yes/no)? ");
            if !self.out.read_line().is_some_and(|a| a.starts_with("yes")) {
                return false;
            }
        }
        let opts = MoveOpts {
            verbose: true,
            ..MoveOpts::default()
        };
        for (source, slot) in table {
            if let Err(e) = self.move_slot(source, target, slot, opts).await {
                if let Some(e) = e {
                    self.out
                        .err(&format!("clusterManagerMoveSlot failed: {e}\n"));
                }
                return false;
            }
        }
        true
    }

    /// reshard's questions met the end of input (redis-cli would ask forever).
    fn end_of_input(&mut self) -> bool {
        self.out.print("\n");
        self.out
            .eprint("*** No answer (end of input), operation aborted.\n");
        false
    }

    /// `clusterNodeForResharding`: the master with id `id`, not the target. The flag says
    /// whether the error ends the command.
    fn node_for_resharding(&mut self, id: &str, target: Option<usize>) -> (Option<usize>, bool) {
        match self.by_name(id) {
            Some(n) if !self.nodes[n].is_slave() => {
                if target.is_some_and(|t| self.nodes[t].name == self.nodes[n].name) {
                    self.out
                        .err("*** It is not possible to use the target node as source node.\n");
                    return (None, false);
                }
                (Some(n), false)
            }
            _ => {
                self.out.err(&format!(
                    "*** The specified node ({id}) is not known or not a master, please retry.\n"
                ));
                (None, true)
            }
        }
    }

    /// `rebalance host:port [--weight id=w...] [--use-empty-masters] [--threshold p]
    /// [--simulate]`.
    pub async fn rebalance(&mut self) -> bool {
        let args = self.opts.args.clone();
        if self.load_cluster_from_args(&args).await.is_none() {
            return false;
        }
        for weight in self.opts.weights.clone() {
            let Some((name, w)) = weight.split_once('=') else {
                self.out.err(&format!("*** invalid input {weight}\n"));
                return false;
            };
            let Some(n) = self.by_abbreviated_name(name) else {
                self.out.err(&format!("*** No such master node {name}\n"));
                return false;
            };
            self.nodes[n].weight = w.trim().parse().unwrap_or(0.0);
        }
        let mut involved = Vec::new();
        let mut total_weight: f32 = 0.0;
        for n in 0..self.nodes.len() {
            if !self.nodes[n].is_serving_master() {
                continue;
            }
            if !self.opts.use_empty_masters && self.nodes[n].slots_count == 0 {
                self.nodes[n].weight = 0.0;
                continue;
            }
            total_weight += self.nodes[n].weight;
            involved.push(n);
        }
        self.check_cluster(true).await;
        if !self.errors.is_empty() {
            self.out
                .err("*** Please fix your cluster problems before rebalancing\n");
            return false;
        }
        let counts: Vec<(usize, f32)> = involved
            .iter()
            .map(|&n| (self.nodes[n].slots_count, self.nodes[n].weight))
            .collect();
        let Some(balances) = plan::rebalance_balances(&counts, self.opts.threshold) else {
            let threshold = self.opts.threshold;
            self.out.warn(&format!(
                "*** No rebalancing needed! All nodes are within the {threshold:.2}% threshold.\n"
            ));
            return true;
        };
        for (&n, balance) in involved.iter().zip(&balances) {
            self.nodes[n].balance = *balance;
        }
        let mut sorted = involved.clone();
        sorted.sort_by_key(|&n| self.nodes[n].balance);
        self.out.info(&format!(
            ">>> Rebalancing across {} nodes. Total weight = {total_weight:.2}\n",
            involved.len()
        ));
        if self.opts.verbose {
            for &n in &sorted {
                let line = format!(
                    "{} balance is {} slots\n",
                    self.nodes[n].addr(),
                    self.nodes[n].balance
                );
                self.out.print(&line);
            }
        }
        let sorted_balances: Vec<i64> = sorted.iter().map(|&n| self.nodes[n].balance).collect();
        for (from, to, numslots) in plan::rebalance_moves(&sorted_balances) {
            let (src, dst) = (sorted[from], sorted[to]);
            let line = format!(
                "Moving {numslots} slots from {} to {}\n",
                self.nodes[src].addr(),
                self.nodes[dst].addr()
            );
            self.out.print(&line);
            let table = plan::reshard_table(&self.nodes, &[src], numslots);
            if table.len() != numslots {
                self.out
                    .err("*** Assertion failed: Reshard table != number of slots");
                return false;
            }
            if self.opts.simulate {
                self.out.print(&"#".repeat(numslots));
            } else {
                let opts = MoveOpts {
                    quiet: true,
                    update: true,
                    ..MoveOpts::default()
                };
                for (source, slot) in table {
                    if let Err(e) = self.move_slot(source, dst, slot, opts).await {
                        self.out.err(&format!(
                            "*** clusterManagerMoveSlot: {}\n",
                            e.unwrap_or_default()
                        ));
                        return false;
                    }
                    self.out.print("#");
                }
            }
            self.out.print("\n");
        }
        true
    }

    /// `call host:port command args...`: the command on every node (or only masters or
    /// replicas), replies printed raw.
    pub async fn call_all(&mut self) -> bool {
        let args = self.opts.args.clone();
        if self.load_cluster_from_args(&args[..1]).await.is_none() {
            return false;
        }
        let command = &args[1..];
        self.out.info(">>> Calling");
        self.out.print(&format!(" {}\n", command.join(" ")));
        for n in 0..self.nodes.len() {
            let replica = self.nodes[n].replicate.is_some();
            if (self.opts.only_masters && replica) || (self.opts.only_replicas && !replica) {
                continue;
            }
            if self.nodes[n].conn.is_none() {
                let mut node = std::mem::replace(&mut self.nodes[n], Node::new("", 0, 0));
                let connected = self.connect(&mut node).await;
                self.nodes[n] = node;
                if !connected {
                    continue;
                }
            }
            let addr = self.nodes[n].addr();
            let line = match self.call(n, command).await {
                Some(reply) => {
                    format!("{addr}: {}\n", String::from_utf8_lossy(&format_raw(&reply)))
                }
                None => format!("{addr}: Failed!\n"),
            };
            self.out.print(&line);
        }
        true
    }

    /// `set-timeout host:port milliseconds`: CONFIG SET cluster-node-timeout and CONFIG
    /// REWRITE on every node.
    pub async fn set_timeout(&mut self) -> bool {
        let args = self.opts.args.clone();
        let Some((ip, port)) = parse_host_args(&args[..1]) else {
            self.out.eprint(INVALID_HOST_ARG);
            return false;
        };
        let timeout = topology::atoi(&args[1]);
        if timeout < 100 {
            self.out
                .eprint("Setting a node timeout of less than 100 milliseconds is a bad idea.\n");
            return false;
        }
        if !self.load_from_node(Node::new(&ip, port, 0)).await {
            return false;
        }
        self.out
            .info(">>> Reconfiguring node timeout in every cluster node...\n");
        let (mut ok, mut failed) = (0, 0);
        let timeout = timeout.to_string();
        for n in 0..self.nodes.len() {
            let mut result = self
                .checked(
                    n,
                    &["CONFIG", "SET", "cluster-node-timeout", timeout.as_str()],
                    false,
                )
                .await;
            if result.is_ok() {
                result = self.checked(n, &["CONFIG", "REWRITE"], false).await;
            }
            let addr = self.nodes[n].addr();
            match result {
                Ok(_) => {
                    self.out.warn(&format!("*** New timeout set for {addr}\n"));
                    ok += 1;
                }
                Err(e) => {
                    self.out.err(&format!(
                        "ERR setting node-timeout for {addr}: {}\n",
                        e.unwrap_or_default()
                    ));
                    failed += 1;
                }
            }
        }
        self.out.info(&format!(
            ">>> New node timeout set. {ok} OK, {failed} ERR.\n"
        ));
        true
    }
}

/// The IP to MEET, as redis-cli resolves a hostname (`anetResolve`).
async fn resolve(host: &str) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Some(host.to_string());
    }
    let mut addrs = tokio::net::lookup_host((host, 0)).await.ok()?;
    addrs.next().map(|a| a.ip().to_string())
}

/// `cluster meet <ip> <port> [<bus port>]`: the bus port only when it is not port + 10000.
fn meet_args(ip: &str, first: &Node) -> Vec<String> {
    let mut args = vec![
        "cluster".to_string(),
        "meet".to_string(),
        ip.to_string(),
        first.port.to_string(),
    ];
    if first.bus_port != 0
        && u32::from(first.bus_port) != u32::from(first.port) + topology::PORT_INCR
    {
        args.push(first.bus_port.to_string());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meet_names_the_bus_port_only_when_unusual() {
        let node = Node::new("127.0.0.1", 7000, 0);
        assert_eq!(
            meet_args("127.0.0.1", &node),
            ["cluster", "meet", "127.0.0.1", "7000"]
        );
        let node = Node::new("127.0.0.1", 7000, 9000);
        assert_eq!(meet_args("127.0.0.1", &node)[4], "9000");
    }
}
