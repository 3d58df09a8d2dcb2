//! The fleet: every device with its state, the order waiting for a second officer,
//! the last check-in, when it would lock and wipe itself offline, its outbox, agent
//! version, applications per day (the tablet's own figures, never applicant data), its
//! certificate and renewal, and the orders IT can give (with a reason). Filter by state
//! and ID, sort by any figure (a plain GET form: no script needed). The state cells are
//! kept current by `console.js` from `/fleet/state.json`.

use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use shinsei_protocol::api::{AdminAction, DeviceList, DeviceState, DeviceView};

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

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The fleet page's query: `?state=disabled&q=TAB-00&sort=cert&desc=1`.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct Filter {
    /// A device state's wire name; anything else shows every state.
    #[serde(default)]
    pub state: Option<String>,
    /// Part of the device ID (case-insensitive).
    #[serde(default)]
    pub q: Option<String>,
    /// One of [`SORTS`]' keys; the device ID otherwise.
    #[serde(default)]
    pub sort: Option<String>,
    /// Any value: descending.
    #[serde(default)]
    pub desc: Option<String>,
}

/// Sort keys and their labels.
pub(crate) const SORTS: [(&str, &str); 7] = [
    ("id", "端末ID / device"),
    ("state", "状態 / state"),
    ("seen", "最終接続 / last check-in"),
    ("lease", "オフライン期限 / lease deadline"),
    ("outbox", "送信待ち / outbox"),
    ("apps", "今日の申請 / applications today"),
    ("cert", "証明書の期限 / certificate"),
];

/// Applications the tablet delivered on the UTC day of `now`, and in the 7 days to it.
pub(crate) fn apps(d: &DeviceView, now: u64) -> (u32, u32) {
    let today = now / 86_400;
    let Some(r) = &d.report else {
        return (0, 0);
    };
    let mut t = 0u32;
    let mut week = 0u32;
    for c in &r.sent_per_day {
        if c.day == today {
            t = t.saturating_add(c.count);
        }
        if c.day + 7 > today && c.day <= today {
            week = week.saturating_add(c.count);
        }
    }
    (t, week)
}

/// The devices the filter keeps, in its order (pure; unit-tested).
pub(crate) fn select<'a>(list: &'a DeviceList, f: &Filter, now: u64) -> Vec<&'a DeviceView> {
    let state = f.state.as_deref().and_then(DeviceState::parse);
    let q = f.q.as_deref().unwrap_or("").trim().to_ascii_uppercase();
    let mut v: Vec<&DeviceView> = list
        .devices
        .iter()
        .filter(|d| state.is_none_or(|s| d.state == s))
        .filter(|d| q.is_empty() || d.device_id.contains(&q))
        .collect();
    v.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    let key = |d: &DeviceView| -> u64 {
        match f.sort.as_deref() {
            Some("state") => d.state as u64,
            Some("seen") => d.last_seen.unwrap_or(0),
            Some("lease") => d
                .report
                .as_ref()
                .and_then(|r| r.lease_deadline)
                .unwrap_or(u64::MAX),
            Some("outbox") => d.report.as_ref().map_or(0, |r| u64::from(r.outbox_depth)),
            Some("apps") => u64::from(apps(d, now).0),
            Some("cert") => d.cert_expires.unwrap_or(u64::MAX),
            _ => 0,
        }
    };
    // Stable: ties stay in device-ID order.
    v.sort_by_key(|d| key(d));
    if f.desc.is_some() {
        v.reverse();
    }
    v
}

/// `2026-12-08 10:00 (あと 6 日 / 6 days)`, or how long ago.
fn deadline(t: u64, now: u64) -> String {
    if t <= now {
        return format!("{} (過ぎています / passed)", when(t));
    }
    let h = (t - now) / 3_600;
    if h >= 48 {
        format!("{} (あと {} 日 / {} days)", when(t), h / 24, h / 24)
    } else {
        format!("{} (あと {h} 時間 / {h} h)", when(t))
    }
}

fn filter_form(f: &Filter) -> Markup {
    let state = f.state.clone().unwrap_or_default();
    let sort = f.sort.clone().unwrap_or_else(|| "id".into());
    html! {
        form method="get" action="/" id="filter" class="filter" {
            label { "状態 / state " select name="state" id="filter-state" {
                option value="" selected[state.is_empty()] { "すべて / all" }
                @for s in [DeviceState::Active, DeviceState::Disabled, DeviceState::WipePending, DeviceState::Wiped, DeviceState::Revoked] {
                    option value=(s.as_str()) selected[state == s.as_str()] { (s.as_str()) }
                }
            } }
            label { " 端末ID / device ID " input type="text" name="q" id="filter-q" value=(f.q.clone().unwrap_or_default()) maxlength="32"; }
            label { " 並べ替え / sort " select name="sort" id="filter-sort" {
                @for (k, l) in SORTS {
                    option value=(k) selected[sort == k] { (l) }
                }
            } }
            label { input type="checkbox" name="desc" value="1" checked[f.desc.is_some()]; " 降順 / descending" }
            " "
            button type="submit" id="filter-go" { "表示 / show" }
        }
    }
}

