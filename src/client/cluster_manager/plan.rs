//! The arithmetic of the cluster manager, with no I/O: how `create` spreads slots and
//! replicas, how `reshard` picks slots, how `rebalance` weighs nodes. Each follows redis-cli
//! 7.0 (`clusterManagerCommandCreate`, `clusterManagerOptimizeAntiAffinity`,
//! `clusterManagerComputeReshardTable`, `clusterManagerCommandRebalance`), including its
//! rounding, so the same cluster gets the same plan.

use rand::Rng;

use super::topology::{Node, SLOTS};

/// How a line of a plan is printed (redis-cli's log levels pick its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Plain text.
    Plain,
    /// `>>>` steps (bold).
    Info,
    /// Warnings (yellow).
    Warn,
    /// `[OK]` (green).
    Ok,
}

/// The masters a cluster of `nodes` nodes with `replicas` replicas each gets.
pub fn masters_count(nodes: usize, replicas: usize) -> usize {
    nodes / (replicas + 1)
}

/// Plans `create`: marks the masters' slot ranges and every replica's master on `nodes`
/// (which must have their ids loaded), and returns what redis-cli prints while planning.
/// `rng` drives the anti-affinity search, as `rand()` does in redis-cli.
pub fn plan_create(
    nodes: &mut [Node],
    replicas: usize,
    rng: &mut impl Rng,
) -> Vec<(Level, String)> {
    let mut lines = Vec::new();
    let masters_count = masters_count(nodes.len(), replicas);
    // Nodes grouped by IP (in order of first appearance), then taken one per IP in turn.
    let groups = ip_groups(nodes);
    let mut cursors = vec![0usize; groups.len()];
    let mut interleaved = Vec::with_capacity(nodes.len());
    while interleaved.len() < nodes.len() {
        for (group, cursor) in groups.iter().zip(cursors.iter_mut()) {
            if let Some(&n) = group.get(*cursor) {
                interleaved.push(n);
                *cursor += 1;
            }
        }
    }
    let masters: Vec<usize> = interleaved[..masters_count].to_vec();
    let slots_per_node = SLOTS as f32 / masters_count as f32;
    let mut first: usize = 0;
    let mut cursor: f32 = 0.0;
    for (i, &m) in masters.iter().enumerate() {
        let mut last = f64::from(cursor + slots_per_node - 1.0).round() as usize;
        if last > SLOTS || i == masters_count - 1 {
            last = SLOTS - 1;
        }
        last = last.max(first);
        lines.push((
            Level::Plain,
            format!("Master[{i}] -> Slots {first} - {last}"),
        ));
        nodes[m].assign_slots(first..=last);
        first = last + 1;
        cursor += slots_per_node;
    }
    // The rest, rotated by one ("sometimes helps to get better initial anti-affinity").
    let mut rest: Vec<Option<usize>> = interleaved[masters_count..]
        .iter()
        .copied()
        .map(Some)
        .collect();
    if !rest.is_empty() {
        rest.rotate_left(1);
    }
    let mut start = 0;
    let mut available = rest.len();
    for assign_unused in [false, true] {
        if assign_unused {
            if available == 0 {
                break;
            }
            lines.push((Level::Plain, "Adding extra replicas...".to_string()));
        }
        for &m in &masters {
            let mut assigned = 0;
            while assigned < replicas && available > 0 {
                let mut other_ip = None;
                let mut first_same_ip = None;
                for (j, slot) in rest.iter().enumerate().skip(start) {
                    let Some(n) = *slot else { continue };
                    if nodes[n].ip != nodes[m].ip {
                        other_ip = Some(j);
                        break;
                    }
                    first_same_ip.get_or_insert(j);
                }
                let replica = match (other_ip, first_same_ip) {
                    (Some(j), _) => rest[j].take(),
                    (None, Some(j)) => {
                        start = j + 1;
                        rest[j]
                    }
                    (None, None) => None,
                };
                let Some(r) = replica else { break };
                assigned += 1;
                available -= 1;
                nodes[r].replicate = Some(nodes[m].name.clone());
                nodes[r].dirty = true;
                lines.push((
                    Level::Plain,
                    format!("Adding replica {} to {}", nodes[r].addr(), nodes[m].addr()),
                ));
                if assign_unused {
                    break;
                }
            }
        }
    }
    lines.extend(optimize_anti_affinity(nodes, rng));
    lines
}

