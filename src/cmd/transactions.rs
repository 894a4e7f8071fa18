//! The transactions commands.
use super::Spec;

/// The transactions commands' table entries.
pub const COMMANDS: &[Spec] = &[];
