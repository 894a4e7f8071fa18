//! Receiving and sending bus messages (`clusterProcessPacket`, `clusterSendPing`), failure
//! detection (PFAIL by timeout, FAIL by reports from a majority of masters) and the cron that
//! keeps links up and pings flowing (`clusterCron`).

use rand::RngCore;

use crate::events::Event;

use super::bus::{self, name_str, Body, Extension, Gossip, Header, Message, NodeName, Type};
use super::node::{flags, Node};
use super::slot::SLOTS;
use super::{Cluster, LinkId, Ms, Output, BLACKLIST_TTL};

/// Failure reports are valid for this many node timeouts.
const FAIL_REPORT_VALIDITY_MULT: Ms = 2;
/// A FAIL flag on a master still serving slots is undone after this many node timeouts.
const FAIL_UNDO_TIME_MULT: Ms = 2;

impl Cluster {
    // ---- sending ----

    /// The header every message starts with (`clusterBuildMessageHdr`).
    pub(crate) fn header(&self, kind: Type) -> Header {
        let me = self.me();
        let master = match (me.is_replica(), me.replica_of) {
            (true, Some(m)) => self.nodes.get(&m).unwrap_or(me),
            _ => me,
        };
        let mut mflags = [0u8; 3];
        if me.is_master() && self.manual_in_progress() {
            mflags[0] |= bus::MFLAG_PAUSED;
        }
        Header {
            kind,
            port: self.settings.port,
            current_epoch: self.current_epoch,
            config_epoch: master.config_epoch,
            offset: self.repl.offset,
            sender: self.myself,
            slots: master.slots.clone(),
            replica_of: me.replica_of,
            ip: self.settings.announce_ip.clone().unwrap_or_default(),
            pport: 0,
            cport: self.settings.cport,
            flags: me.flags,
            state: if self.state_ok { 0 } else { 1 },
            mflags,
        }
    }

    pub(crate) fn send(&mut self, link: LinkId, msg: &Message) {
        if !self.links.contains_key(&link) {
            return;
        }
        self.stats_sent[msg.header.kind as usize] += 1;
        self.outbox.push(Output::Send {
            link,
            frame: bus::encode(msg),
        });
    }

    /// Sends to every known node we hold a link to (`clusterBroadcastMessage`).
    pub(crate) fn broadcast(&mut self, msg: &Message) {
        let links: Vec<LinkId> = self
            .nodes
            .values()
            .filter(|n| n.flags & (flags::MYSELF | flags::HANDSHAKE) == 0)
            .filter_map(|n| n.link)
            .collect();
        for link in links {
            self.send(link, msg);
        }
    }

    fn gossip_entry(n: &Node) -> Gossip {
        Gossip {
            name: n.name,
            ping_sent: (n.ping_sent / 1000) as u32,
            pong_received: (n.pong_received / 1000) as u32,
            ip: n.ip.clone(),
            port: n.port,
            cport: n.cport,
            flags: n.flags,
            pport: n.pport,
        }
    }

    /// A PING, PONG or MEET with gossip about a tenth of the nodes (at least three) and every
    /// node in PFAIL (`clusterSendPing`). The gossip choice is deterministic: the nodes least
    /// recently gossiped about come first.
    pub(crate) fn send_ping(&mut self, link: LinkId, kind: Type, now: Ms) {
        self.pings_sent += 1;
        let round = self.pings_sent;
        let Some(l) = self.links.get(&link) else {
            return;
        };
        let target = l.node;
        if !l.inbound && kind == Type::Ping {
            if let Some(n) = target.and_then(|t| self.nodes.get_mut(&t)) {
                n.ping_sent = now;
            }
        }
        let fresh = self.nodes.len().saturating_sub(2);
        let wanted = (self.nodes.len() / 10).max(3).min(fresh);
        let mut candidates: Vec<(u64, NodeName)> = self
            .nodes
            .values()
            .filter(|n| n.name != self.myself && Some(n.name) != target)
            .filter(|n| n.flags & (flags::PFAIL | flags::HANDSHAKE | flags::NOADDR) == 0)
            .filter(|n| !(n.link.is_none() && n.num_slots == 0))
            .map(|n| (n.last_in_ping_gossip, n.name))
            .collect();
        candidates.sort();
        let mut gossip = Vec::new();
        for (_, name) in candidates.into_iter().take(wanted) {
            let n = self.nodes.get_mut(&name).expect("present");
            n.last_in_ping_gossip = round;
            gossip.push(Self::gossip_entry(n));
        }
        for n in self.nodes.values() {
            if n.has(flags::PFAIL) && n.flags & (flags::HANDSHAKE | flags::NOADDR) == 0 {
                gossip.push(Self::gossip_entry(n));
            }
        }
        let mut extensions = Vec::new();
        if !self.settings.hostname.is_empty() {
            extensions.push(Extension::Hostname(self.settings.hostname.clone()));
        }
        let msg = Message {
            header: self.header(kind),
            body: Body::Ping { gossip, extensions },
        };
        self.send(link, &msg);
    }