/// Node indices grouped by IP, groups in order of each IP's first appearance.
fn ip_groups(nodes: &[Node]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        match groups.iter_mut().find(|g| nodes[g[0]].ip == node.ip) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// How badly replicas share hosts (`clusterManagerGetAntiAffinityScore`): 10000 for every
/// replica on its master's IP, 1 for each replica sharing an IP with a sibling; plus, per
/// offending group, the first replica (in node order) to try moving.
pub fn anti_affinity_score(nodes: &[Node]) -> (u64, Vec<usize>) {
    let mut score = 0;
    let mut offenders = Vec::new();
    for group in ip_groups(nodes) {
        // Per master id: 'm' first if the master is here, one 's' per replica here.
        let mut related: Vec<(&str, String)> = Vec::new();
        for &i in &group {
            let node = &nodes[i];
            let key = node.replicate.as_deref().unwrap_or(&node.name);
            let types = match related.iter_mut().find(|(k, _)| *k == key) {
                Some((_, types)) => types,
                None => {
                    related.push((key, String::new()));
                    &mut related.last_mut().expect("just pushed").1
                }
            };
            if node.replicate.is_some() {
                types.push('s');
            } else {
                types.insert(0, 'm');
            }
        }
        let ip = &nodes[group[0]].ip;
        for (master, types) in related {
            if types.len() < 2 {
                continue;
            }
            score += if types.starts_with('m') {
                10000 * (types.len() as u64 - 1)
            } else {
                types.len() as u64
            };
            if let Some(i) = nodes
                .iter()
                .position(|n| n.replicate.as_deref() == Some(master) && &n.ip == ip)
            {
                offenders.push(i);
            }
        }
    }
    (score, offenders)
}

/// Swaps replicas' masters at random, keeping swaps that do not make the score worse, for at
/// most 500 tries per node (`clusterManagerOptimizeAntiAffinity`). Returns the lines printed.
pub fn optimize_anti_affinity(nodes: &mut [Node], rng: &mut impl Rng) -> Vec<(Level, String)> {
    let (score, _) = anti_affinity_score(nodes);
    if score == 0 {
        return Vec::new();
    }
    let mut lines = vec![(
        Level::Info,
        ">>> Trying to optimize slaves allocation for anti-affinity".to_string(),
    )];
    for _ in 0..500 * nodes.len() {
        let (score, offenders) = anti_affinity_score(nodes);
        if score == 0 || offenders.is_empty() {
            break;
        }
        let first = offenders[rng.gen_range(0..offenders.len())];
        let others: Vec<usize> = (0..nodes.len())
            .filter(|&i| i != first && nodes[i].replicate.is_some())
            .collect();
        if others.is_empty() {
            break;
        }
        let second = others[rng.gen_range(0..others.len())];
        swap_masters(nodes, first, second);
        if anti_affinity_score(nodes).0 > score {
            swap_masters(nodes, first, second);
        }
    }
    let (score, _) = anti_affinity_score(nodes);
    lines.push(if score == 0 {
        (
            Level::Ok,
            "[OK] Perfect anti-affinity obtained!".to_string(),
        )
    } else if score >= 10000 {
        (
            Level::Warn,
            "[WARNING] Some slaves are in the same host as their master".to_string(),
        )
    } else {
        (
            Level::Warn,
            "[WARNING] Some slaves of the same master are in the same host".to_string(),
        )
    });
    lines
}

fn swap_masters(nodes: &mut [Node], a: usize, b: usize) {
    let first = nodes[a].replicate.take();
    let second = nodes[b].replicate.take();
    nodes[a].replicate = second;
    nodes[b].replicate = first;
    nodes[a].dirty = true;
    nodes[b].dirty = true;
}

/// Which slots `reshard` moves to get `numslots` from `sources` (indices into `nodes`):
/// `(source, slot)` pairs. The biggest source first gives its share rounded up, the others
/// rounded down, so the total can fall short of `numslots`, as with redis-cli.
pub fn reshard_table(nodes: &[Node], sources: &[usize], numslots: usize) -> Vec<(usize, usize)> {
    let mut sorted = sources.to_vec();
    // Stable, like glibc's qsort on small arrays: equal counts keep their order.
    sorted.sort_by(|a, b| nodes[*b].slots_count.cmp(&nodes[*a].slots_count));
    let total: usize = sorted.iter().map(|&s| nodes[s].slots_count).sum();
    let mut moved = Vec::new();
    for (i, &source) in sorted.iter().enumerate() {
        if total == 0 {
            break;
        }
        let share = numslots as f32 / total as f32 * nodes[source].slots_count as f32;
        let share = if i == 0 { share.ceil() } else { share.floor() } as usize;
        for (count, slot) in nodes[source].slots.iter().enumerate() {
            if count >= share || moved.len() >= numslots {
                break;
            }
            moved.push((source, slot));
        }
    }
    moved
}

/// `rebalance`'s balances for nodes with `(slots_count, weight)`: how many slots each should
/// give (positive) or take (negative), summing to zero or less. `None` when every node is
/// within `threshold` percent of its share ("No rebalancing needed").
pub fn rebalance_balances(nodes: &[(usize, f32)], threshold: f32) -> Option<Vec<i64>> {
    let total_weight: f32 = nodes.iter().map(|(_, w)| w).sum();
    let mut balances = Vec::with_capacity(nodes.len());
    let mut total_balance: i64 = 0;
    let mut threshold_reached = false;
    for &(slots_count, weight) in nodes {
        let expected = ((SLOTS as f32 / total_weight) * weight) as i64;
        let balance = slots_count as i64 - expected;
        balances.push(balance);
        total_balance += balance;
        if threshold > 0.0 {
            let over = if slots_count > 0 {
                let err_perc = (100.0 - (100.0 * expected as f64 / slots_count as f64)).abs();
                err_perc > f64::from(threshold)
            } else {
                expected > 1
            };
            threshold_reached |= over;
        }
    }
    if !threshold_reached {
        return None;
    }
    // Rounding can leave more to give than to take: nodes that take get one more each.
    while total_balance > 0 {
        for balance in balances.iter_mut() {
            if *balance <= 0 && total_balance > 0 {
                *balance -= 1;
                total_balance -= 1;
            }
        }
    }
    Some(balances)
}

/// The moves that settle `balances` (sorted ascending, as redis-cli sorts its nodes): pairs
/// `(from, to, slots)` of positions in that sorted order, taking from the end and giving to
/// the start.
pub fn rebalance_moves(balances: &[i64]) -> Vec<(usize, usize, usize)> {
    let mut balances = balances.to_vec();
    let mut moves = Vec::new();
    let (mut dst, mut src) = (0usize, balances.len().saturating_sub(1));
    while dst < src {
        let numslots = balances[dst]
            .unsigned_abs()
            .min(balances[src].unsigned_abs());
        if numslots > 0 {
            moves.push((src, dst, numslots as usize));
        }
        balances[dst] += numslots as i64;
        balances[src] -= numslots as i64;
        if balances[dst] == 0 {
            dst += 1;
        }
        if balances[src] == 0 {
            src -= 1;
        }
        if numslots == 0 && balances[dst] != 0 && balances[src] != 0 {
            break;
        }
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn nodes(addrs: &[(&str, u16)]) -> Vec<Node> {
        addrs
            .iter()
            .enumerate()
            .map(|(i, (ip, port))| {
                let mut n = Node::new(ip, *port, 0);
                n.name = format!("id{i}");
                n.flags = vec!["myself".into(), "master".into()];
                n
            })
            .collect()
    }

    #[test]
    fn create_splits_slots_as_redis_cli() {
        let mut six = nodes(&[
            ("127.0.0.1", 1),
            ("127.0.0.1", 2),
            ("127.0.0.1", 3),
            ("127.0.0.1", 4),
            ("127.0.0.1", 5),
            ("127.0.0.1", 6),
        ]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let lines = plan_create(&mut six, 1, &mut rng);
        let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            text[..6],
            [
                "Master[0] -> Slots 0 - 5460",
                "Master[1] -> Slots 5461 - 10922",
                "Master[2] -> Slots 10923 - 16383",
                "Adding replica 127.0.0.1:5 to 127.0.0.1:1",
                "Adding replica 127.0.0.1:6 to 127.0.0.1:2",
                "Adding replica 127.0.0.1:4 to 127.0.0.1:3",
            ]
        );
        // One host: every replica shares its master's host, whatever the swaps.
        assert_eq!(
            text[6..],
            [
                ">>> Trying to optimize slaves allocation for anti-affinity",
                "[WARNING] Some slaves are in the same host as their master"
            ]
        );
        assert_eq!(
            (six[0].slots_count, six[1].slots_count, six[2].slots_count),
            (5461, 5462, 5461)
        );
        let mut masters: Vec<String> = six[3..]
            .iter()
            .filter_map(|n| n.replicate.clone())
            .collect();
        masters.sort();
        assert_eq!(
            masters,
            ["id0", "id1", "id2"],
            "each master gets one replica"
        );

        let mut four = nodes(&[("a", 1), ("a", 2), ("a", 3), ("a", 4), ("a", 5)]);
        let lines = plan_create(&mut four, 0, &mut rng);
        assert_eq!(lines[4].1, "Master[4] -> Slots 13107 - 16383");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn create_spreads_replicas_across_hosts() {
        let mut six = nodes(&[
            ("10.0.0.1", 1),
            ("10.0.0.1", 2),
            ("10.0.0.2", 1),
            ("10.0.0.2", 2),
            ("10.0.0.3", 1),
            ("10.0.0.3", 2),
        ]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let lines = plan_create(&mut six, 1, &mut rng);
        // Interleaved by host: the masters are the first node of each host.
        assert_eq!(lines[0].1, "Master[0] -> Slots 0 - 5460");
        assert!(six[0].slots_count > 0 && six[2].slots_count > 0 && six[4].slots_count > 0);
        assert_eq!(anti_affinity_score(&six).0, 0);
        for replica in [1, 3, 5] {
            let master = six[replica].replicate.clone().unwrap();
            let master = six.iter().find(|n| n.name == master).unwrap();
            assert_ne!(master.ip, six[replica].ip);
        }
        assert!(
            !lines.iter().any(|(_, l)| l.contains("optimize")),
            "already perfect"
        );
    }

    #[test]
    fn extra_replicas_go_one_per_master() {
        let mut seven = nodes(&[
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("a", 4),
            ("a", 5),
            ("a", 6),
            ("a", 7),
        ]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let lines = plan_create(&mut seven, 1, &mut rng);
        assert!(lines.iter().any(|(_, l)| l == "Adding extra replicas..."));
        assert_eq!(seven.iter().filter(|n| n.replicate.is_some()).count(), 4);
    }

    #[test]
    fn anti_affinity_scores_hosts() {
        let mut four = nodes(&[("a", 1), ("a", 2), ("b", 1), ("b", 2)]);
        four[1].replicate = Some("id0".into());
        four[3].replicate = Some("id0".into());
        // id1 on its master's host (10000); id3 alone on b with master id2? no: id3 replicates id0.
        assert_eq!(anti_affinity_score(&four), (10000, vec![1]));
        four[3].replicate = Some("id2".into());
        assert_eq!(anti_affinity_score(&four).0, 20000);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        optimize_anti_affinity(&mut four, &mut rng);
        assert_eq!(
            anti_affinity_score(&four).0,
            0,
            "swapping the two replicas is perfect"
        );
    }

    #[test]
    fn reshard_table_rounds_as_redis_cli() {
        let mut ns = nodes(&[("a", 1), ("a", 2), ("a", 3)]);
        ns[0].assign_slots(0..=5460);
        ns[1].assign_slots(5461..=10922);
        ns[2].assign_slots(10923..=16383);
        let table = reshard_table(&ns, &[0, 2, 1], 6);
        // The biggest source first (5462 slots: ceil(2.0002) = 3), then floor(1.99) = 1 each.
        assert_eq!(table, [(1, 5461), (1, 5462), (1, 5463), (0, 0), (2, 10923)]);
        assert_eq!(reshard_table(&ns, &[0], 2), [(0, 0), (0, 1)]);
        let empty = nodes(&[("a", 1)]);
        assert_eq!(reshard_table(&empty, &[0], 5), []);
    }

    #[test]
    fn rebalance_weights() {
        // Three full masters and an empty one (use-empty-masters): 4096 each.
        let balances =
            rebalance_balances(&[(5461, 1.0), (5462, 1.0), (5461, 1.0), (0, 1.0)], 2.0).unwrap();
        assert_eq!(balances, [1365, 1366, 1365, -4096]);
        let mut sorted = balances.clone();
        sorted.sort();
        let moves = rebalance_moves(&sorted);
        assert_eq!(moves, [(3, 0, 1366), (2, 0, 1365), (1, 0, 1365)]);
        assert_eq!(
            rebalance_balances(&[(5461, 1.0), (5462, 1.0), (5461, 1.0)], 2.0),
            None
        );
        // Weight 2 for the first: it should hold half.
        let b = rebalance_balances(&[(8192, 1.0), (8192, 1.0), (0, 2.0)], 2.0).unwrap();
        assert_eq!(b, [4096, 4096, -8192]);
        // Rounding leaves 1 over; a taker takes it.
        let b = rebalance_balances(&[(16384, 1.0), (0, 1.0), (0, 1.0)], 2.0).unwrap();
        assert_eq!(b.iter().sum::<i64>(), 0);
    }
}
