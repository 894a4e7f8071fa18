//! One executor per step kind: [`Runner::step`] only dispatches, each kind's work lives here.
//! A new kind is a variant in [`super::super::spec::Step`], its checks in `Lab::check`, and
//! one method here.

use std::time::{Duration, Instant};

use super::{check, split_command, Runner};
use crate::client::connection::{info_field, Client};
use crate::client::format::{format_reply, format_tty, OutputMode};
use crate::lab::spec::Step;
use crate::lab::transcript::Line;
use crate::lab::LabError;
use crate::resp::frame::Frame;

impl Runner<'_, '_> {
    /// `show-config`: the node's config file, as `cat` prints it.
    pub(super) fn show_config(&mut self, node: &str) -> Result<(), LabError> {
        let n = self.nodes.get(node);
        let name = format!("{}/{}.conf", n.spec.port, n.spec.port);
        let text = n.config_text.clone();
        self.emit(Line::Shell(format!("cat {name}")))?;
        self.emit(Line::File(text))
    }

    /// `shutdown`: SHUTDOWN as a client sends it, then wait for the process to exit.
    pub(super) async fn shutdown(&mut self, node: &str) -> Result<(), LabError> {
        self.sessions.retain(|(n, _)| n != node);
        let n = self.nodes.get(node);
        let port = n.port;
        let auth = n.password().map(|p| format!(" -a {p}")).unwrap_or_default();
        let password = n.password();
        let cli = self.opts.engine.cli();
        self.emit(Line::Shell(format!("{cli} -p {port}{auth} shutdown")))?;
        let mut client = Client::connect(&format!("127.0.0.1:{port}"))
            .await
            .map_err(|e| LabError::failed(format!("cannot connect to {node}: {e}")))?;
        if let Some(p) = password {
            let _ = client.auth(None, &p).await;
        }
        let _ = client.command(&["SHUTDOWN"]).await;
        let n = self.nodes.get(node);
        if !n.wait_exit(self.opts.deadline).await {
            return Err(LabError::failed(format!(
                "{node} did not exit within {:.1} s after SHUTDOWN\n{}",
                self.opts.deadline.as_secs_f64(),
                n.log_tail(10)
            )));
        }
        Ok(())
    }

    /// `kill`: `kill -9` by PID (a paused node is resumed first, so nothing stays stopped).
    pub(super) fn kill(&mut self, node: &str) -> Result<(), LabError> {
        let node = &self.resolve_node(node)?;
        self.sessions.retain(|(n, _)| n != node);
        let n = self.nodes.get(node);
        if n.pid().is_none() {
            return Err(LabError::failed(format!(
                "cannot kill {node}: it is not running"
            )));
        }
        n.kill();
        let shown = format!("kill -9 {}", pid_shown(n));
        self.emit(Line::Shell(shown))
    }

    /// `run`: a command typed at the node's prompt, its reply checked, fields captured.
    pub(super) async fn run_step(&mut self, step: &Step) -> Result<(), LabError> {
        let Step::Run {
            node,
            command,
            expect,
            fields,
            contains,
            show,
            retry,
            cluster,
            capture,
            say,
        } = step
        else {
            return Err(LabError::failed("not a run step"));
        };
        let node = self.resolve_node(node)?;
        let checks = Checks {
            expect,
            fields,
            contains,
        };
        let text = self
            .run_command(&node, command, &checks, show, *retry, *cluster)
            .await?;
        for (var, field) in capture {
            let value = if field == "reply" {
                let reply = text.trim_end();
                reply
                    .strip_prefix('"')
                    .and_then(|r| r.strip_suffix('"'))
                    .unwrap_or(reply)
                    .to_string()
            } else {
                info_field(&text, field)
                    .map(|v| v.trim().to_string())
                    .ok_or_else(|| {
                        LabError::failed(format!(
                            "on {node}, `{command}`: no field {field:?} to capture as ${var}"
                        ))
                    })?
            };
            self.keep_capture(var, value)?;
        }
        self.say(say)
    }

