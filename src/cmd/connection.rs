//! The connection commands.
use super::Spec;

/// The connection commands' table entries.
pub const COMMANDS: &[Spec] = &[];
