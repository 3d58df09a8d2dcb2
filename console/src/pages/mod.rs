//! The screens, one file each; [`layout`] is the shell they share. Every text is
//! bilingual (日本語 / English), like the provisioning tool. No applicant data exists
//! here to show: the relay's admin API has none.

pub(crate) mod audit;
pub(crate) mod certificates;
pub(crate) mod device_log;
pub(crate) mod fleet;
pub(crate) mod layout;
pub(crate) mod message;
pub(crate) mod staff;

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn when(unix: u64) -> String {
    shinsei_provisioning::pki::fmt_time(i64::try_from(unix).unwrap_or(i64::MAX))
}