    /// PONGs to every connected node, or only to the replicas of my master
    /// (`clusterBroadcastPong`).
    pub(crate) fn broadcast_pong(&mut self, local_replicas_only: bool, now: Ms) {
        let my_master = self.me().replica_of;
        let targets: Vec<LinkId> = self
            .nodes
            .values()
            .filter(|n| n.name != self.myself && !n.has(flags::HANDSHAKE))
            .filter(|n| {
                !local_replicas_only
                    || (n.is_replica()
                        && n.replica_of.is_some()
                        && (n.replica_of == Some(self.myself) || n.replica_of == my_master))
            })
            .filter_map(|n| n.link)
            .collect();
        for link in targets {
            self.send_ping(link, Type::Pong, now);
        }
    }

    /// Sends a PUBLISH to every node (`clusterPropagatePublish`).
    pub fn propagate_publish(&mut self, channel: &[u8], message: &[u8], shard: bool) {
        let kind = if shard {
            Type::PublishShard
        } else {
            Type::Publish
        };
        let msg = Message {
            header: self.header(kind),
            body: Body::Publish {
                channel: bytes::Bytes::copy_from_slice(channel),
                message: bytes::Bytes::copy_from_slice(message),
            },
        };
        if shard {
            // Shard messages go to the nodes serving my slots (my master and its replicas).
            let Some(master) = self.my_master() else {
                return;
            };
            let links: Vec<LinkId> = self
                .nodes
                .values()
                .filter(|n| n.name != self.myself)
                .filter(|n| n.name == master || n.replica_of == Some(master))
                .filter_map(|n| n.link)
                .collect();
            for link in links {
                self.send(link, &msg);
            }
        } else {
            self.broadcast(&msg);
        }
    }

    fn send_fail(&mut self, about: NodeName) {
        let msg = Message {
            header: self.header(Type::Fail),
            body: Body::Fail { about },
        };
        self.broadcast(&msg);
    }

    fn send_update(&mut self, link: Option<LinkId>, about: NodeName) {
        let Some(link) = link else {
            return;
        };
        let Some(n) = self.nodes.get(&about) else {
            return;
        };
        let mut slots = n.slots.clone();
        for (b, hide) in slots.0.iter_mut().zip(self.owner_not_claiming.0.iter()) {
            *b &= !hide;
        }
        let msg = Message {
            header: self.header(Type::Update),
            body: Body::Update {
                config_epoch: n.config_epoch,
                name: about,
                slots,
            },
        };
        self.send(link, &msg);
    }

    // ---- receiving ----

    /// A whole frame arrived on a link. Returns false if the link was closed as a result.
    pub fn received(&mut self, now: Ms, link: LinkId, frame: &[u8]) -> bool {
        self.now = now;
        if let Some(t) = bus::raw_type(frame) {
            if (t as usize) < bus::TYPE_COUNT {
                self.stats_received[t as usize] += 1;
            }
        }
        let msg = match bus::decode(frame) {
            Ok(m) => m,
            Err(bus::BusError::BadFrame) => {
                self.emit(Event::ClusterBusBadFrame);
                self.free_link(link);
                return false;
            }
            Err(bus::BusError::Version(_)) => return true,
            Err(e) => {
                self.emit(match e {
                    bus::BusError::InvalidLength {
                        kind,
                        totlen,
                        expected,
                    } => Event::ClusterBusInvalidLength {
                        kind: kind.into(),
                        totlen,
                        expected,
                    },
                    bus::BusError::BadPadding { kind, len } => Event::ClusterBusBadPadding {
                        kind: kind.into(),
                        len,
                    },
                    bus::BusError::ExtensionOverrun { kind, totlen } => {
                        Event::ClusterBusExtensionOverrun {
                            kind: kind.into(),
                            totlen,
                        }
                    }
                    bus::BusError::UnknownType(kind) => Event::ClusterBusUnknownType { kind },
                    bus::BusError::BadFrame | bus::BusError::Version(_) => {
                        Event::ClusterBusBadFrame
                    }
                });
                return true;
            }
        };
        self.process(now, link, msg)
    }

    /// The sender as this link knows it (`getNodeFromLinkAndMsg`).
    fn sender_of(&mut self, link: LinkId, h: &Header) -> Option<NodeName> {
        let linked = self.links.get(&link)?.node;
        if let Some(n) = linked.and_then(|n| self.nodes.get(&n)) {
            if !n.has(flags::HANDSHAKE) {
                return Some(n.name);
            }
        }
        let sender = self.nodes.get(&h.sender).map(|n| n.name)?;
        if linked.is_none() {
            // An inbound link learns which node it belongs to.
            let old = self.nodes.get(&sender).and_then(|n| n.inbound_link);
            if old != Some(link) {
                if let Some(old) = old {
                    self.free_link(old);
                }
                self.nodes.get_mut(&sender).expect("present").inbound_link = Some(link);
                if let Some(l) = self.links.get_mut(&link) {
                    l.node = Some(sender);
                }
            }
        }
        Some(sender)
    }

