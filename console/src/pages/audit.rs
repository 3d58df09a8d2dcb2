//! The relay's admin audit log: who (and their role), what, which device, why.

use maud::{html, Markup};
use shinsei_protocol::api::AdminAuditLog;

use super::when;

pub(crate) fn body(log: &AdminAuditLog) -> Markup {
    html! {
        h2 { "管理操作の監査ログ / Admin audit log" }
        p.note { "新しい順 / newest first. 申請者の情報は含みません / no applicant data." }
        table id="audit" {
            thead { tr {
                th { "日時 / at" } th { "管理者 / admin" } th { "役割 / role" }
                th { "操作 / action" } th { "端末 / device" } th { "理由 / why" }
            } }
            tbody {
                @for e in log.entries.iter().rev() {
                    tr {
                        td { (when(e.at)) }
                        td { (e.admin) }
                        td { (e.role.as_deref().unwrap_or("-")) }
                        td { (e.action) }
                        td { (e.device_id.as_deref().unwrap_or("-")) }
                        td { (e.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}
