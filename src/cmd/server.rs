//! The server commands.
use super::Spec;

/// The server commands' table entries.
pub const COMMANDS: &[Spec] = &[];
