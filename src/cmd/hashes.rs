//! The hashes commands.
use super::Spec;

/// The hashes commands' table entries.
pub const COMMANDS: &[Spec] = &[];
