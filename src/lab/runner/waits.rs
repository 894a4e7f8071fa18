//! The `wait` step's executor: an event on one node, on any of several, or on at least N of
//! them (a quorum); field predicates and captures through the event's definition
//! ([`crate::events::Definition::field_values`]); negative waits (`none_for_ms`: nothing of
//! that kind may show up for so long); a deadline per step.

use std::time::{Duration, Instant};

use super::Runner;
use crate::events::{definition, message};
use crate::lab::spec::{Step, WaitCase};
use crate::lab::transcript::Line;
use crate::lab::LabError;

impl Runner<'_, '_> {
    pub(super) async fn wait(&mut self, step: &Step) -> Result<(), LabError> {
        let Step::Wait {
            node,
            nodes,
            at_least,
            event,
            pattern,
            predicates,
            capture,
            none_for_ms,
            within_ms,
            fresh,
            engines,
            say,
        } = step
        else {
            return Err(LabError::failed("not a wait step"));
        };
        let engine = self.opts.engine.name();
        if !engines.is_empty() && !engines.iter().any(|e| e == engine) {
            let what = event.clone().or(pattern.clone()).unwrap_or_default();
            return self.emit(Line::Note(format!(
                "--engine {engine}: {} does not log {what}; step skipped",
                self.opts.engine.server()
            )));
        }
        let mut names = Vec::new();
        for name in node.iter().chain(nodes) {
            names.push(self.resolve_node(name)?);
        }
        if let Some(ms) = none_for_ms {
            let quiet = Duration::from_millis(*ms);
            return self
                .expect_none(&names, event, pattern, predicates, quiet, say)
                .await;
        }
        let limit = within_ms.map_or(self.opts.deadline, Duration::from_millis);
        let need = at_least.unwrap_or(1);
        let mut remaining: Vec<WaitCase> = names
            .iter()
            .map(|n| WaitCase {
                node: n.clone(),
                event: event.clone(),
                pattern: pattern.clone(),
                predicates: predicates.clone(),
                say: None,
            })
            .collect();
        let started = Instant::now();
        let mut seen: Vec<(String, String)> = Vec::new();
        while seen.len() < need {
            let left = limit.saturating_sub(started.elapsed());
            let (i, _, line) = self
                .await_line(&remaining, left, *fresh)
                .await
                .map_err(|e| {
                    if need > 1 {
                        LabError::failed(format!(
                            "{} of the {need} nodes needed logged it ({}); {e}",
                            seen.len(),
                            seen.iter()
                                .map(|s| s.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    } else {
                        e
                    }
                })?;
            let case = remaining.remove(i);
            seen.push((case.node, line));
        }
        // The lab's order, not arrival order: transcripts stay deterministic.
        seen.sort_by_key(|(n, _)| names.iter().position(|m| m == n));
        for (n, line) in &seen {
            self.print_event(n, line, &None)?;
        }
        if need > 1 {
            self.emit(Line::Note(format!(
                "{} of {} nodes: at least {need}",
                seen.len(),
                names.len()
            )))?;
        }
        let kind = event.as_deref().and_then(definition);
        for (var, field) in capture {
            let values = kind.and_then(|d| d.field_values(message(&seen[0].1)));
            let value = values
                .and_then(|v| v.into_iter().find(|(k, _)| k == field))
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    LabError::failed(format!("no field {field:?} to capture as ${var}"))
                })?;
            self.keep_capture(var, value)?;
        }
        self.say(say)
    }

    /// A negative wait: for `quiet`, none of `names` logs the event (counting only lines
    /// logged from now on). Says so, then narrates; a line that does show up fails the lab.
    async fn expect_none(
        &mut self,
        names: &[String],
        event: &Option<String>,
        pattern: &Option<String>,
        predicates: &std::collections::BTreeMap<String, String>,
        quiet: Duration,
        say: &Option<String>,
    ) -> Result<(), LabError> {
        let wanted = self.wanted(event, pattern, predicates);
        let from: Vec<u64> = names.iter().map(|n| self.nodes.get(n).log_len()).collect();
        let until = Instant::now() + quiet;
        let what = event
            .clone()
            .unwrap_or_else(|| format!("{:?}", pattern.as_deref().unwrap_or_default()));
        loop {
            for (n, start) in names.iter().zip(&from) {
                let lines = self.nodes.get(n).log_lines_from(*start);
                if let Some(line) = lines.iter().find(|l| wanted.matches(l)) {
                    let line = line.clone();
                    self.print_event(n, &line, &None)?;
                    return Err(LabError::failed(format!(
                        "expected no {what} on {n} for {:.1} s, but it logged: {}",
                        quiet.as_secs_f64(),
                        message(&line)
                    )));
                }
            }
            if Instant::now() >= until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.emit(Line::Note(format!(
            "no {what} on {} for {:.1} s",
            names.join(", "),
            quiet.as_secs_f64()
        )))?;
        self.say(say)
    }
}