    fn link_ip(&self, link: LinkId, announced: &str) -> String {
        if !announced.is_empty() {
            return announced.to_string();
        }
        self.links
            .get(&link)
            .map(|l| l.peer_ip.clone())
            .unwrap_or_default()
    }

    /// `nodeUpdateAddressIfNeeded`: a PING on another link than ours tells the node's
    /// current address.
    fn update_address(&mut self, name: NodeName, link: LinkId, h: &Header) -> bool {
        let Some(n) = self.nodes.get(&name) else {
            return false;
        };
        if n.link == Some(link) {
            return false;
        }
        let ip = self.link_ip(link, &h.ip);
        if ip.is_empty() {
            return false;
        }
        if n.port == h.port && n.cport == h.cport && n.pport == h.pport && n.ip == ip {
            return false;
        }
        let old_link = n.link;
        let n = self.nodes.get_mut(&name).expect("present");
        n.ip = ip.clone();
        n.port = h.port;
        n.pport = h.pport;
        n.cport = h.cport;
        n.flags &= !flags::NOADDR;
        if let Some(l) = old_link {
            self.free_link(l);
        }
        let addr = format!("{ip}:{}", h.port);
        self.emit(Event::ClusterAddressUpdated {
            name: name_str(&name),
            addr,
        });
        if self.me().is_replica() && self.me().replica_of == Some(name) {
            self.want_master(Some((ip, h.port)));
        }
        true
    }

