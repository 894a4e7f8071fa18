//! The interop tests skip (and pass) when a real Redis tool is missing, and cargo hides what a
//! passing test prints. This test makes such a skip visible in the summary: it fails unless
//! every tool the interop tests drive is installed, or `REDISLAB_SKIP_INTEROP=1` says that
//! skipping them is intended. Under `CI=true` a missing tool fails whatever that variable says
//! (and each interop test fails on its own too).

mod common;

use common::{missing_interop_tools, under_ci, INSTALL_HINT};

#[test]
fn interop_tools_are_installed_or_the_skip_is_intended() {
    let missing = missing_interop_tools();
    if missing.is_empty() {
        return;
    }
    let names = missing.join(", ");
    let skip_intended = std::env::var("REDISLAB_SKIP_INTEROP").is_ok_and(|v| v == "1");
    if skip_intended && !under_ci() {
        eprintln!("\n*** REDISLAB_SKIP_INTEROP=1: interop tests skipped ({names} missing) ***\n");
        return;
    }
    panic!(
        "\n\nThe interop tests did not run: {names} not installed.\n\
         Install them ({INSTALL_HINT}),\n\
         or run `REDISLAB_SKIP_INTEROP=1 cargo test` to skip them on purpose{}.\n",
        if under_ci() {
            " (not allowed under CI=true)"
        } else {
            ""
        }
    );
}
