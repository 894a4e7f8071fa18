//! Replication scenarios in the deterministic simulator (`redislab::sim`): each script in
//! `tests/scenarios/` runs with a fixed seed and its trace is an insta snapshot. The same seed
//! gives the same trace; random seeds with random faults always converge.

use rand::{Rng, SeedableRng};
use redislab::sim::scenario;

fn scenario(name: &str) -> String {
    let path = format!("{}/tests/scenarios/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Snapshots without the expression in their header (the book includes them from line 4).
fn snapshot(name: &str, trace: String) {
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, trace));
}

fn trace(name: &str, seed: u64) -> String {
    match scenario::run(&scenario(name), seed) {
        Ok(trace) => trace.join("\n"),
        Err(why) => panic!("{name}: {why}"),
    }
}

#[test]
fn first_full_sync() {
    snapshot("first_full_sync", trace("first_full_sync", 1));
}

#[test]
fn partial_resync_after_a_partition() {
    snapshot(
        "partial_resync_after_a_partition",
        trace("partial_resync_after_a_partition", 1),
    );
}

#[test]
fn backlog_overrun() {
    snapshot("backlog_overrun", trace("backlog_overrun", 1));
}

#[test]
fn promoted_replica_sibling_continues() {
    snapshot(
        "promoted_replica_sibling_continues",
        trace("promoted_replica_sibling_continues", 1),
    );
}

#[test]
fn stalled_replica_dropped() {
    snapshot(
        "stalled_replica_dropped",
        trace("stalled_replica_dropped", 1),
    );
}

#[test]
fn bgsave_shared_by_two_replicas() {
    snapshot(
        "bgsave_shared_by_two_replicas",
        trace("bgsave_shared_by_two_replicas", 1),
    );
}

#[test]
fn diskless_replica_joins_during_delay() {
    snapshot(
        "diskless_replica_joins_during_delay",
        trace("diskless_replica_joins_during_delay", 1),
    );
}

#[test]
fn diskless_replica_never_acks() {
    snapshot(
        "diskless_replica_never_acks",
        trace("diskless_replica_never_acks", 1),
    );
}

#[test]
fn one_seed_gives_one_trace() {
    for name in [
        "partial_resync_after_a_partition",
        "stalled_replica_dropped",
    ] {
        assert_eq!(trace(name, 7), trace(name, 7), "{name}");
    }
    assert_ne!(
        trace("first_full_sync", 7),
        trace("first_full_sync", 8),
        "the seed makes the replication ids"
    );
}

/// Random seeds, random faults (cuts one way or both, delays, pauses) between writes; once
/// the network heals, the replica holds exactly the master's data.
#[test]
fn random_faults_always_converge() {
    let runs: u64 = std::env::var("SIM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    for seed in 0..runs {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut script = String::from(
            "node master\nnode replica\nconfig master repl-timeout 3\nconfig replica repl-timeout 3\nconfig master repl-ping-replica-period 1\n\
             config master repl-backlog-size 16384\ncmd replica REPLICAOF master 6379\nrun 500ms\n",
        );
        for round in 0..rng.gen_range(3..8) {
            let fault = match rng.gen_range(0..5) {
                0 => "cut master replica",
                1 => "cut master replica one-way",
                2 => "cut replica master one-way",
                3 => "delay master replica 300ms",
                _ => "pause replica",
            };
            script.push_str(&format!("{fault}\n"));
            for i in 0..rng.gen_range(1..40) {
                script.push_str(&format!(
                    "cmd master SET k{} r{round}-{i}\n",
                    rng.gen_range(0..30)
                ));
            }
            if rng.gen_bool(0.3) {
                script.push_str(&format!("fill master {} 900\n", rng.gen_range(1..30)));
            }
            script.push_str(&format!("run {}ms\n", rng.gen_range(100..8000)));
            script.push_str("heal master replica\ndelay master replica 0ms\nresume replica\n");
            script.push_str(&format!("run {}ms\n", rng.gen_range(0..3000)));
        }
        script.push_str("run 15s\nexpect replica replication master_link_status up\nexpect-same replica master\n");
        if let Err(why) = scenario::run(&script, seed) {
            panic!("seed {seed}:\n{script}\n{why}");
        }
    }
}