    fn process(&mut self, now: Ms, link: LinkId, msg: Message) -> bool {
        let h = &msg.header;
        let kind = h.kind;
        let sender = self.sender_of(link, h);
        if let Some(s) = sender {
            self.nodes.get_mut(&s).expect("present").data_received = now;
        }
        let known_sender = sender.filter(|s| !self.nodes[s].has(flags::HANDSHAKE));
        if let Some(s) = known_sender {
            if h.current_epoch > self.current_epoch {
                self.current_epoch = h.current_epoch;
            }
            let n = self.nodes.get_mut(&s).expect("present");
            if h.config_epoch > n.config_epoch {
                n.config_epoch = h.config_epoch;
                self.save_config(true);
            }
            let n = self.nodes.get_mut(&s).expect("present");
            n.repl_offset = h.offset;
            if self.manual.end != 0
                && self.me().is_replica()
                && self.me().replica_of == Some(s)
                && h.mflags[0] & bus::MFLAG_PAUSED != 0
                && self.manual.master_offset.is_none()
            {
                self.manual.master_offset = Some(h.offset);
                self.todo.handle_manual_failover = true;
                self.emit(Event::ClusterManualFailoverOffset { offset: h.offset });
            }
        }
        let inbound = self.links.get(&link).is_some_and(|l| l.inbound);

        if matches!(kind, Type::Ping | Type::Meet) {
            if (kind == Type::Meet || self.me().ip.is_empty())
                && self.settings.announce_ip.is_none()
            {
                let local = self
                    .links
                    .get(&link)
                    .map(|l| l.local_ip.clone())
                    .unwrap_or_default();
                if !local.is_empty() && local != self.me().ip {
                    self.me_mut().ip = local.clone();
                    self.emit(Event::ClusterMyIpUpdated { ip: local });
                    self.save_config(false);
                }
            }
            if sender.is_none() && kind == Type::Meet {
                self.handshakes_met += 1;
                let seed = u64::from_be_bytes(self.myself[..8].try_into().expect("8 bytes"))
                    ^ self.handshakes_met.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ now;
                let mut n = Node::new(super::random_name(&mut DetRng(seed)), flags::HANDSHAKE, now);
                n.ip = self.link_ip(link, &h.ip);
                n.port = h.port;
                n.pport = h.pport;
                n.cport = h.cport;
                self.add_node(n);
                self.save_config(false);
                if let Body::Ping { gossip, .. } = &msg.body {
                    self.process_gossip(now, None, gossip);
                }
            }
            self.send_ping(link, Type::Pong, now);
        }

        match &msg.body {
            Body::Ping { gossip, extensions } => {
                if !inbound {
                    let Some(link_node) = self.links.get(&link).and_then(|l| l.node) else {
                        return true;
                    };
                    if self
                        .nodes
                        .get(&link_node)
                        .is_some_and(|n| n.has(flags::HANDSHAKE))
                    {
                        if let Some(known) = self.nodes.get(&h.sender).map(|n| n.name) {
                            // We already know this node: fix its address, drop the handshake.
                            if self.update_address(known, link, h) {
                                self.save_config(false);
                                self.todo.update_state = true;
                            }
                            self.del_node(&link_node);
                            return false;
                        }
                        self.rename_node(&link_node, h.sender);
                        let n = self.nodes.get_mut(&h.sender).expect("renamed");
                        n.flags &= !flags::HANDSHAKE;
                        n.flags |= h.flags & (flags::MASTER | flags::SLAVE);
                        self.emit(Event::ClusterHandshakeCompleted {
                            name: name_str(&h.sender),
                        });
                        self.save_config(false);
                    } else if link_node != h.sender {
                        // The node at this address is not the one we thought.
                        let n = self.nodes.get_mut(&link_node).expect("present");
                        n.flags |= flags::NOADDR;
                        n.ip.clear();
                        n.port = 0;
                        n.pport = 0;
                        n.cport = 0;
                        self.free_link(link);
                        self.save_config(false);
                        return false;
                    }
                }
                let sender = if inbound {
                    sender
                } else {
                    self.links.get(&link).and_then(|l| l.node)
                };
                if let Some(s) = sender {
                    let n = self.nodes.get_mut(&s).expect("present");
                    n.flags = (n.flags & !flags::NOFAILOVER) | (h.flags & flags::NOFAILOVER);
                }
                if let Some(s) = sender {
                    if kind == Type::Ping
                        && !self.nodes[&s].has(flags::HANDSHAKE)
                        && self.update_address(s, link, h)
                    {
                        self.save_config(false);
                        self.todo.update_state = true;
                    }
                }
                if !inbound && kind == Type::Pong {
                    if let Some(name) = self.links.get(&link).and_then(|l| l.node) {
                        let n = self.nodes.get_mut(&name).expect("present");
                        n.pong_received = now;
                        n.ping_sent = 0;
                        if n.has(flags::PFAIL) {
                            n.flags &= !flags::PFAIL;
                            self.save_config(false);
                            self.todo.update_state = true;
                        } else if n.failing() {
                            self.clear_failure_if_needed(name, now);
                        }
                    }
                }
                if let Some(s) = sender {
                    self.learn_role_and_slots(s, h, link);
                    self.process_gossip(now, Some(s), gossip);
                    let hostname = extensions.iter().find_map(|e| match e {
                        Extension::Hostname(h) => Some(h.clone()),
                        Extension::Unknown(_) => None,
                    });
                    for e in extensions {
                        if let Extension::Unknown(t) = e {
                            self.emit(Event::ClusterUnknownExtension { kind: *t });
                        }
                    }
                    let n = self.nodes.get_mut(&s).expect("present");
                    n.hostname = hostname.unwrap_or_default();
                }
            }
            Body::Fail { about } => match sender {
                Some(_) => {
                    if let Some(n) = self.nodes.get_mut(about) {
                        if n.flags & (flags::FAIL | flags::MYSELF) == 0 {
                            n.flags |= flags::FAIL;
                            n.fail_time = now;
                            n.flags &= !flags::PFAIL;
                            self.emit(Event::ClusterFailReceived {
                                sender: name_str(&h.sender),
                                about: name_str(about),
                            });
                            self.save_config(false);
                            self.todo.update_state = true;
                        }
                    }
                }
                None => self.emit(Event::ClusterFailIgnored {
                    sender: name_str(&h.sender),
                    about: name_str(about),
                }),
            },
            Body::Publish { channel, message } => {
                if sender.is_some() {
                    self.outbox.push(Output::Publish {
                        channel: channel.clone(),
                        message: message.clone(),
                        shard: kind == Type::PublishShard,
                    });
                }
            }
            Body::Empty => {
                let Some(s) = sender else {
                    return true;
                };
                match kind {
                    Type::AuthRequest => self.vote_if_needed(s, h, now),
                    Type::AuthAck => {
                        let n = &self.nodes[&s];
                        if n.is_master()
                            && n.num_slots > 0
                            && h.current_epoch >= self.election.epoch
                        {
                            self.election.votes += 1;
                            self.todo.handle_failover = true;
                        }
                    }
                    Type::MfStart => {
                        if self.nodes[&s].replica_of != Some(self.myself) {
                            return true;
                        }
                        self.reset_manual_failover();
                        self.manual.end = now + super::MF_TIMEOUT;
                        self.manual.replica = Some(s);
                        self.outbox.push(Output::PauseWrites(Some(
                            now + super::MF_TIMEOUT * failover::MF_PAUSE_MULT,
                        )));
                        self.emit(Event::ClusterManualFailoverRequested { name: name_str(&s) });
                        self.send_ping(link, Type::Ping, now);
                    }
                    _ => {}
                }
            }
            Body::Update {
                config_epoch,
                name,
                slots,
            } => {
                if sender.is_none() {
                    return true;
                }
                let Some(n) = self.nodes.get(name) else {
                    return true;
                };
                if n.config_epoch >= *config_epoch {
                    return true;
                }
                if n.is_replica() {
                    self.set_node_as_master(name);
                }
                self.nodes.get_mut(name).expect("present").config_epoch = *config_epoch;
                self.save_config(true);
                self.update_slots_config_with(*name, *config_epoch, slots);
            }
            Body::Module { .. } => {}
        }
        true
    }

