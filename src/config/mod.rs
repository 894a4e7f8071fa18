//! redis.conf parsing: see the submodules.
