//! The lists commands.
use super::Spec;

/// The lists commands' table entries.
pub const COMMANDS: &[Spec] = &[];