    /// The role and slots a PING/PONG/MEET announces (`clusterProcessPacket`, the part after
    /// the handshake).
    fn learn_role_and_slots(&mut self, s: NodeName, h: &Header, link: LinkId) {
        match h.replica_of {
            None => self.set_node_as_master(&s),
            Some(master) => {
                if self.nodes[&s].is_master() {
                    self.del_node_slots(&s);
                    let n = self.nodes.get_mut(&s).expect("present");
                    n.flags &= !(flags::MASTER | flags::MIGRATE_TO);
                    n.flags |= flags::SLAVE;
                    self.save_config(false);
                    self.todo.update_state = true;
                }
                if self.nodes.contains_key(&master) && self.nodes[&s].replica_of != Some(master) {
                    if let Some(old) = self.nodes[&s].replica_of {
                        self.remove_replica(&old, &s);
                    }
                    self.add_replica(&master, s);
                    self.nodes.get_mut(&s).expect("present").replica_of = Some(master);
                    self.save_config(false);
                }
            }
        }
        let sender_master = {
            let n = &self.nodes[&s];
            if n.is_master() {
                Some(s)
            } else {
                n.replica_of
            }
        };
        let dirty = sender_master
            .and_then(|m| self.nodes.get(&m))
            .is_some_and(|m| m.slots != h.slots);
        if dirty && self.nodes[&s].is_master() {
            self.update_slots_config_with(s, h.config_epoch, &h.slots);
        }
        if dirty {
            // The sender claims slots someone newer serves: tell it.
            for j in h.slots.iter() {
                let Some(owner) = self.slots[j] else {
                    continue;
                };
                if owner == s || self.slot_unclaimed(j) {
                    continue;
                }
                if self.nodes[&owner].config_epoch > h.config_epoch {
                    let target = self.nodes[&s].link;
                    let _ = link;
                    self.send_update(target, owner);
                    break;
                }
            }
        }
        if self.me().is_master()
            && self.nodes[&s].is_master()
            && h.config_epoch == self.me().config_epoch
        {
            self.handle_epoch_collision(s);
        }
    }

    /// `clusterHandleConfigEpochCollision`: the smaller name moves on.
    fn handle_epoch_collision(&mut self, sender: NodeName) {
        if self.nodes[&sender].config_epoch != self.me().config_epoch
            || !self.nodes[&sender].is_master()
            || !self.me().is_master()
        {
            return;
        }
        if sender <= self.myself {
            return;
        }
        self.current_epoch += 1;
        let epoch = self.current_epoch;
        self.me_mut().config_epoch = epoch;
        self.save_config(true);
        // Redis logs this at verbose level with a "WARNING: " prefix.
        self.emit(Event::ConfigWarning {
            message: format!(
                "configEpoch collision with node {}. configEpoch set to {epoch}",
                name_str(&sender)
            ),
        });
    }

    /// `clusterUpdateSlotsConfigWith`: rebind the slots `sender` claims with a newer epoch,
    /// and follow our slots if they moved to it.
    pub(crate) fn update_slots_config_with(
        &mut self,
        sender: NodeName,
        sender_epoch: u64,
        slots: &super::slot::SlotBitmap,
    ) {
        if sender == self.myself {
            self.emit(Event::ClusterUpdateAboutMyself);
            return;
        }
        let cur_master = self.my_master();
        let mut new_master = None;
        let mut dirty_slots = Vec::new();
        let mut sender_slots = 0;
        let mut migrated_ours = 0;
        // Only slots the sender claims or we think it serves matter; with its bitmap, a byte
        // of neither is skipped whole (the owner table and each node's bitmap agree: both
        // change only in `add_slot`/`del_slot`).
        let sender_served = self.nodes.get(&sender).map(|n| n.slots.clone());
        for j in 0..SLOTS {
            if let Some(served) = &sender_served {
                let byte = j / 8;
                if slots.0[byte] == 0 && served.0[byte] == 0 {
                    continue;
                }
            }
            if slots.get(j) {
                sender_slots += 1;
                if self.slots[j] == Some(sender) {
                    self.owner_not_claiming.clear(j);
                    continue;
                }
                if self.importing.contains_key(&(j as u16)) {
                    continue;
                }
                let take = match self.slots[j] {
                    None => true,
                    Some(_) if self.slot_unclaimed(j) => true,
                    Some(o) => self.nodes[&o].config_epoch < sender_epoch,
                };
                if take {
                    if self.slots[j] == Some(self.myself) && sender != self.myself {
                        dirty_slots.push(j as u16);
                    }
                    if self.slots[j].is_some() && self.slots[j] == cur_master {
                        new_master = Some(sender);
                        migrated_ours += 1;
                    }
                    self.del_slot(j as u16);
                    self.add_slot(&sender, j as u16);
                    self.owner_not_claiming.clear(j);
                    self.save_config(true);
                    self.todo.update_state = true;
                }
            } else if self.slots[j] == Some(sender) {
                self.owner_not_claiming.set(j);
            }
        }
        let cur_master_slots = cur_master
            .and_then(|m| self.nodes.get(&m))
            .map_or(0, |m| m.num_slots);
        if new_master.is_some()
            && cur_master_slots == 0
            && (self.settings.allow_replica_migration || sender_slots == migrated_ours)
        {
            self.emit(Event::ClusterReconfiguredAsReplica {
                name: name_str(&sender),
            });
            self.set_my_master(sender);
            self.save_config(true);
            self.todo.update_state = true;
        } else if let Some(grand) = self
            .me()
            .replica_of
            .and_then(|m| self.nodes.get(&m))
            .and_then(|m| m.replica_of)
            .filter(|g| *g != self.myself)
        {
            self.emit(Event::ClusterSubReplica {
                name: name_str(&grand),
            });
            self.set_my_master(grand);
            self.save_config(true);
            self.todo.update_state = true;
        } else {
            for s in dirty_slots {
                self.outbox.push(Output::DeleteSlotKeys(s));
            }
        }
    }

