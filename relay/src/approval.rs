//! Who may order what, and the two-person rule: pure decisions, no I/O (the admin
//! routes and the registry apply them).
//!
//! # Roles
//! | role | may |
//! |---|---|
//! | viewer | list the fleet, read the admin and device audit logs, metrics |
//! | operator | also disable and re-enable a tablet (reversible: the tablet locks, nothing is lost) |
//! | security officer | also wipe, revoke, approve another officer's wipe or revoke, revoke an administrator |
//!
//! # The two-person rule
//! A wipe or a revoke cannot be taken back, so one officer's order only *requests* it:
//! the device keeps its state and the order waits, recorded on the device's record
//! (so every relay node sees it), until a **different** security officer gives the same
//! order within [`DEFAULT_APPROVAL_SECS`] (configurable). Then it is carried out.
//! An order past its time is void and never carried out late; the next order starts a
//! new request. Re-enabling the tablet calls a waiting order off.
//!
//! The API takes one device per request, so there is no fleet-wide order to guard: a
//! fleet wipe is as many requests, each needing its own second officer.
//!
//! **Emergency path.** A single lost tablet that cannot wait (for instance online
//! and out of the ward's hands) may be wiped by one officer with `emergency` and a
//! reason: carried out at once, written to the audit log as `wipe EMERGENCY` and to
//! the relay's log at warning level, and limited to one per officer in
//! [`EMERGENCY_WINDOW_SECS`] so that a stolen officer certificate cannot wipe the
//! fleet one tablet at a time. Operators' `disable` is the everyday first step: it locks
//! the tablet at once, and an offline tablet wipes itself when its lease runs out.
//!
//! **Revoking an administrator** is one officer's decision, at once: it only takes
//! power away (the revoked person gets a new certificate under a new name if it was a
//! mistake), and a delay would only help whoever holds a stolen certificate.

use shinsei_protocol::{
    api::{AdminAction, PendingOrder},
    x509::AdminRole,
};

/// How long a wipe or revoke waits for its second officer by default (15 minutes).
pub const DEFAULT_APPROVAL_SECS: u64 = 15 * 60;

/// One emergency wipe per officer in this window (24 hours).
pub const EMERGENCY_WINDOW_SECS: u64 = 24 * 3600;

/// What an administrator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /admin/v1/devices`, `GET /admin/v1/audit`, `GET /metrics`.
    Read,
    /// An order for one device.
    Device(AdminAction),
    /// `POST /admin/v1/admins/NAME/revoke`.
    RevokeAdmin,
    /// Posting a renewed device bundle, stopping or resuming a device's renewals.
    Renewal,
}

/// The least role that may ask for `op`.
pub fn required_role(op: Operation) -> AdminRole {
    match op {
        Operation::Read => AdminRole::Viewer,
        Operation::Device(AdminAction::Disable | AdminAction::Enable) | Operation::Renewal => {
            AdminRole::Operator
        }
        Operation::Device(AdminAction::Wipe | AdminAction::Revoke) | Operation::RevokeAdmin => {
            AdminRole::SecurityOfficer
        }
    }
}

/// May `role` ask for `op`?
pub fn permits(role: AdminRole, op: Operation) -> bool {
    role >= required_role(op)
}

/// Does `action` need a second security officer?
pub fn needs_second_officer(action: AdminAction) -> bool {
    matches!(action, AdminAction::Wipe | AdminAction::Revoke)
}

/// An order as it reaches the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order<'a> {
    pub action: AdminAction,
    pub admin: &'a str,
    pub now: u64,
    pub reason: Option<&'a str>,
    pub emergency: bool,
    /// How long a request waits for its second officer.
    pub approval_secs: u64,
}

/// What to do with an order, given the order already waiting on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Carry it out now. `first`: the officer whose waiting order this approves.
    Execute {
        first: Option<String>,
        emergency: bool,
    },
    /// Record it as waiting for a second officer (replacing a void or other order).
    Wait(PendingOrder),
    /// Refuse it: `code` and a message for the administrator.
    Refuse(&'static str, String),
}

