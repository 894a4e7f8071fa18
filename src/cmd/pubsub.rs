//! The pubsub commands.
use super::Spec;

/// The pubsub commands' table entries.
pub const COMMANDS: &[Spec] = &[];