    /// Keeps `$var` for later steps and shows it (tests mask it by role, `[VAR]`).
    pub(super) fn keep_capture(&mut self, var: &str, value: String) -> Result<(), LabError> {
        self.emit(Line::Note(format!("${var} = {value}")))?;
        self.vars.insert(var.to_string(), value);
        Ok(())
    }

    /// `rdb`: describe the node's dump file.
    pub(super) fn rdb(&mut self, node: &str, say: &Option<String>) -> Result<(), LabError> {
        let n = self.nodes.get(node);
        let path = n.dump_path();
        let shown = format!(
            "{}/{}",
            n.spec.port,
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        self.emit(Line::Shell(format!("redislab rdb {shown}")))?;
        let mut text = Vec::new();
        crate::persist::rdb::describe(&path, &mut text)
            .map_err(|e| LabError::failed(format!("redislab rdb {shown}: {e}")))?;
        self.emit(Line::Reply(String::from_utf8_lossy(&text).into_owned()))?;
        self.say(say)
    }

    pub(super) async fn session(&mut self, node: &str) -> Result<&mut Client, LabError> {
        if let Some(i) = self.sessions.iter().position(|(n, _)| n == node) {
            return Ok(&mut self.sessions[i].1);
        }
        let port = self.nodes.get(node).port;
        let client = Client::connect(&format!("127.0.0.1:{port}"))
            .await
            .map_err(|e| {
                LabError::failed(format!(
                    "Could not connect to Redis at 127.0.0.1:{port}: {e}"
                ))
            })?;
        self.sessions.push((node.to_string(), client));
        Ok(&mut self.sessions.last_mut().expect("just pushed").1)
    }

    /// Sends `args` on the node's session. When the server closed the session (a Sentinel's
    /// CLIENT KILL after promoting or converting the node), does as redis-cli: connects
    /// again, authenticates with the node's password, and sends the command once more.
    pub(super) async fn send_reconnecting(
        &mut self,
        node: &str,
        args: &[String],
        typed: &str,
    ) -> Result<Frame, LabError> {
        if let Ok(reply) = self.session(node).await?.command(args).await {
            return Ok(reply);
        }
        self.sessions.retain(|(n, _)| n != node);
        let password = self.nodes.get(node).password();
        let client = self.session(node).await?;
        if let Some(p) = password {
            let _ = client.auth(None, &p).await;
        }
        client
            .command(args)
            .await
            .map_err(|e| LabError::failed(format!("{node}: `{typed}` failed: {e}")))
    }

    pub(super) async fn run_command(
        &mut self,
        node: &str,
        command: &str,
        checks: &Checks<'_>,
        show: &[String],
        retry: bool,
        cluster: bool,
    ) -> Result<String, LabError> {
        // Split first, then fill: a captured value is one argument even if it has spaces.
        let mut args: Vec<String> = split_command(command)
            .iter()
            .map(|w| self.fill(w))
            .collect();
        let lower = args[0].to_ascii_lowercase();
        if (lower == "replicaof" || lower == "slaveof") && args.len() == 3 {
            args[2] = self.opts.ports.map_str(&args[2]);
        }
        let typed = self.fill(command);
        let expect = checks.expect.as_ref().map(|e| self.fill(e));
        let fields: std::collections::BTreeMap<String, String> = checks
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), self.fill(v)))
            .collect();
        let contains: Vec<(String, usize)> = checks
            .contains
            .iter()
            .map(|(k, n)| (self.fill(k), *n))
            .collect();
        let port = self.nodes.get(node).port;
        let verbatim = crate::client::cli::prints_verbatim(&args);
        let deadline = Instant::now() + self.opts.deadline;
        let (reply, text, problem, redirects) = loop {
            let (reply, redirects) = if cluster {
                self.send_following(node, &args, &typed).await?
            } else {
                (
                    self.send_reconnecting(node, &args, &typed).await?,
                    Vec::new(),
                )
            };
            let text = if verbatim {
                String::from_utf8_lossy(&format_reply(&reply, OutputMode::Tty, true)).into_owned()
            } else {
                String::from_utf8_lossy(&format_tty(&reply)).into_owned()
            };
            let problem = match pair_records(&reply) {
                Some((records, _)) if !fields.is_empty() => check_records(&records, &fields)
                    .or_else(|| check(&reply, &text, &expect, &Default::default())),
                _ => check(&reply, &text, &expect, &fields),
            }
            .or_else(|| {
                let (wanted, times) = contains
                    .iter()
                    .find(|(k, n)| text.matches(k).count() < *n)?;
                Some(format!(
                    "expected {wanted:?} {times} times, found it {} times",
                    text.matches(wanted).count()
                ))
            });
            if problem.is_none() || !retry || Instant::now() >= deadline {
                break (reply, text, problem, redirects);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.emit(Line::Prompt {
            addr: format!("127.0.0.1:{port}"),
            command: typed.clone(),
        })?;
        if !redirects.is_empty() {
            self.emit(Line::Reply(redirects.join("\n")))?;
        }
        let records = pair_records(&reply);
        if show.is_empty() {
            self.emit(Line::Reply(text.clone()))?;
        } else if let Some((records, nested)) = &records {
            self.emit(Line::Reply(excerpt(records, *nested, show)))?;
            self.emit(Line::Note(
                "only the fields that matter here; the full reply has more".into(),
            ))?;
        } else {
            let kept: Vec<&str> = text
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| {
                    l.split_once(':')
                        .is_some_and(|(k, _)| show.iter().any(|s| s == k))
                })
                .collect();
            self.emit(Line::Reply(kept.join("\n")))?;
            self.emit(Line::Note(
                "only the lines that matter here; the full reply has more".into(),
            ))?;
        }
        if let Some(problem) = problem {
            return Err(LabError::failed(format!("on {node}, `{typed}`: {problem}")));
        }
        // Field/value replies are captured from as `field:value` lines (the first record).
        if let Some((records, _)) = records {
            let lines: Vec<String> = records
                .first()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            return Ok(lines.join("\n"));
        }
        Ok(text)
    }
}

