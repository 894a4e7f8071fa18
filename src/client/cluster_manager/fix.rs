//! `fix` and `check --search-multiple-owners`: repairing what the check finds, as redis-cli
//! 7.0's `clusterManagerFixOpenSlot` (its cases 1 to 4), `clusterManagerFixSlotsCoverage` and
//! `clusterManagerFixMultipleSlotOwners` do, with the same questions and messages.

use crate::cluster::slot::SlotBitmap;
use crate::resp::frame::Frame;

use super::manager::{Manager, MoveOpts};
use super::topology::{self, Node, SLOTS};

impl Manager<'_, '_> {
    pub(super) async fn check_multiple_owners(&mut self) -> bool {
        self.out.info(">>> Check for multiple slot owners...\n");
        let mut result = true;
        let mut with_multiple = 0;
        for slot in 0..SLOTS {
            let mut owners = Vec::new();
            for i in 0..self.nodes.len() {
                if self.nodes[i].is_slave() {
                    continue;
                }
                if self.nodes[i].slots.get(slot) || self.count_keys_in_slot(i, slot).await > 0 {
                    owners.push(i);
                }
            }
            if owners.len() > 1 {
                result = false;
                self.out.err(&format!(
                    "[WARNING] Slot {slot} has {} owners:\n",
                    owners.len()
                ));
                for &o in &owners {
                    let addr = self.nodes[o].addr();
                    self.out.err(&format!("    {addr}\n"));
                }
                with_multiple += 1;
                if self.fix {
                    result = self.fix_multiple_slot_owners(slot, &owners).await;
                    if !result {
                        self.out
                            .err(&format!("Failed to fix multiple owners for slot {slot}\n"));
                        break;
                    }
                    with_multiple -= 1;
                }
            }
        }
        if with_multiple == 0 {
            self.out.ok("[OK] No multiple owners found.\n");
        }
        result
    }

