//! The certificate calendar: every certificate the ward depends on, soonest end first,
//! by month: the root and device CAs, the relay's TLS certificate, the admin
//! certificates on this machine, and every tablet's certificate with its renewal (a
//! tablet renews itself through check-in; IT can hold a tablet's renewals here).

use maud::{html, Markup};
use shinsei_protocol::api::{DeviceList, RenewalState};

use super::{fleet::expiry, when};
use crate::local::WardCert;

/// One line of the calendar.
struct Line<'a> {
    not_before: u64,
    not_after: u64,
    what: String,
    device: Option<&'a shinsei_protocol::api::DeviceView>,
}

/// Warning horizon for the ward's own certificates (CAs, relay, admins): 30 days, or
/// the last third of a shorter life (admin certificates last 30 days by default and
/// would otherwise be flagged all their life).
pub(crate) const WARD_WARN_DAYS: u64 = 30;

fn ward_class(not_before: u64, t: u64, now: u64) -> &'static str {
    let horizon = (WARD_WARN_DAYS * 86_400).min(t.saturating_sub(not_before) / 3);
    if t <= now {
        "expired"
    } else if t - now < horizon {
        "warn"
    } else {
        "ok"
    }
}

fn renewal_text(s: RenewalState) -> &'static str {
    match s {
        RenewalState::None => "— / not asked yet",
        RenewalState::Requested => "要求あり（署名待ち） / requested, waiting for IT's signer",
        RenewalState::Issued => "署名済み（端末の接続待ち） / issued, waiting for the tablet",
        RenewalState::Held => "停止中 / held by IT",
    }
}

pub(crate) fn body(devices: &DeviceList, ward: &[WardCert], csrf: &str, now: u64) -> Markup {
    let mut lines: Vec<Line<'_>> = ward
        .iter()
        .map(|w| Line {
            not_before: w.not_before,
            not_after: w.not_after,
            what: w.what.clone(),
            device: None,
        })
        .chain(devices.devices.iter().filter_map(|d| {
            Some(Line {
                not_before: 0,
                not_after: d.cert_expires?,
                what: format!("端末 / tablet {}", d.device_id),
                device: Some(d),
            })
        }))
        .collect();
    lines.sort_by(|a, b| a.not_after.cmp(&b.not_after).then(a.what.cmp(&b.what)));
    // The month heading before the first line of each month.
    let mut last = String::new();
    let headed: Vec<(Option<String>, &Line<'_>)> = lines
        .iter()
        .map(|l| {
            let m: String = when(l.not_after).chars().take(7).collect();
            let head = (m != last).then(|| m.clone());
            last = m;
            (head, l)
        })
        .collect();
    html! {
        h2 { "証明書の期限 / Certificate calendar" }
        p.note {
            "端末の証明書は期限の3分の1前から自動で更新されます（IT の更新署名タイマー `shinsei-provision device renew`）。"
            "区の証明書（CA・リレー・管理者）は " (WARD_WARN_DAYS) " 日前から警告します。 / "
            "Tablet certificates renew themselves in the last third of their life (IT's signer timer, `shinsei-provision device renew`). "
            "The ward's own certificates (CAs, relay, admins) are warned of " (WARD_WARN_DAYS) " days ahead."
        }
        table id="calendar" {
            thead { tr { th { "期限 / ends" } th { "証明書 / certificate" } th { "更新 / renewal" } th { "操作 / action" } } }
            tbody {
                @for (head, l) in &headed {
                    @if let Some(m) = head {
                        tr.month { td colspan="4" { (m) } }
                    }
                    @let class = match l.device {
                        Some(d) => expiry(d.cert_expires, now).1,
                        None => ward_class(l.not_before, l.not_after, now),
                    };
                    tr class={"cert-" (class)} {
                        td { (expiry(Some(l.not_after), now).0) }
                        td { (l.what) }
                        @match l.device {
                            Some(d) => {
                                td id={"renewal-" (d.device_id)} { (renewal_text(d.renewal)) }
                                td {
                                    form method="post" action={"/devices/" (d.device_id) "/renewal-hold"} {
                                        input type="hidden" name="csrf" value=(csrf);
                                        @if d.renewal == RenewalState::Held {
                                            input type="hidden" name="hold" value="0";
                                            button type="submit" id={"resume-" (d.device_id)} { "更新を再開 / resume renewals" }
                                        } @else {
                                            input type="hidden" name="hold" value="1";
                                            input type="text" name="reason" placeholder="理由 / reason" maxlength="500";
                                            button type="submit" class="danger" id={"hold-" (d.device_id)} { "更新を停止 / hold renewals" }
                                        }
                                    }
                                }
                            }
                            None => { td { "手動 / by hand (`shinsei-provision`)" } td {} }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shinsei_protocol::api::{DeviceState, DeviceView};

    #[test]
    fn the_calendar_lists_ward_and_tablet_certificates_soonest_first() {
        let now = 1_800_000_000;
        let day = 86_400;
        let d = |id: &str, ends: u64, renewal: RenewalState| DeviceView {
            device_id: id.into(),
            state: DeviceState::Active,
            version: 1,
            updated_at: 0,
            history: Vec::new(),
            certificates: Vec::new(),
            pending: None,
            last_seen: None,
            cert_expires: Some(ends),
            report: None,
            report_at: None,
            renewal,
        };
        let list = DeviceList {
            devices: vec![
                d("TAB-0002", now + 20 * day, RenewalState::None),
                d("TAB-0001", now + 5 * day, RenewalState::Held),
            ],
        };
        let ward = [WardCert {
            what: "ルートCA / root CA".into(),
            not_before: now - day,
            not_after: now + 3_000 * day,
        }];
        let html = body(&list, &ward, "t", now).into_string();
        let p1 = html.find("tablet TAB-0001").unwrap();
        let p2 = html.find("tablet TAB-0002").unwrap();
        let p3 = html.find("root CA").unwrap();
        assert!(p1 < p2 && p2 < p3, "{html}");
        assert!(html.contains("id=\"resume-TAB-0001\""), "{html}");
        assert!(html.contains("id=\"hold-TAB-0002\""), "{html}");
        let long = now - 3_000 * day;
        assert_eq!(ward_class(long, now + 10 * day, now), "warn");
        assert_eq!(ward_class(long, now + 29 * day, now), "warn");
        assert_eq!(ward_class(long, now + 40 * day, now), "ok");
        assert_eq!(ward_class(long, now - 1, now), "expired");
        // A 30-day admin certificate: warned in its last third, not all its life.
        assert_eq!(ward_class(now - day, now + 29 * day, now), "ok");
        assert_eq!(ward_class(now - 21 * day, now + 9 * day, now), "warn");
    }
}
