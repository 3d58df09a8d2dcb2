//! Process hardening at start-up (issue 18): the relay holds the HPKE private keys and,
//! while it validates an envelope, a decrypted application, so it writes no core file
//! (`RLIMIT_CORE` 0, soft and hard) and is not dumpable (`PR_SET_DUMPABLE` 0: other
//! processes of its user can neither `ptrace` it nor read `/proc/PID/mem`, and its
//! `/proc/PID/*` files belong to root). The same as the agent's `memguard::harden_process`,
//! through `rustix` (safe wrappers of the two system calls; this crate forbids `unsafe`).
//! The systemd unit (`dist/shinsei-relay.service`) also says `LimitCORE=0`.

use rustix::process::{self, DumpableBehavior, Resource, Rlimit};

/// What [`harden_process`] managed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    /// `RLIMIT_CORE` is 0 (soft and hard).
    pub core_limit_zero: bool,
    /// `PR_SET_DUMPABLE` 0 took effect.
    pub not_dumpable: bool,
}

impl Hardening {
    /// Both took effect.
    pub fn complete(&self) -> bool {
        self.core_limit_zero && self.not_dumpable
    }
}

/// Disables core dumps and makes the process non-dumpable. Called first thing by the
/// binary, before any key is read.
pub fn harden_process() -> Hardening {
    let core_limit_zero = process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )
    .is_ok();
    let not_dumpable = process::set_dumpable_behavior(DumpableBehavior::NotDumpable).is_ok();
    Hardening {
        core_limit_zero,
        not_dumpable,
    }
}

/// Whether the process is currently dumpable (`PR_GET_DUMPABLE`); `true` when it cannot
/// be read.
pub fn is_dumpable() -> bool {
    !matches!(
        process::dumpable_behavior(),
        Ok(DumpableBehavior::NotDumpable)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_makes_the_process_non_dumpable() {
        let h = harden_process();
        assert!(h.complete(), "{h:?}");
        assert!(!is_dumpable());
        let core = process::getrlimit(Resource::Core);
        assert_eq!((core.current, core.maximum), (Some(0), Some(0)));
    }
}