/// What a `run` step checks in the reply.
pub(super) struct Checks<'a> {
    /// The whole reply as printed.
    pub expect: &'a Option<String>,
    /// INFO-style `field:value` pairs.
    pub fields: &'a std::collections::BTreeMap<String, String>,
    /// Pieces of the reply and how many times each must appear.
    pub contains: &'a std::collections::BTreeMap<String, usize>,
}

/// One field/value record of a reply, in reply order.
type Record = Vec<(String, String)>;

/// A reply made of field/value records, as SENTINEL MASTER (one flat array of name, value,
/// name, value ...) and SENTINEL REPLICAS (an array of such arrays) answer: the records, and
/// whether they were nested. `None` for any other reply.
fn pair_records(reply: &Frame) -> Option<(Vec<Record>, bool)> {
    fn record(items: &[Frame]) -> Option<Record> {
        if items.is_empty() || !items.len().is_multiple_of(2) {
            return None;
        }
        items
            .chunks(2)
            .map(|kv| match kv {
                [Frame::Bulk(k), Frame::Bulk(v)] => Some((
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )),
                _ => None,
            })
            .collect()
    }
    let Frame::Array(items) = reply else {
        return None;
    };
    if let Some(one) = record(items) {
        return Some((vec![one], false));
    }
    let nested: Option<Vec<_>> = items
        .iter()
        .map(|item| match item {
            Frame::Array(inner) => record(inner),
            _ => None,
        })
        .collect();
    nested.filter(|n| !n.is_empty()).map(|n| (n, true))
}