fn label(a: AdminAction) -> &'static str {
    match a {
        AdminAction::Disable => "停止 / Disable",
        AdminAction::Enable => "再開 / Enable",
        AdminAction::Wipe => "消去 / Wipe",
        AdminAction::Revoke => "失効 / Revoke",
    }
}

pub(crate) fn body(list: &DeviceList, f: &Filter, csrf: &str) -> Markup {
    let now = now();
    let devices = select(list, f, now);
    let expiring = list
        .devices
        .iter()
        .filter(|d| expiry(d.cert_expires, now).1 != "ok")
        .count();
    html! {
        h2 { "端末 / Devices (" (devices.len()) " / " (list.devices.len()) ")" }
        (filter_form(f))
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
                th { "オフライン期限 / locks and wipes itself offline" }
                th { "送信待ち / outbox" } th { "版 / agent" }
                th { "申請 今日・7日 / applications today · 7 days" }
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
                        @let report = d.report.as_ref();
                        td id={"lease-" (d.device_id)} {
                            (report.and_then(|r| r.lease_deadline).map_or_else(|| "-".into(), |t| deadline(t, now)))
                        }
                        td id={"outbox-" (d.device_id)} { (report.map_or_else(|| "-".into(), |r| r.outbox_depth.to_string())) }
                        td id={"version-" (d.device_id)} { (report.map_or("-", |r| r.agent_version.as_str())) }
                        @let (today, week) = apps(d, now);
                        td id={"apps-" (d.device_id)} { (today) " · " (week) }
                        @let (text, class) = expiry(d.cert_expires, now);
                        td id={"cert-" (d.device_id)} class={"cert-" (class)} {
                            (text) br;
                            span.note { "更新 / renewal: " (d.renewal.as_str()) }
                        }
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
    use shinsei_protocol::api::{DayCount, DeviceReport};

    fn dev(
        id: &str,
        state: DeviceState,
        seen: u64,
        outbox: u32,
        days: &[(u64, u32)],
    ) -> DeviceView {
        DeviceView {
            device_id: id.into(),
            state,
            version: 1,
            updated_at: 0,
            history: Vec::new(),
            certificates: Vec::new(),
            pending: None,
            last_seen: Some(seen),
            cert_expires: Some(seen + 1_000),
            report: Some(DeviceReport {
                agent_version: "0.1.0".into(),
                outbox_depth: outbox,
                lease_deadline: Some(seen + 7 * 86_400),
                sent_per_day: days
                    .iter()
                    .map(|&(day, count)| DayCount { day, count })
                    .collect(),
                renewal_csr: None,
            }),
            report_at: Some(seen),
            renewal: Default::default(),
        }
    }

    #[test]
    fn the_fleet_filters_by_state_and_id_and_sorts_by_any_figure() {
        let now = 100 * 86_400 + 50;
        let list = DeviceList {
            devices: vec![
                dev("TAB-0003", DeviceState::Active, 30, 5, &[(100, 2), (99, 9)]),
                dev("TAB-0001", DeviceState::Disabled, 10, 0, &[(100, 7)]),
                dev("KIOSK-9", DeviceState::Active, 20, 1, &[(90, 4)]),
            ],
        };
        let ids = |f: &Filter| -> Vec<String> {
            select(&list, f, now)
                .iter()
                .map(|d| d.device_id.clone())
                .collect()
        };
        assert_eq!(ids(&Filter::default()), ["KIOSK-9", "TAB-0001", "TAB-0003"]);
        let active = Filter {
            state: Some("active".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&active), ["KIOSK-9", "TAB-0003"]);
        let q = Filter {
            q: Some("tab-000".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&q), ["TAB-0001", "TAB-0003"]);
        let outbox = Filter {
            sort: Some("outbox".into()),
            desc: Some("1".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&outbox), ["TAB-0003", "KIOSK-9", "TAB-0001"]);
        let seen = Filter {
            sort: Some("seen".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&seen), ["TAB-0001", "KIOSK-9", "TAB-0003"]);
        let apps_today = Filter {
            sort: Some("apps".into()),
            desc: Some("1".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&apps_today), ["TAB-0001", "TAB-0003", "KIOSK-9"]);
        // An unknown state or sort key shows everything by ID.
        let odd = Filter {
            state: Some("lost".into()),
            sort: Some("x".into()),
            ..Filter::default()
        };
        assert_eq!(ids(&odd), ["KIOSK-9", "TAB-0001", "TAB-0003"]);
        // Today and the last seven days, as the tablet counted them.
        assert_eq!(apps(&list.devices[0], now), (2, 11));
        assert_eq!(apps(&list.devices[2], now), (0, 0));
    }

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
