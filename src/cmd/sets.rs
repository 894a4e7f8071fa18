//! The sets commands.
use super::Spec;

/// The sets commands' table entries.
pub const COMMANDS: &[Spec] = &[];
