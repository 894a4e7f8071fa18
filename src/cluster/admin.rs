//! What the CLUSTER command changes, with Redis's error texts (`clusterCommand`). The command
//! layer parses arguments and checks the keyspace; these methods check and change the cluster
//! state. Errors are whole error lines (`ERR ...`).

use rand::RngCore;

use crate::events::Event;

use super::bus::{NodeName, Type};
use super::failover::FailoverMode;
use super::slot::SLOTS;
use super::{Cluster, Ms};

type Result<T> = std::result::Result<T, String>;

impl Cluster {
    /// Finds a node by name, or `ERR Unknown node <name>`.
    pub fn known(&self, text: &[u8]) -> Result<NodeName> {
        self.lookup(text)
            .map(|n| n.name)
            .ok_or_else(|| format!("ERR Unknown node {}", String::from_utf8_lossy(text)))
    }

    /// CLUSTER MEET: `false` means the address is invalid.
    pub fn meet(
        &mut self,
        ip: &str,
        port: i64,
        cport: i64,
        now: Ms,
        rng: &mut dyn RngCore,
    ) -> bool {
        let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
            return false;
        };
        if !(1..=65535).contains(&port) || !(1..=65535).contains(&cport) {
            return false;
        }
        // A handshake already in progress for the address is not an error.
        self.start_handshake(&addr.to_string(), port as u16, cport as u16, now, rng);
        true
    }

    /// CLUSTER ADDSLOTS / DELSLOTS (and the RANGE forms): all or nothing.
    pub fn assign_slots(&mut self, ranges: &[(u16, u16)], del: bool) -> Result<()> {
        let mut seen = vec![false; SLOTS];
        for &(start, end) in ranges {
            for s in start..=end {
                let owner = self.slot_owner_name(s);
                if del && owner.is_none() {
                    return Err(format!("ERR Slot {s} is already unassigned"));
                }
                if !del && owner.is_some() {
                    return Err(format!("ERR Slot {s} is already busy"));
                }
                if std::mem::replace(&mut seen[s as usize], true) {
                    return Err(format!("ERR Slot {s} specified multiple times"));
                }
            }
        }
        let me = self.myself;
        for (s, _) in seen.iter().enumerate().filter(|(_, on)| **on) {
            self.importing.remove(&(s as u16));
            if del {
                self.del_slot(s as u16);
            } else {
                self.add_slot(&me, s as u16);
            }
        }
        self.todo.update_state = true;
        self.save_config(false);
        Ok(())
    }

    /// CLUSTER FLUSHSLOTS (the caller checked the keyspace is empty).
    pub fn flush_slots(&mut self) {
        let me = self.myself;
        self.del_node_slots(&me);
        self.todo.update_state = true;
        self.save_config(false);
    }

    /// CLUSTER SETSLOT <slot> MIGRATING|IMPORTING|STABLE|NODE. `keys_in_slot` is what the
    /// keyspace holds in that slot.
    pub fn set_slot(
        &mut self,
        slot: u16,
        action: &str,
        node: Option<&[u8]>,
        keys_in_slot: usize,
        now: Ms,
    ) -> Result<()> {
        if self.me().is_replica() {
            return Err("ERR Please use SETSLOT only with masters.".into());
        }
        let dont_know =
            |n: &[u8]| format!("ERR I don't know about node {}", String::from_utf8_lossy(n));
        let target =
            |c: &Cluster, n: &[u8], unknown: &dyn Fn(&[u8]) -> String| -> Result<NodeName> {
                let found = c.lookup(n).ok_or_else(|| unknown(n))?;
                if found.is_replica() {
                    return Err("ERR Target node is not a master".into());
                }
                Ok(found.name)
            };
        match (action.to_ascii_lowercase().as_str(), node) {
            ("migrating", Some(n)) => {
                if self.slot_owner_name(slot) != Some(self.myself) {
                    return Err(format!("ERR I'm not the owner of hash slot {slot}"));
                }
                let t = target(self, n, &dont_know)?;
                self.migrating.insert(slot, t);
            }
            ("importing", Some(n)) => {
                if self.slot_owner_name(slot) == Some(self.myself) {
                    return Err(format!("ERR I'm already the owner of hash slot {slot}"));
                }
                let t = target(self, n, &dont_know)?;
                self.importing.insert(slot, t);
            }
            ("stable", None) => {
                self.importing.remove(&slot);
                self.migrating.remove(&slot);
            }
            ("node", Some(n)) => {
                let unknown = |n: &[u8]| format!("ERR Unknown node {}", String::from_utf8_lossy(n));
                let t = target(self, n, &unknown)?;
                let mine = self.slot_owner_name(slot) == Some(self.myself);
                if mine && t != self.myself && keys_in_slot != 0 {
                    return Err(format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."));
                }
                if keys_in_slot == 0 {
                    self.migrating.remove(&slot);
                }
                self.del_slot(slot);
                self.add_slot(&t, slot);
                if mine
                    && t != self.myself
                    && self.me().num_slots == 0
                    && self.settings.allow_replica_migration
                {
                    self.emit(Event::ClusterReconfiguredAsReplica {
                        name: super::bus::name_str(&t),
                    });
                    self.set_my_master(t);
                    self.save_config(true);
                }
                if t == self.myself && self.importing.contains_key(&slot) {
                    if self.bump_epoch_without_consensus() {
                        self.emit(Event::ClusterEpochAfterImport { slot });
                    }
                    self.importing.remove(&slot);
                    self.broadcast_pong(false, now);
                }
            }
            _ => {
                return Err(
                    "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"
                        .into(),
                )
            }
        }
        self.save_config(false);
        self.todo.update_state = true;
        Ok(())
    }

    /// CLUSTER REPLICATE. `db_empty`: the keyspace holds no key.
    pub fn replicate(&mut self, text: &[u8], db_empty: bool) -> Result<()> {
        let n = self.known(text)?;
        if n == self.myself {
            return Err("ERR Can't replicate myself".into());
        }
        if self.nodes[&n].is_replica() {
            return Err("ERR I can only replicate a master, not a replica.".into());
        }
        if self.me().is_master() && (self.me().num_slots != 0 || !db_empty) {
            return Err(
                "ERR To set a master the node must be empty and without assigned slots.".into(),
            );
        }
        self.set_my_master(n);
        self.todo.update_state = true;
        self.save_config(false);
        Ok(())
    }

    /// CLUSTER FORGET.
    pub fn forget(&mut self, text: &[u8], now: Ms) -> Result<()> {
        let n = self.known(text)?;
        if n == self.myself {
            return Err("ERR I tried hard but I can't forget myself...".into());
        }
        if self.me().is_replica() && self.me().replica_of == Some(n) {
            return Err("ERR Can't forget my master!".into());
        }
        self.blacklist_add(n, now);
        self.del_node(&n);
        self.todo.update_state = true;
        self.save_config(false);
        Ok(())
    }

    /// CLUSTER SET-CONFIG-EPOCH.
    pub fn set_config_epoch(&mut self, epoch: i64) -> Result<()> {
        if epoch < 0 {
            return Err(format!("ERR Invalid config epoch specified: {epoch}"));
        }
        if self.nodes.len() > 1 {
            return Err("ERR The user can assign a config epoch only when the node does not know any other node.".into());
        }
        if self.me().config_epoch != 0 {
            return Err("ERR Node config epoch is already non-zero".into());
        }
        let epoch = epoch as u64;
        self.me_mut().config_epoch = epoch;
        self.emit(Event::ClusterConfigEpochSet { epoch });
        self.current_epoch = self.current_epoch.max(epoch);
        self.todo.update_state = true;
        self.save_config(false);
        Ok(())
    }

    /// CLUSTER BUMPEPOCH: `(bumped, my configEpoch)`.
    pub fn bump_epoch(&mut self) -> (bool, u64) {
        let bumped = self.bump_epoch_without_consensus();
        (bumped, self.me().config_epoch)
    }

    /// CLUSTER FAILOVER [FORCE|TAKEOVER].
    pub fn failover(&mut self, mode: FailoverMode, now: Ms) -> Result<()> {
        if self.me().is_master() {
            return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
        }
        let Some(master) = self.me().replica_of.and_then(|m| self.nodes.get(&m)) else {
            return Err("ERR I'm a replica but my master is unknown to me".into());
        };
        if mode == FailoverMode::Default && (master.failing() || master.link.is_none()) {
            return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
        }
        self.start_manual_failover(mode, now);
        Ok(())
    }

    /// CLUSTER RESET [HARD|SOFT] (the caller checked a master holds no keys and flushes a
    /// replica's data). Returns true if myself was a replica.
    pub fn reset(&mut self, hard: bool, rng: &mut dyn RngCore) -> bool {
        let was_replica = self.me().is_replica();
        if was_replica {
            let me = self.myself;
            self.set_node_as_master(&me);
            self.want_master(None);
        }
        self.close_all_slots();
        self.reset_manual_failover();
        for s in 0..SLOTS {
            self.del_slot(s as u16);
        }
        let others: Vec<NodeName> = self
            .nodes
            .keys()
            .copied()
            .filter(|n| *n != self.myself)
            .collect();
        for n in others {
            self.del_node(&n);
        }
        if hard {
            self.current_epoch = 0;
            self.last_vote_epoch = 0;
            self.me_mut().config_epoch = 0;
            let mut me = self.nodes.remove(&self.myself).expect("myself");
            me.name = super::random_name(rng);
            self.myself = me.name;
            self.nodes.insert(me.name, me);
        }
        self.todo.update_state = true;
        self.save_config(true);
        was_replica
    }

    /// Start-up check of loaded keys against the slot table (`verifyClusterConfigWithData`):
    /// `slots_with_keys` are the slots db 0 holds keys in.
    pub fn verify_with_data(&mut self, slots_with_keys: &[u16]) {
        if self.me().is_replica() {
            return;
        }
        let me = self.myself;
        let mut changed = false;
        for &s in slots_with_keys {
            if self.slot_owner_name(s) == Some(me) || self.importing.contains_key(&s) {
                continue;
            }
            changed = true;
            match self.slot_owner_name(s) {
                None => {
                    self.emit(Event::ClusterKeysInUnassignedSlot { slot: s });
                    self.add_slot(&me, s);
                }
                Some(owner) => {
                    self.emit(Event::ClusterKeysInOthersSlot { slot: s });
                    self.importing.insert(s, owner);
                }
            }
        }
        if changed {
            self.save_config(true);
        }
    }

    /// The links CLUSTER LINKS describes: `(direction, node, create-time, connected)`.
    pub fn link_list(&self) -> Vec<(&'static str, NodeName, Ms)> {
        let mut out = Vec::new();
        for n in self.nodes.values() {
            if let Some(l) = n.link.and_then(|l| self.links.get(&l)) {
                out.push(("to", n.name, l.ctime));
            }
            if let Some(l) = n.inbound_link.and_then(|l| self.links.get(&l)) {
                out.push(("from", n.name, l.ctime));
            }
        }
        out
    }

    /// The message type names with their sent and received counters (CLUSTER INFO).
    pub fn message_stats(&self) -> Vec<(&'static str, u64, u64)> {
        (0..super::bus::TYPE_COUNT as u16)
            .filter_map(Type::from_u16)
            .map(|t| {
                (
                    t.name(),
                    self.stats_sent[t as usize],
                    self.stats_received[t as usize],
                )
            })
            .collect()
    }
}