/// Every record must hold every `field = value`.
fn check_records(
    records: &[Record],
    fields: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    for (i, record) in records.iter().enumerate() {
        for (k, v) in fields {
            let got = record.iter().find(|(name, _)| name == k).map(|(_, v)| v);
            if got != Some(v) {
                return Some(format!(
                    "record {}: expected {k} = {v:?}, got {got:?}",
                    i + 1
                ));
            }
        }
    }
    None
}

/// The `show` fields of each record, printed as redis-cli prints the whole reply (the same
/// numbers, so the excerpt reads as lines cut from it).
fn excerpt(records: &[Record], nested: bool, show: &[String]) -> String {
    let outer_width = records.len().to_string().len();
    let mut lines = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let width = (record.len() * 2).to_string().len();
        let mut first = true;
        for (j, (k, v)) in record.iter().enumerate() {
            if !show.iter().any(|s| s == k) {
                continue;
            }
            for (n, text) in [(2 * j + 1, k), (2 * j + 2, v)] {
                let prefix = match (nested, first) {
                    (false, _) => String::new(),
                    (true, true) => format!("{:>outer_width$}) ", i + 1),
                    (true, false) => " ".repeat(outer_width + 2),
                };
                first = false;
                lines.push(format!("{prefix}{n:>width$}) \"{text}\""));
            }
        }
    }
    lines.join("\n")
}

/// How a shell names a node's PID: `$(cat 6380/redis_6380.pid)`, as the tutorial would; a
/// node with no pidfile (the tutorial's sentinel.conf has none) by `$(pgrep -f 26380.conf)`.
pub(super) fn pid_shown(n: &crate::lab::nodes::Node) -> String {
    match crate::lab::nodes::directive(&n.config_text, "pidfile") {
        Some(pidfile) => format!("$(cat {}/{pidfile})", n.spec.port),
        None => format!("$(pgrep -f {}.conf)", n.spec.port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(kv: &[&str]) -> Frame {
        Frame::Array(kv.iter().map(Frame::bulk).collect())
    }

    #[test]
    fn field_value_replies_are_records_and_other_replies_are_not() {
        let master = pairs(&["name", "mymaster", "flags", "master"]);
        let (records, nested) = pair_records(&master).unwrap();
        assert!(!nested);
        assert_eq!(records[0][1], ("flags".into(), "master".into()));
        let replicas = Frame::Array(vec![
            pairs(&["name", "a", "flags", "slave"]),
            pairs(&["name", "b", "flags", "slave,s_down"]),
        ]);
        let (records, nested) = pair_records(&replicas).unwrap();
        assert!(nested);
        assert_eq!(records.len(), 2);
        // GET-MASTER-ADDR-BY-NAME is two values, not a record; an empty array is nothing.
        assert!(pair_records(&pairs(&["127.0.0.1"])).is_none());
        assert!(pair_records(&Frame::Array(vec![])).is_none());
        assert!(pair_records(&Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)])).is_none());
        // Every record must hold a field.
        let want = [("flags".to_string(), "slave".to_string())].into();
        let problem = check_records(&records, &want).unwrap();
        assert!(problem.contains("record 2"), "{problem}");
    }

    #[test]
    fn an_excerpt_keeps_redis_cli_numbering() {
        let replicas = Frame::Array(vec![
            pairs(&["name", "a", "ip", "127.0.0.1", "flags", "slave"]),
            pairs(&["name", "b", "ip", "127.0.0.1", "flags", "slave"]),
        ]);
        let (records, nested) = pair_records(&replicas).unwrap();
        let shown = excerpt(&records, nested, &["name".into(), "flags".into()]);
        assert_eq!(
            shown,
            "1) 1) \"name\"\n   2) \"a\"\n   5) \"flags\"\n   6) \"slave\"\n\
             2) 1) \"name\"\n   2) \"b\"\n   5) \"flags\"\n   6) \"slave\""
        );
        let one = pair_records(&pairs(&["name", "m", "flags", "master"])).unwrap();
        assert_eq!(
            excerpt(&one.0, one.1, &["flags".into()]),
            "3) \"flags\"\n4) \"master\""
        );
    }
}
