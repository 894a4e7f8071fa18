//! Pub/Sub commands (`pubsub.c`): SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
//! the sharded SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH (their channels are keys: in cluster mode
//! they are served by the shard owning the channel's slot), PUBSUB CHANNELS/NUMSUB/NUMPAT/
//! SHARDCHANNELS/SHARDNUMSUB.
//!
//! A subscription registers the connection's push queue with the hub; messages then arrive on
//! that queue and the connection task writes them as RESP3 push frames (`>`) or, in RESP2,
//! arrays. The confirmations of a multi-channel SUBSCRIBE are one reply per channel.

use bytes::Bytes;

use super::flags::*;
use super::{Args, CmdError, Exec, Spec};
use crate::resp::Reply;

/// The pub/sub commands' table entries.
pub const COMMANDS: &[Spec] = &[
    Spec::new(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT,
        subscribe,
    ),
    Spec::new(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT,
        unsubscribe,
    ),
    Spec::new(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT,
        psubscribe,
    ),
    Spec::new(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT,
        punsubscribe,
    ),
    Spec::new(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        publish,
    ),
    Spec::new("pubsub", -2, PUBSUB | LOADING | STALE, pubsub),
    Spec::new(
        "ssubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT,
        ssubscribe,
    )
    .keys(1, -1, 1),
    Spec::new(
        "sunsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE | PUBSUB_CONTEXT,
        sunsubscribe,
    )
    .keys(1, -1, 1),
    Spec::new(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        spublish,
    )
    .keys(1, 1, 1),
];