    /// Makes myself a replica of `master` (`clusterSetMaster`).
    pub(crate) fn set_my_master(&mut self, master: NodeName) {
        if self.me().is_master() {
            let me = self.me_mut();
            me.flags &= !(flags::MASTER | flags::MIGRATE_TO);
            me.flags |= flags::SLAVE;
            self.close_all_slots();
        } else if let Some(old) = self.me().replica_of {
            self.remove_replica(&old, &self.myself.clone());
        }
        let me = self.myself;
        self.me_mut().replica_of = Some(master);
        self.add_replica(&master, me);
        if let Some(m) = self.nodes.get(&master) {
            let target = Some((m.ip.clone(), m.port));
            self.want_master(target);
        }
        self.reset_manual_failover();
    }

    fn process_gossip(&mut self, now: Ms, sender: Option<NodeName>, gossip: &[Gossip]) {
        let sender_is_master = sender
            .and_then(|s| self.nodes.get(&s))
            .is_some_and(|n| n.is_master());
        for g in gossip {
            if let Some(node) = self.nodes.get(&g.name) {
                let name = node.name;
                if sender_is_master && name != self.myself {
                    let s = sender.expect("master sender");
                    if g.flags & (flags::FAIL | flags::PFAIL) != 0 {
                        if self.add_failure_report(name, s, now) {
                            self.emit(Event::ClusterFailureReported {
                                sender: name_str(&s),
                                name: name_str(&name),
                            });
                        }
                        self.mark_failing_if_needed(name, now);
                    } else if self.del_failure_report(name, s) {
                        self.emit(Event::ClusterFailureReportCleared {
                            sender: name_str(&s),
                            name: name_str(&name),
                        });
                    }
                }
                let node = self.nodes.get_mut(&name).expect("present");
                if g.flags & (flags::FAIL | flags::PFAIL) == 0
                    && node.ping_sent == 0
                    && node.fail_reports.is_empty()
                {
                    let pong = g.pong_received as u64 * 1000;
                    if pong <= now + 500 && pong > node.pong_received {
                        node.pong_received = pong;
                    }
                }
                if node.flags & (flags::FAIL | flags::PFAIL) != 0
                    && g.flags & flags::NOADDR == 0
                    && g.flags & (flags::FAIL | flags::PFAIL) == 0
                    && (node.ip != g.ip || node.port != g.port || node.cport != g.cport)
                {
                    let old = node.link;
                    node.ip = g.ip.clone();
                    node.port = g.port;
                    node.pport = g.pport;
                    node.cport = g.cport;
                    node.flags &= !flags::NOADDR;
                    if let Some(l) = old {
                        self.free_link(l);
                    }
                }
            } else if sender.is_some()
                && g.flags & flags::NOADDR == 0
                && !self.blacklisted(&g.name, now)
                && super::valid_name(&g.name)
            {
                let mut n = Node::new(g.name, g.flags & !flags::MYSELF, now);
                n.ip = g.ip.clone();
                n.port = g.port;
                n.pport = g.pport;
                n.cport = g.cport;
                self.add_node(n);
            }
        }
    }

    // ---- failure detection ----

    fn add_failure_report(&mut self, failing: NodeName, sender: NodeName, now: Ms) -> bool {
        let n = self.nodes.get_mut(&failing).expect("present");
        if let Some(r) = n.fail_reports.iter_mut().find(|(s, _)| *s == sender) {
            r.1 = now;
            return false;
        }
        n.fail_reports.push((sender, now));
        true
    }

    fn cleanup_failure_reports(&mut self, name: NodeName, now: Ms) {
        let max_age = self.settings.node_timeout * FAIL_REPORT_VALIDITY_MULT;
        if let Some(n) = self.nodes.get_mut(&name) {
            n.fail_reports
                .retain(|(_, t)| now.saturating_sub(*t) <= max_age);
        }
    }

