//! Every test-only hook of the agent, in one place, compiled only with the cargo
//! feature `test-hooks`. Release builds (`cargo build --release`, the appliance image)
//! never enable it, so none of these environment variables does anything there; the
//! agent's own tests (dev-dependency on itself with the feature) and the end-to-end
//! tests (`shinsei-tests` builds the binaries with it) do.
//!
//! | variable | effect |
//! |---|---|
//! | `SHINSEI_TEST_CRASH_AT=POINT` | abort at a named point of the flow (`sealed`, `received`; the wipe's `wipe-begun`, `wipe-outbox-key`, `wipe-shipped`, `wipe-shredded`, `wipe-confirmed`) |
//! | `SHINSEI_CLOCK_FORWARD_SECS=N` | the agent's clock runs N seconds ahead (lease and outbox tests); it can only make the agent lock, wipe or expire sooner |
//! | `SHINSEI_TEST_MEMREAD=1` | stay dumpable and wait after the command, so a test can read the process memory |
//! | `SHINSEI_TEST_NO_ZEROIZE=1` | the control run of the leak test: freed memory is not cleared |

/// Whether this build has the hooks.
pub const ENABLED: bool = cfg!(feature = "test-hooks");

#[cfg(feature = "test-hooks")]
fn var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

#[cfg(not(feature = "test-hooks"))]
fn var(_: &str) -> Option<String> {
    None
}

/// Aborts the process at `name` if `SHINSEI_TEST_CRASH_AT` names it.
pub fn crash_point(name: &str) {
    if var("SHINSEI_TEST_CRASH_AT").as_deref() == Some(name) {
        tracing::error!(point = name, "SHINSEI_TEST_CRASH_AT: aborting");
        std::process::abort();
    }
}

/// Seconds the clock is moved forward (`SHINSEI_CLOCK_FORWARD_SECS`), 0 normally.
pub fn clock_forward_secs() -> u64 {
    var("SHINSEI_CLOCK_FORWARD_SECS")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

/// `SHINSEI_TEST_MEMREAD=1`.
pub fn hold_for_memory_read() -> bool {
    var("SHINSEI_TEST_MEMREAD").as_deref() == Some("1")
}

/// `SHINSEI_TEST_NO_ZEROIZE=1`.
pub fn no_zeroize() -> bool {
    var("SHINSEI_TEST_NO_ZEROIZE").as_deref() == Some("1")
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_builds_read_the_hook_variables() {
        // The crate's tests are built with the feature (dev-dependency on itself); a
        // build without it returns None for every variable (`var` above).
        std::env::set_var("SHINSEI_TEST_HOOKS_PROBE", "on");
        assert_eq!(
            super::var("SHINSEI_TEST_HOOKS_PROBE").as_deref(),
            Some("on")
        );
        std::env::remove_var("SHINSEI_TEST_HOOKS_PROBE");
        assert_eq!(super::var("SHINSEI_TEST_HOOKS_PROBE"), None);
    }
}
