//! The HTTP-level suites again, with every relay they start on PostgreSQL instead of
//! sled (`common::on_postgres()` is true in this binary): submissions, idempotency,
//! refusals, forwarding and retries, restart, retention, device control, long-poll,
//! admin audit, roles, the two-person rule and admin revocation, certificate renewal, the staff list, TLS and deny-list rules. Without PostgreSQL this binary fails unless
//! `SHINSEI_SKIP_PG=1` (then the suites run on sled once more).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Each included suite declares `mod common;`: one copy of the helpers per suite (they
// share one PostgreSQL cluster per process, see `common::pg`).
#![allow(clippy::duplicate_mod)]

#[path = "admin_control.rs"]
mod admin_control;
#[path = "control.rs"]
mod control;
#[path = "forward.rs"]
mod forward;
#[path = "renewal.rs"]
mod renewal;
#[path = "staff_list.rs"]
mod staff_list;
#[path = "submit.rs"]
mod submit;
#[path = "tls.rs"]
mod tls;