    fn del_failure_report(&mut self, name: NodeName, sender: NodeName) -> bool {
        let n = self.nodes.get_mut(&name).expect("present");
        let before = n.fail_reports.len();
        n.fail_reports.retain(|(s, _)| *s != sender);
        before != n.fail_reports.len()
    }

    /// Valid failure reports about `name` (CLUSTER COUNT-FAILURE-REPORTS).
    pub fn failure_reports(&mut self, name: NodeName, now: Ms) -> usize {
        self.cleanup_failure_reports(name, now);
        self.nodes.get(&name).map_or(0, |n| n.fail_reports.len())
    }

    /// `markNodeAsFailingIfNeeded`: PFAIL becomes FAIL when a majority of masters agree.
    fn mark_failing_if_needed(&mut self, name: NodeName, now: Ms) {
        let needed = self.size / 2 + 1;
        let n = &self.nodes[&name];
        if !n.has(flags::PFAIL) || n.failing() {
            return;
        }
        let mut failures = self.failure_reports(name, now);
        if self.me().is_master() {
            failures += 1;
        }
        if failures < needed {
            return;
        }
        self.emit(Event::ClusterNodeFailing {
            name: name_str(&name),
        });
        let n = self.nodes.get_mut(&name).expect("present");
        n.flags &= !flags::PFAIL;
        n.flags |= flags::FAIL;
        n.fail_time = now;
        self.send_fail(name);
        self.todo.update_state = true;
        self.save_config(false);
    }

    /// `clearNodeFailureIfNeeded`: a reachable replica, or a master nobody replaced.
    fn clear_failure_if_needed(&mut self, name: NodeName, now: Ms) {
        let n = &self.nodes[&name];
        if n.is_replica() || n.num_slots == 0 {
            let reason = if n.is_replica() {
                "replica is reachable again."
            } else {
                "master without slots is reachable again."
            };
            self.emit(Event::ClusterFailCleared {
                name: name_str(&name),
                reason: reason.into(),
            });
            self.nodes.get_mut(&name).expect("present").flags &= !flags::FAIL;
            self.todo.update_state = true;
            self.save_config(false);
        }
        let n = &self.nodes[&name];
        if n.is_master()
            && n.num_slots > 0
            && now.saturating_sub(n.fail_time) > self.settings.node_timeout * FAIL_UNDO_TIME_MULT
        {
            self.emit(Event::ClusterFailCleared {
                name: name_str(&name),
                reason: "is reachable again and nobody is serving its slots after some time."
                    .into(),
            });
            self.nodes.get_mut(&name).expect("present").flags &= !flags::FAIL;
            self.todo.update_state = true;
            self.save_config(false);
        }
    }

    // ---- the blacklist of forgotten nodes ----

    pub(crate) fn blacklist_add(&mut self, name: NodeName, now: Ms) {
        self.blacklist.retain(|_, until| *until >= now);
        self.blacklist.insert(name, now + BLACKLIST_TTL);
    }

    fn blacklisted(&mut self, name: &NodeName, now: Ms) -> bool {
        self.blacklist.retain(|_, until| *until >= now);
        self.blacklist.contains_key(name)
    }

    // ---- handshakes ----

    /// Starts a handshake with an address (CLUSTER MEET); false if one is in progress.
    pub fn start_handshake(
        &mut self,
        ip: &str,
        port: u16,
        cport: u16,
        now: Ms,
        rng: &mut dyn RngCore,
    ) -> bool {
        let busy = self.nodes.values().any(|n| {
            n.has(flags::HANDSHAKE)
                && n.ip.eq_ignore_ascii_case(ip)
                && n.port == port
                && n.cport == cport
        });
        if busy {
            return false;
        }
        let mut n = Node::new(super::random_name(rng), flags::HANDSHAKE | flags::MEET, now);
        n.ip = ip.to_string();
        n.port = port;
        n.cport = cport;
        self.add_node(n);
        true
    }

    // ---- the cron ----