    fn master_indices(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_serving_master())
            .collect()
    }

    /// `clusterManagerGetNodeWithMostKeysInSlot` among `candidates` (masters only).
    async fn node_with_most_keys(&mut self, candidates: &[usize], slot: usize) -> Option<usize> {
        let mut best = None;
        let mut most = 0;
        for &n in candidates {
            if !self.nodes[n].is_serving_master() {
                continue;
            }
            let args = [
                "CLUSTER".to_string(),
                "COUNTKEYSINSLOT".into(),
                slot.to_string(),
            ];
            match self.checked(n, &args, true).await {
                Ok(Frame::Integer(count)) => {
                    if count > most || best.is_none() {
                        most = count;
                        best = Some(n);
                    }
                }
                _ => return None,
            }
        }
        best
    }

    fn refuse_with_unreachable(&mut self, what: &str) -> bool {
        if self.unreachable_masters > 0 && !self.opts.fix_with_unreachable_masters {
            let n = self.unreachable_masters;
            self.out.warn(&format!(
                "*** Fixing {what} with {n} unreachable masters is dangerous: redis-cli will assume that slots about masters that are not reachable are not covered, and will try to reassign them to the reachable nodes. This can cause data loss and is rarely what you want to do. If you really want to proceed use the --cluster-fix-with-unreachable-masters option.\n"
            ));
            return true;
        }
        false
    }

    /// `clusterManagerFixSlotsCoverage`: gives every uncovered slot an owner (a random master
    /// if no node has its keys, the one that has them, or the one with most keys, moving the
    /// rest there). Each case asks first, even with `--yes`. Returns slots fixed, -1 on error.
    pub(super) async fn fix_slots_coverage(&mut self, covered: &[bool]) -> i64 {
        if self.refuse_with_unreachable("slots coverage") {
            return -1;
        }
        self.out.info(">>> Fixing slots coverage...\n");
        let masters = self.master_indices();
        if masters.is_empty() {
            self.out
                .err("[ERR] No reachable master to cover the slots.\n");
            return -1;
        }
        let mut uncovered: Vec<(usize, Vec<usize>)> = Vec::new();
        for slot in (0..SLOTS).filter(|s| !covered[*s]) {
            let mut holders = Vec::new();
            for &m in &masters {
                let args = [
                    "CLUSTER".to_string(),
                    "GETKEYSINSLOT".into(),
                    slot.to_string(),
                    "1".into(),
                ];
                match self.checked(m, &args, true).await {
                    Ok(Frame::Array(keys)) => {
                        if !keys.is_empty() {
                            holders.push(m);
                        }
                    }
                    _ => return -1,
                }
            }
            uncovered.push((slot, holders));
        }
        let mut fixed = 0;
        let pick = |n: usize| -> Vec<(usize, Vec<usize>)> {
            uncovered
                .iter()
                .filter(|(_, h)| match n {
                    0 => h.is_empty(),
                    1 => h.len() == 1,
                    _ => h.len() > 1,
                })
                .cloned()
                .collect()
        };
        let (none, single, multi) = (pick(0), pick(1), pick(2));
        if !none.is_empty() {
            self.out
                .print("The following uncovered slots have no keys across the cluster:\n");
            self.print_slot_list(&none);
            if self
                .out
                .confirm("Fix these slots by covering with a random node?", false)
            {
                for (slot, _) in &none {
                    let n = masters[rand::random::<usize>() % masters.len()];
                    let addr = self.nodes[n].addr();
                    self.out
                        .info(&format!(">>> Covering slot {slot} with {addr}\n"));
                    if !self.set_slot_owner(n, *slot, false).await {
                        return -1;
                    }
                    self.give_slot(n, *slot);
                    fixed += 1;
                }
            }
        }
        if !single.is_empty() {
            self.out
                .print("The following uncovered slots have keys in just one node:\n");
            self.print_slot_list(&single);
            if self
                .out
                .confirm("Fix these slots by covering with those nodes?", false)
            {
                for (slot, holders) in &single {
                    let n = holders[0];
                    let addr = self.nodes[n].addr();
                    self.out
                        .info(&format!(">>> Covering slot {slot} with {addr}\n"));
                    if !self.set_slot_owner(n, *slot, false).await {
                        return -1;
                    }
                    self.give_slot(n, *slot);
                    fixed += 1;
                }
            }
        }
        if !multi.is_empty() {
            self.out
                .print("The following uncovered slots have keys in multiple nodes:\n");
            self.print_slot_list(&multi);
            if self
                .out
                .confirm("Fix these slots by moving keys into a single node?", false)
            {
                for (slot, holders) in &multi {
                    let slot = *slot;
                    let Some(target) = self.node_with_most_keys(holders, slot).await else {
                        return -1;
                    };
                    let addr = self.nodes[target].addr();
                    self.out
                        .info(&format!(">>> Covering slot {slot} moving keys to {addr}\n"));
                    if !self.set_slot_owner(target, slot, true).await {
                        return -1;
                    }
                    self.give_slot(target, slot);
                    for &src in holders {
                        if src == target {
                            continue;
                        }
                        if !self.set_slot_printed(src, target, slot, "NODE").await
                            || !self.set_slot_printed(src, target, slot, "IMPORTING").await
                        {
                            return -1;
                        }
                        let opts = MoveOpts {
                            verbose: true,
                            cold: true,
                            ..MoveOpts::default()
                        };
                        if self.move_slot(src, target, slot, opts).await.is_err()
                            || !self.clear_slot_status(src, slot).await
                        {
                            return -1;
                        }
                    }
                    fixed += 1;
                }
            }
        }
        fixed
    }

    fn give_slot(&mut self, n: usize, slot: usize) {
        if !self.nodes[n].slots.set(slot) {
            self.nodes[n].slots_count += 1;
        }
    }

    fn print_slot_list(&mut self, slots: &[(usize, Vec<usize>)]) {
        let mut set = SlotBitmap::default();
        for (slot, _) in slots {
            set.set(*slot);
        }
        let text = format!("{}\n", topology::slots_string(&set));
        self.out.print(&text);
    }

    /// `clusterManagerFixOpenSlot`: closes a slot left migrating/importing, moving its keys
    /// where they belong (redis-cli's cases 1 to 4).
    pub(super) async fn fix_open_slot(&mut self, slot: usize) -> bool {
        if self.refuse_with_unreachable("open slots") {
            return false;
        }
        self.out.info(&format!(">>> Fixing open slot {slot}\n"));
        let slot_text = slot.to_string();
        let mut owners = Vec::new();
        for n in 0..self.nodes.len() {
            if self.nodes[n].is_slave() {
                continue;
            }
            if self.nodes[n].slots.get(slot) {
                owners.push(n);
            } else {
                let count = self.count_keys_in_slot(n, slot).await;
                if count < 0 {
                    return false;
                }
                if count > 0 {
                    let addr = self.nodes[n].addr();
                    self.out.warn(&format!(
                        "*** Found keys about slot {slot} in non-owner node {addr}!\n"
                    ));
                    owners.push(n);
                }
            }
        }
        let mut owner = (owners.len() == 1).then(|| owners[0]);
        let mut migrating = Vec::new();
        let mut importing = Vec::new();
        for n in 0..self.nodes.len() {
            if self.nodes[n].is_slave() {
                continue;
            }
            let is_migrating = self.nodes[n]
                .migrating
                .iter()
                .any(|(s, _)| topology::atoi(s) == slot as i64);
            let is_importing = !is_migrating
                && self.nodes[n]
                    .importing
                    .iter()
                    .any(|(s, _)| topology::atoi(s) == slot as i64);
            if is_migrating {
                migrating.push(n);
            } else if is_importing {
                importing.push(n);
            } else if owner != Some(n) {
                let count = self.count_keys_in_slot(n, slot).await;
                if count < 0 {
                    return false;
                }
                if count > 0 {
                    let addr = self.nodes[n].addr();
                    self.out.warn(&format!(
                        "*** Found keys about slot {slot} in node {addr}!\n"
                    ));
                    importing.push(n);
                }
            }
        }
        let addrs = |list: &[usize], nodes: &[Node]| {
            list.iter()
                .map(|&n| nodes[n].addr())
                .collect::<Vec<_>>()
                .join(",")
        };
        let migrating_str = addrs(&migrating, &self.nodes);
        let importing_str = addrs(&importing, &self.nodes);
        if !migrating_str.is_empty() {
            self.out
                .print(&format!("Set as migrating in: {migrating_str}\n"));
        }
        if !importing_str.is_empty() {
            self.out
                .print(&format!("Set as importing in: {importing_str}\n"));
        }
        if owner.is_none() {
            self.out.info(
                ">>> No single clear owner for the slot, selecting an owner by # of keys...\n",
            );
            let all: Vec<usize> = (0..self.nodes.len()).collect();
            let Some(o) = self.node_with_most_keys(&all, slot).await else {
                self.out
                    .err("[ERR] Can't select a slot owner. Impossible to fix.\n");
                return false;
            };
            let addr = self.nodes[o].addr();
            self.out
                .warn(&format!("*** Configuring {addr} as the slot owner\n"));
            if !self.clear_slot_status(o, slot).await || !self.set_slot_owner(o, slot, false).await
            {
                return false;
            }
            self.give_slot(o, slot);
            migrating.retain(|&n| n != o);
            importing.retain(|&n| n != o);
            owner = Some(o);
        }
        let owner = owner.expect("an owner was chosen above");
        if owners.len() > 1 {
            for &n in &owners {
                if n == owner {
                    continue;
                }
                if !self.del_slot(n, slot, true).await {
                    return false;
                }
                if self.nodes[n].slots.clear(slot) {
                    self.nodes[n].slots_count -= 1;
                }
                if !self.set_slot_printed(n, owner, slot, "node").await
                    || !self.set_slot_printed(n, owner, slot, "importing").await
                {
                    return false;
                }
                importing.retain(|&i| i != n);
                importing.push(n);
                migrating.retain(|&i| i != n);
            }
        }
        let verbose = MoveOpts {
            verbose: true,
            ..MoveOpts::default()
        };
        if migrating.len() == 1 && importing.len() == 1 {
            let (src, dst) = (migrating[0], importing[0]);
            let line = format!(
                ">>> Case 1: Moving slot {slot} from {} to {}\n",
                self.nodes[src].addr(),
                self.nodes[dst].addr()
            );
            self.out.info(&line);
            let opts = MoveOpts {
                update: true,
                ..verbose
            };
            return self.move_slot(src, dst, slot, opts).await.is_ok();
        }
        if migrating.is_empty() && !importing.is_empty() {
            let addr = self.nodes[owner].addr();
            self.out.info(&format!(
                ">>> Case 2: Moving all the {slot} slot keys to its owner {addr}\n"
            ));
            let opts = MoveOpts {
                cold: true,
                ..verbose
            };
            for &n in &importing {
                if n == owner {
                    continue;
                }
                if self.move_slot(n, owner, slot, opts).await.is_err() {
                    return false;
                }
                let addr = self.nodes[n].addr();
                self.out
                    .info(&format!(">>> Setting {slot} as STABLE in {addr}\n"));
                if !self.clear_slot_status(n, slot).await {
                    return false;
                }
            }
            for n in 0..self.nodes.len() {
                if n == owner || self.nodes[n].is_slave() {
                    continue;
                }
                if !self.set_slot_printed(n, owner, slot, "NODE").await {
                    return false;
                }
            }
            return true;
        }
        if migrating.len() == 1 && importing.len() > 1 {
            let src = migrating[0];
            let target_id = self.nodes[src]
                .migrating
                .iter()
                .find(|(s, _)| topology::atoi(s) == slot as i64)
                .map(|(_, id)| id.clone())
                .unwrap_or_default();
            let mut dst = None;
            let mut try_to_fix = true;
            for &n in &importing {
                if self.count_keys_in_slot(n, slot).await > 0 {
                    try_to_fix = false;
                    break;
                }
                if self.nodes[n].name == target_id {
                    dst = Some(n);
                }
            }
            if try_to_fix {
                if let Some(dst) = dst {
                    let line = format!(
                        ">>> Case 3: Moving slot {slot} from {} to {} and closing it on all the other importing nodes.\n",
                        self.nodes[src].addr(),
                        self.nodes[dst].addr()
                    );
                    self.out.info(&line);
                    if self.move_slot(src, dst, slot, verbose).await.is_err() {
                        return false;
                    }
                    for &n in &importing {
                        if n != dst && !self.clear_slot_status(n, slot).await {
                            return false;
                        }
                    }
                } else {
                    self.out.info(&format!(
                        ">>> Case 3: Closing slot {slot} on both migrating and importing nodes.\n"
                    ));
                    if !self.clear_slot_status(src, slot).await {
                        return false;
                    }
                    for &n in &importing {
                        if !self.clear_slot_status(n, slot).await {
                            return false;
                        }
                    }
                }
                return true;
            }
        } else {
            let mut try_to_close = importing.is_empty() && migrating.len() == 1;
            if try_to_close {
                let n = migrating[0];
                if owner != n {
                    let args = [
                        "CLUSTER".to_string(),
                        "GETKEYSINSLOT".into(),
                        slot_text.clone(),
                        "10".into(),
                    ];
                    match self.checked(n, &args, true).await {
                        Ok(Frame::Array(keys)) => try_to_close = keys.is_empty(),
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
            }
            if try_to_close {
                let n = migrating[0];
                let addr = self.nodes[n].addr();
                self.out
                    .info(&format!(">>> Case 4: Closing slot {slot} on {addr}\n"));
                return self.clear_slot_status(n, slot).await;
            }
        }
        let addr = self.nodes[owner].addr();
        self.out.err(&format!(
            "[ERR] Sorry, redis-cli can't fix this slot yet (work in progress). Slot is set as migrating in {migrating_str}, as importing in {importing_str}, owner is {addr}\n"
        ));
        false
    }

    /// `clusterManagerFixMultipleSlotOwners`: the owner with most keys keeps the slot; the
    /// others hand it over, with their keys.
    async fn fix_multiple_slot_owners(&mut self, slot: usize, owners: &[usize]) -> bool {
        self.out
            .info(&format!(">>> Fixing multiple owners for slot {slot}...\n"));
        let owner = match self.node_with_most_keys(owners, slot).await {
            Some(o) => o,
            None => owners[0],
        };
        let addr = self.nodes[owner].addr();
        self.out
            .info(&format!(">>> Setting slot {slot} owner: {addr}\n"));
        if !self.set_slot_owner(owner, slot, false).await {
            return false;
        }
        let mut success = false;
        for n in 0..self.nodes.len() {
            if n == owner || self.nodes[n].is_slave() {
                continue;
            }
            let count = self.count_keys_in_slot(n, slot).await;
            success = count >= 0;
            if !success {
                break;
            }
            self.del_slot(n, slot, true).await;
            if !self.set_slot_printed(n, owner, slot, "node").await {
                return false;
            }
            if count > 0 {
                let opts = MoveOpts {
                    verbose: true,
                    cold: true,
                    ..MoveOpts::default()
                };
                success = self.move_slot(n, owner, slot, opts).await.is_ok();
                if !success {
                    break;
                }
            }
        }
        success
    }
}