/// One confirmation: `[kind, channel-or-nil, subscription count]`, a push frame in RESP3.
fn confirmation(kind: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::Bulk(Bytes::from_static(kind.as_bytes())),
        name.map_or(Reply::Null, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

/// `SUBSCRIBE channel [channel ...]`
fn subscribe(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if cx.session.multi.is_some() {
        return Err(CmdError::new(
            "ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    let sink = cx.session.push_sink();
    let mut replies = Vec::new();
    for channel in args.rest() {
        let channel = Bytes::copy_from_slice(channel);
        if cx.session.channels.insert(channel.clone()) {
            cx.shared
                .pubsub()
                .subscribe(channel.clone(), cx.session.id, &sink);
        }
        replies.push(confirmation(
            "subscribe",
            Some(channel),
            cx.session.subscription_count(),
        ));
    }
    Ok(Reply::Many(replies))
}

/// `UNSUBSCRIBE [channel ...]`: no arguments unsubscribes from all.
fn unsubscribe(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let channels: Vec<Bytes> = if args.is_empty() {
        cx.session.channels.iter().cloned().collect()
    } else {
        args.rest().to_vec()
    };
    let mut replies = Vec::new();
    for channel in channels {
        if cx.session.channels.remove(&channel) {
            cx.shared.pubsub().unsubscribe(&channel, cx.session.id);
        }
        replies.push(confirmation(
            "unsubscribe",
            Some(channel),
            cx.session.subscription_count(),
        ));
    }
    if replies.is_empty() {
        replies.push(confirmation(
            "unsubscribe",
            None,
            cx.session.subscription_count(),
        ));
    }
    Ok(Reply::Many(replies))
}

/// `PSUBSCRIBE pattern [pattern ...]`
fn psubscribe(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if cx.session.multi.is_some() {
        return Err(CmdError::new(
            "ERR PSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    let sink = cx.session.push_sink();
    let mut replies = Vec::new();
    for pattern in args.rest() {
        let pattern = Bytes::copy_from_slice(pattern);
        if cx.session.patterns.insert(pattern.clone()) {
            cx.shared
                .pubsub()
                .psubscribe(pattern.clone(), cx.session.id, &sink);
        }
        replies.push(confirmation(
            "psubscribe",
            Some(pattern),
            cx.session.subscription_count(),
        ));
    }
    Ok(Reply::Many(replies))
}

/// `PUNSUBSCRIBE [pattern ...]`
fn punsubscribe(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let patterns: Vec<Bytes> = if args.is_empty() {
        cx.session.patterns.iter().cloned().collect()
    } else {
        args.rest().to_vec()
    };
    let mut replies = Vec::new();
    for pattern in patterns {
        if cx.session.patterns.remove(&pattern) {
            cx.shared.pubsub().punsubscribe(&pattern, cx.session.id);
        }
        replies.push(confirmation(
            "punsubscribe",
            Some(pattern),
            cx.session.subscription_count(),
        ));
    }
    if replies.is_empty() {
        replies.push(confirmation(
            "punsubscribe",
            None,
            cx.session.subscription_count(),
        ));
    }
    Ok(Reply::Many(replies))
}

/// `PUBLISH channel message`: the number of clients that received it.
fn publish(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let channel = args.next_owned()?;
    let message = args.next_owned()?;
    let receivers = cx.shared.pubsub().publish(&channel, &message);
    // In cluster mode every node's subscribers get it too, through the bus.
    if let Some(cluster) = cx.engine.cluster.as_deref_mut() {
        cluster.propagate_publish(&channel, &message, false);
        cx.shared.cluster_wake.notify_one();
    }
    Ok(Reply::Int(receivers))
}

/// `SSUBSCRIBE shardchannel [shardchannel ...]`: counts in the confirmations are of sharded
/// subscriptions only, as in Redis.
fn ssubscribe(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    if cx.session.multi.is_some() {
        return Err(CmdError::new(
            "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    let sink = cx.session.push_sink();
    let mut replies = Vec::new();
    for channel in args.rest() {
        let channel = Bytes::copy_from_slice(channel);
        if cx.session.shard_channels.insert(channel.clone()) {
            cx.shared
                .pubsub()
                .ssubscribe(channel.clone(), cx.session.id, &sink);
        }
        replies.push(confirmation(
            "ssubscribe",
            Some(channel),
            cx.session.shard_channels.len(),
        ));
    }
    Ok(Reply::Many(replies))
}

/// `SUNSUBSCRIBE [shardchannel ...]`: no arguments unsubscribes from all.
fn sunsubscribe(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let channels: Vec<Bytes> = if args.is_empty() {
        cx.session.shard_channels.iter().cloned().collect()
    } else {
        args.rest().to_vec()
    };
    let mut replies = Vec::new();
    for channel in channels {
        if cx.session.shard_channels.remove(&channel) {
            cx.shared.pubsub().sunsubscribe(&channel, cx.session.id);
        }
        replies.push(confirmation(
            "sunsubscribe",
            Some(channel),
            cx.session.shard_channels.len(),
        ));
    }
    if replies.is_empty() {
        replies.push(confirmation("sunsubscribe", None, 0));
    }
    Ok(Reply::Many(replies))
}

/// `SPUBLISH shardchannel message`: delivered here and, in cluster mode, to the other nodes
/// of this shard (the master and its replicas).
fn spublish(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let channel = args.next_owned()?;
    let message = args.next_owned()?;
    let receivers = cx.shared.pubsub().spublish(&channel, &message);
    if let Some(cluster) = cx.engine.cluster.as_deref_mut() {
        cluster.propagate_publish(&channel, &message, true);
        cx.shared.cluster_wake.notify_one();
    }
    Ok(Reply::Int(receivers))
}

/// `PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | SHARDCHANNELS [pattern] |
/// SHARDNUMSUB [shardchannel ...] | HELP`
fn pubsub(cx: &mut Exec, args: &mut Args) -> Result<Reply, CmdError> {
    let sub = args.next()?.to_ascii_lowercase();
    match &sub[..] {
        b"channels" => {
            if args.remaining() > 1 {
                return Err(CmdError::arity("pubsub|channels"));
            }
            let pattern = args.peek().cloned();
            Ok(Reply::bulks(
                cx.shared.pubsub().channels(pattern.as_deref()),
            ))
        }
        b"numsub" => {
            let hub = cx.shared.pubsub();
            let mut out = Vec::new();
            for channel in args.rest() {
                out.push(Reply::Bulk(channel.clone()));
                out.push(Reply::Int(hub.numsub(channel) as i64));
            }
            Ok(Reply::Array(out))
        }
        b"shardchannels" => {
            if args.remaining() > 1 {
                return Err(CmdError::arity("pubsub|shardchannels"));
            }
            let pattern = args.peek().cloned();
            Ok(Reply::bulks(
                cx.shared.pubsub().shard_channels(pattern.as_deref()),
            ))
        }
        b"shardnumsub" => {
            let hub = cx.shared.pubsub();
            let mut out = Vec::new();
            for channel in args.rest() {
                out.push(Reply::Bulk(channel.clone()));
                out.push(Reply::Int(hub.shard_numsub(channel) as i64));
            }
            Ok(Reply::Array(out))
        }
        b"numpat" => {
            args.finish()
                .map_err(|_| CmdError::arity("pubsub|numpat"))?;
            Ok(Reply::Int(cx.shared.pubsub().numpat() as i64))
        }
        b"help" => Ok(Reply::Array(
            [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|l| Reply::Simple(Bytes::from_static(l.as_bytes())))
            .collect(),
        )),
        _ => Err(CmdError::unknown_subcommand(&args.argv()[1], "pubsub")),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::exec::testing::{bulk, err, Harness};
    use crate::resp::Reply;

    #[test]
    fn subscribe_confirms_each_channel_and_restricts_resp2_commands() {
        let mut h = Harness::new();
        let Reply::Many(confirmations) = h.run(&["subscribe", "a", "b"]) else {
            panic!("one reply per channel")
        };
        assert_eq!(confirmations.len(), 2);
        assert_eq!(
            confirmations[1],
            Reply::Push(vec![bulk("subscribe"), bulk("b"), Reply::Int(2)])
        );
        assert_eq!(
            h.run(&["get", "x"]),
            err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
        );
        assert_eq!(h.run(&["ping"]), Reply::Array(vec![bulk("pong"), bulk("")]));
        assert_eq!(h.run(&["publish", "a", "hi"]), err("ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"));
        let Reply::Many(all) = h.run(&["unsubscribe"]) else {
            panic!()
        };
        assert_eq!(all.len(), 2);
        assert_eq!(h.run(&["publish", "a", "hi"]), Reply::Int(0));
    }

    #[test]
    fn publish_counts_receivers_and_pubsub_introspects() {
        let mut subscriber = Harness::new();
        subscriber.run(&["subscribe", "news"]);
        subscriber.run(&["psubscribe", "n*"]);
        let mut source = subscriber.session.push_source.take().unwrap();
        // A second session on the same server publishes.
        let shared = &subscriber.shared;
        assert_eq!(shared.pubsub().publish(&"news".into(), &"hello".into()), 2);
        assert_eq!(
            source.rx.try_recv().unwrap(),
            Reply::Push(vec![bulk("message"), bulk("news"), bulk("hello")])
        );
        assert_eq!(shared.pubsub().numsub(b"news"), 1);
        assert_eq!(shared.pubsub().numpat(), 1);
    }
}