    /// `clusterCron`, every 100 ms.
    pub fn tick(&mut self, now: Ms, rng: &mut dyn RngCore) {
        self.now = now;
        self.iteration += 1;
        let timeout = self.settings.node_timeout;
        let handshake_timeout = timeout.max(1000);
        self.stats_pfail = 0;
        let names: Vec<NodeName> = self.nodes.keys().copied().collect();
        for name in &names {
            let Some(n) = self.nodes.get(name) else {
                continue;
            };
            if n.flags & (flags::MYSELF | flags::NOADDR) != 0 {
                continue;
            }
            if n.has(flags::PFAIL) {
                self.stats_pfail += 1;
            }
            if n.has(flags::HANDSHAKE) && now.saturating_sub(n.ctime) > handshake_timeout {
                self.del_node(name);
                continue;
            }
            if n.link.is_none() {
                let (ip, cport, node_port) = (n.ip.clone(), n.cport, n.port);
                let id = self.new_link(Some(*name), false, now);
                self.nodes.get_mut(name).expect("present").link = Some(id);
                self.outbox.push(Output::Connect {
                    link: id,
                    ip,
                    port: cport,
                    node_port,
                });
            }
        }

        if self.iteration.is_multiple_of(10) {
            // Ping the node with the oldest pong among a few random ones.
            let mut best: Option<(Ms, NodeName)> = None;
            for _ in 0..5 {
                if names.is_empty() {
                    break;
                }
                let pick = names[(rng.next_u32() as usize) % names.len()];
                let Some(n) = self.nodes.get(&pick) else {
                    continue;
                };
                if !self.link_connected(n.link) || n.ping_sent != 0 {
                    continue;
                }
                if n.flags & (flags::MYSELF | flags::HANDSHAKE) != 0 {
                    continue;
                }
                if best.is_none_or(|(p, _)| p > n.pong_received) {
                    best = Some((n.pong_received, pick));
                }
            }
            if let Some((_, name)) = best {
                let link = self.nodes[&name].link.expect("checked");
                self.send_ping(link, Type::Ping, now);
            }
        }

        let mut orphaned = 0;
        let mut max_replicas = 0;
        let mut my_master_replicas = 0;
        let mut update_state = false;
        for name in &names {
            let Some(n) = self.nodes.get(name) else {
                continue;
            };
            if n.flags & (flags::MYSELF | flags::NOADDR | flags::HANDSHAKE) != 0 {
                continue;
            }
            if self.me().is_replica() && n.is_master() && !n.failing() {
                let ok = self.ok_replicas(name);
                if ok == 0 && n.num_slots > 0 && n.has(flags::MIGRATE_TO) {
                    orphaned += 1;
                }
                max_replicas = max_replicas.max(ok);
                if self.me().replica_of == Some(*name) {
                    my_master_replicas = ok;
                }
            }
            let n = &self.nodes[name];
            let ping_delay = now.saturating_sub(n.ping_sent);
            let data_delay = now.saturating_sub(n.data_received);
            if let Some(link) = n.link.filter(|l| self.link_connected(Some(*l))) {
                let link_age = now.saturating_sub(self.links[&link].ctime);
                if link_age > timeout
                    && n.ping_sent != 0
                    && ping_delay > timeout / 2
                    && data_delay > timeout / 2
                {
                    self.free_link(link);
                }
            }
            let n = &self.nodes[name];
            if let Some(link) = n.link.filter(|l| self.link_connected(Some(*l))) {
                if n.ping_sent == 0 && now.saturating_sub(n.pong_received) > timeout / 2 {
                    self.send_ping(link, Type::Ping, now);
                    continue;
                }
                if self.manual.end != 0
                    && self.me().is_master()
                    && self.manual.replica == Some(*name)
                {
                    self.send_ping(link, Type::Ping, now);
                    continue;
                }
            }
            let n = &self.nodes[name];
            if n.ping_sent == 0 {
                continue;
            }
            let delay = ping_delay.min(data_delay);
            if delay > timeout && n.flags & (flags::PFAIL | flags::FAIL) == 0 {
                self.nodes.get_mut(name).expect("present").flags |= flags::PFAIL;
                self.emit(Event::ClusterNodePossiblyFailing {
                    name: name_str(name),
                });
                update_state = true;
            }
        }

        // A replica replicates from its master's current address (at start-up from
        // nodes.conf, and after the master moved).
        if let Some(m) = self.me().replica_of.filter(|_| self.me().is_replica()) {
            if let Some(master) = self.nodes.get(&m).filter(|n| !n.has(flags::NOADDR)) {
                let target = Some((master.ip.clone(), master.port));
                self.want_master(target);
            }
        }

        self.manual_failover_check_timeout(now);
        if self.me().is_replica() {
            self.handle_manual_failover(now);
            self.handle_replica_failover(now, Some(rng));
            if orphaned > 0
                && max_replicas >= 2
                && my_master_replicas == max_replicas
                && self.settings.allow_replica_migration
            {
                self.handle_replica_migration(max_replicas, now);
            }
        }
        if update_state || !self.state_ok {
            self.update_state(now);
        }
    }

    fn link_connected(&self, link: Option<LinkId>) -> bool {
        link.and_then(|l| self.links.get(&l))
            .is_some_and(|l| l.connected)
    }

    fn ok_replicas(&self, master: &NodeName) -> usize {
        self.nodes[master]
            .replicas
            .iter()
            .filter(|r| self.nodes.get(*r).is_some_and(|n| !n.failing()))
            .count()
    }

    /// Asks the runtime to replicate from an address, once per change.
    pub(crate) fn want_master(&mut self, target: Option<(String, u16)>) {
        if self.wanted_master.as_ref() != Some(&target) {
            self.wanted_master = Some(target.clone());
            self.outbox.push(Output::SetMaster(target));
        }
    }
}

/// A tiny deterministic generator for the names of nodes met by an incoming MEET (Redis
/// draws them at random; any name works since the handshake replaces it).
struct DetRng(u64);

impl RngCore for DetRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest.iter_mut() {
            *b = self.next_u32() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

use super::failover;
