//! RESP2/RESP3: see the submodules.
pub mod frame;