/// The two-person rule (see the module docs). Role and state-machine checks come
/// before this.
pub fn decide(waiting: Option<&PendingOrder>, o: &Order<'_>) -> Decision {
    if !needs_second_officer(o.action) {
        return Decision::Execute {
            first: None,
            emergency: false,
        };
    }
    if o.emergency {
        if o.action != AdminAction::Wipe {
            return Decision::Refuse(
                "emergency_wipe_only",
                "only a wipe has an emergency path; a revoke needs a second officer".into(),
            );
        }
        if o.reason.is_none_or(|r| r.trim().is_empty()) {
            return Decision::Refuse("reason_required", "an emergency wipe needs a reason".into());
        }
        return Decision::Execute {
            first: None,
            emergency: true,
        };
    }
    match waiting {
        Some(p) if p.action == o.action && o.now < p.expires_at => {
            if p.requested_by == o.admin {
                Decision::Refuse(
                    "awaiting_second_officer",
                    format!(
                        "this {} waits for a second security officer until {}",
                        o.action, p.expires_at
                    ),
                )
            } else {
                Decision::Execute {
                    first: Some(p.requested_by.clone()),
                    emergency: false,
                }
            }
        }
        _ => Decision::Wait(PendingOrder {
            action: o.action,
            requested_by: o.admin.to_owned(),
            requested_at: o.now,
            expires_at: o.now.saturating_add(o.approval_secs),
            reason: o.reason.map(str::to_owned),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(action: AdminAction, admin: &str, now: u64) -> Order<'_> {
        Order {
            action,
            admin,
            now,
            reason: None,
            emergency: false,
            approval_secs: 900,
        }
    }

    #[test]
    fn each_role_may_do_what_the_table_says() {
        use AdminAction as A;
        use AdminRole as R;
        let table = [
            (Operation::Read, [true, true, true]),
            (Operation::Device(A::Disable), [false, true, true]),
            (Operation::Device(A::Enable), [false, true, true]),
            (Operation::Device(A::Wipe), [false, false, true]),
            (Operation::Device(A::Revoke), [false, false, true]),
            (Operation::RevokeAdmin, [false, false, true]),
        ];
        for (op, allowed) in table {
            for (role, ok) in [R::Viewer, R::Operator, R::SecurityOfficer]
                .into_iter()
                .zip(allowed)
            {
                assert_eq!(permits(role, op), ok, "{role} {op:?}");
            }
        }
    }

    #[test]
    fn a_wipe_waits_for_a_different_officer_within_its_time() {
        let first = decide(None, &order(AdminAction::Wipe, "alice", 1000));
        let Decision::Wait(p) = first else {
            panic!("{first:?}")
        };
        assert_eq!((p.requested_by.as_str(), p.expires_at), ("alice", 1900));
        // The same officer again: refused, the order keeps waiting.
        assert!(matches!(
            decide(Some(&p), &order(AdminAction::Wipe, "alice", 1100)),
            Decision::Refuse("awaiting_second_officer", _)
        ));
        // A second officer in time: carried out, naming the first.
        assert_eq!(
            decide(Some(&p), &order(AdminAction::Wipe, "bob", 1899)),
            Decision::Execute {
                first: Some("alice".into()),
                emergency: false
            }
        );
        // Too late: void, and bob's order is a new request.
        let late = decide(Some(&p), &order(AdminAction::Wipe, "bob", 1900));
        assert!(
            matches!(&late, Decision::Wait(q) if q.requested_by == "bob"),
            "{late:?}"
        );
        // A waiting wipe does not approve a revoke.
        assert!(matches!(
            decide(Some(&p), &order(AdminAction::Revoke, "bob", 1100)),
            Decision::Wait(_)
        ));
        // Reversible orders need no one else.
        for a in [AdminAction::Disable, AdminAction::Enable] {
            assert!(matches!(
                decide(Some(&p), &order(a, "carol", 1100)),
                Decision::Execute { first: None, .. }
            ));
        }
    }

    #[test]
    fn the_emergency_path_is_for_a_wipe_with_a_reason() {
        let mut o = order(AdminAction::Wipe, "alice", 1000);
        o.emergency = true;
        assert!(matches!(
            decide(None, &o),
            Decision::Refuse("reason_required", _)
        ));
        o.reason = Some("  ");
        assert!(matches!(
            decide(None, &o),
            Decision::Refuse("reason_required", _)
        ));
        o.reason = Some("stolen from the outreach van, online");
        assert_eq!(
            decide(None, &o),
            Decision::Execute {
                first: None,
                emergency: true
            }
        );
        o.action = AdminAction::Revoke;
        assert!(matches!(
            decide(None, &o),
            Decision::Refuse("emergency_wipe_only", _)
        ));
    }
}
