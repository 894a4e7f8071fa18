//! RDB and AOF persistence: see the submodules.
