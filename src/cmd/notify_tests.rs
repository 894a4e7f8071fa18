//! Keyspace notifications through the whole command path: each write command publishes the
//! events Redis publishes (`server::notify` holds the classes and the publishing).

use crate::cmd::exec::testing::{bulk, Harness};
use crate::resp::Reply;

fn messages(h: &mut Harness) -> Vec<(String, String)> {
    let source = h.session.push_source.as_mut().unwrap();
    let mut out = Vec::new();
    while let Ok(Reply::Push(items)) = source.rx.try_recv() {
        let text = |r: &Reply| match r {
            Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        };
        if text(&items[0]) == "pmessage" {
            out.push((text(&items[2]), text(&items[3])));
        }
    }
    out
}

#[test]
fn writes_publish_keyspace_and_keyevent_messages() {
    let mut h = Harness::new();
    h.run(&["config", "set", "notify-keyspace-events", "KEA"]);
    h.run(&["psubscribe", "*"]);
    messages(&mut h);
    // The subscriber is in RESP2 pub/sub mode; write through RESP3 instead.
    h.session.resp3 = true;
    h.run(&["rpush", "l", "a"]);
    h.run(&["rpop", "l"]);
    h.run(&["srem", "none", "x"]);
    assert_eq!(
        messages(&mut h),
        vec![
            ("__keyspace@0__:l".into(), "rpush".into()),
            ("__keyevent@0__:rpush".into(), "l".into()),
            ("__keyspace@0__:l".into(), "rpop".into()),
            ("__keyevent@0__:rpop".into(), "l".into()),
            ("__keyspace@0__:l".into(), "del".into()),
            ("__keyevent@0__:del".into(), "l".into()),
        ]
    );
    h.run(&["config", "set", "notify-keyspace-events", "En"]);
    h.run(&["set", "k", "1"]);
    h.run(&["set", "k", "2"]);
    assert_eq!(
        messages(&mut h),
        vec![("__keyevent@0__:new".into(), "k".into())]
    );
    h.run(&["config", "set", "notify-keyspace-events", "Eg$"]);
    h.run(&["set", "t", "1", "EX", "100"]);
    h.run(&["getex", "t", "PERSIST"]);
    h.run(&["del", "t", "missing"]);
    assert_eq!(
        messages(&mut h),
        vec![
            ("__keyevent@0__:set".into(), "t".into()),
            ("__keyevent@0__:expire".into(), "t".into()),
            ("__keyevent@0__:persist".into(), "t".into()),
            ("__keyevent@0__:del".into(), "t".into()),
        ]
    );
    h.run(&["config", "set", "notify-keyspace-events", ""]);
    h.run(&["set", "j", "1"]);
    assert!(messages(&mut h).is_empty());
    assert_eq!(h.run(&["get", "j"]), bulk("1"));
}
