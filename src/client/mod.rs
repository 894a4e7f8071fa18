//! Async client and redis-cli: see the submodules.
