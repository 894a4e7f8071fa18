//! The keys commands.
use super::Spec;

/// The keys commands' table entries.
pub const COMMANDS: &[Spec] = &[];
