//! The fleet: every device with its state, the order waiting for a second officer,
//! the last change and the certificates seen, and the orders IT can give (with a
//! reason). The state cells are kept current by `console.js` from `/fleet/state.json`.

use maud::{html, Markup};
use serde::Serialize;
use shinsei_protocol::api::{AdminAction, DeviceList, DeviceView};

use super::when;

/// The waiting order of a device, in words.
fn pending_text(d: &DeviceView) -> String {
    match &d.pending {
        Some(p) => format!(
            "{} — {} が承認待ち、{} まで / waits for a second officer until then",
            p.action,
            p.requested_by,
            when(p.expires_at)
        ),
        None => String::new(),
    }
}

/// A device certificate is warned of this many days before it expires. Device
/// certificates last 30 days (renewed while the tablet is in use), so the "30 days
/// ahead" of long-lived certificates would flag every tablet all the time; a third of
/// the lifetime left means a renewal is overdue and IT must act.
pub(crate) const WARN_DAYS: u64 = 10;

/// How a certificate's expiry reads at `now`, and its CSS class: `expired`, `warn`
/// (within [`WARN_DAYS`]) or `ok`.
pub(crate) fn expiry(expires: Option<u64>, now: u64) -> (String, &'static str) {
    let Some(t) = expires else {
        return ("-".into(), "ok");
    };
    if t <= now {
        return (format!("{} 期限切れ / EXPIRED", when(t)), "expired");
    }
    let days = (t - now) / 86_400;
    let class = if days < WARN_DAYS { "warn" } else { "ok" };
    (
        format!("{} (あと {days} 日 / {days} days left)", when(t)),
        class,
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn label(a: AdminAction) -> &'static str {
    match a {
        AdminAction::Disable => "停止 / Disable",
        AdminAction::Enable => "再開 / Enable",
        AdminAction::Wipe => "消去 / Wipe",
        AdminAction::Revoke => "失効 / Revoke",
    }
}

pub(crate) fn body(list: &DeviceList, csrf: &str) -> Markup {
    let mut devices: Vec<&DeviceView> = list.devices.iter().collect();
    devices.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    let now = now();
    let expiring = devices
        .iter()
        .filter(|d| expiry(d.cert_expires, now).1 != "ok")
        .count();
    html! {
        h2 { "端末 / Devices (" (devices.len()) ")" }
        @if expiring > 0 {
            p.flash.error id="cert-warning" {
                "証明書の期限が" (WARN_DAYS) "日以内か切れている端末: " (expiring)
                " / devices whose certificate expires within " (WARN_DAYS) " days or has expired: " (expiring)
            }
        }
        p.note {
            "消去と失効は2人目のセキュリティ責任者の承認で実行されます / a wipe or revoke is carried out when a second security officer gives it too. "
            "状態は1秒ごとに更新 / states refresh every second."
        }
        table id="fleet" {
            thead { tr {
                th { "端末ID / device" } th { "状態 / state" } th { "承認待ち / waiting order" }
                th { "最終変更 / last change" } th { "最終接続 / last check-in" }
                th { "証明書の期限 / certificate expires" } th { "操作 / orders" }
            } }
            tbody {
                @for d in &devices {
                    tr id={"row-" (d.device_id)} {
                        td { a href={"/devices/" (d.device_id) "/log"} id={"log-" (d.device_id)} { (d.device_id) } }
                        td id={"state-" (d.device_id)} class={"state state-" (d.state.as_str())} { (d.state.as_str()) }
                        td id={"pending-" (d.device_id)} { (pending_text(d)) }
                        td {
                            (when(d.updated_at))
                            @if let Some(h) = d.history.last() { br; span.note { (h.by) } }
                        }
                        td { (d.last_seen.map(when).unwrap_or_else(|| "-".into())) }
                        @let (text, class) = expiry(d.cert_expires, now);
                        td id={"cert-" (d.device_id)} class={"cert-" (class)} { (text) }
                        td.actions {
                            form method="post" action={"/devices/" (d.device_id) "/disable"} {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="text" name="reason" id={"reason-" (d.device_id)} placeholder="理由 / reason" maxlength="500";
                                @for a in AdminAction::ALL {
                                    button type="submit" id={(a.as_str()) "-" (d.device_id)}
                                        class=[matches!(a, AdminAction::Wipe | AdminAction::Revoke).then_some("danger")]
                                        formaction={"/devices/" (d.device_id) "/" (a.as_str())} { (label(a)) }
                                }
                                label {
                                    input type="checkbox" name="emergency" value="1";
                                    " 緊急（1人で消去） / emergency wipe alone"
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One device's state for `console.js`.
#[derive(Debug, Serialize)]
pub(crate) struct StateRow {
    device_id: String,
    state: &'static str,
    pending: String,
}

/// `GET /fleet/state.json`.
#[derive(Debug, Serialize)]
pub(crate) struct States {
    devices: Vec<StateRow>,
}

pub(crate) fn states(list: &DeviceList) -> States {
    States {
        devices: list
            .devices
            .iter()
            .map(|d| StateRow {
                device_id: d.device_id.clone(),
                state: d.state.as_str(),
                pending: pending_text(d),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_certificates_are_warned_of_ten_days_ahead() {
        let now = 1_800_000_000;
        let day = 86_400;
        assert_eq!(expiry(None, now).1, "ok");
        assert_eq!(expiry(Some(now + 11 * day), now).1, "ok");
        let (text, class) = expiry(Some(now + 9 * day + 5), now);
        assert_eq!(class, "warn");
        assert!(text.contains("9 days left"), "{text}");
        assert_eq!(expiry(Some(now), now).1, "expired");
        assert!(expiry(Some(now - day), now).0.contains("EXPIRED"));
    }
}
