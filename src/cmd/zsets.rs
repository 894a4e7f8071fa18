//! The zsets commands.
use super::Spec;

/// The zsets commands' table entries.
pub const COMMANDS: &[Spec] = &[];
