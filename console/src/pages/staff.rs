//! Staff accounts: add, disable, reset a password (hashed here, on IT's machine), and
//! publish the signed staff list the tablets install. Never a password or a hash on the
//! page.

use maud::{html, Markup};

use crate::local::StaffRow;

pub(crate) fn body(staff: &[StaffRow], may_change: bool, role: &str, csrf: &str) -> Markup {
    html! {
        h2 { "職員 / Staff (" (staff.len()) ")" }
        @if !may_change {
            p.flash.error id="staff-readonly" {
                "この管理者証明書（" (role) "）では職員を変更できません / this admin certificate (" (role) ") may not change staff accounts."
            }
        }
        p.note {
            "パスワードはこの端末でハッシュ化され、署名付き職員リストとして端末に配布されます（変更後は「公開」）。 / "
            "Passwords are hashed on this machine and reach the tablets in the signed staff list (publish after changes)."
        }
        table id="staff" {
            thead { tr { th { "職員ID / staff ID" } th { "状態 / state" } th { "操作 / actions" } } }
            tbody {
                @for s in staff {
                    tr id={"staff-" (s.id)} {
                        td { (s.id) }
                        td id={"staff-state-" (s.id)} { @if s.disabled { "無効 / disabled" } @else { "有効 / enabled" } }
                        td.actions {
                            @if may_change {
                                form method="post" action={"/staff/" (s.id) "/reset"} {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="password" name="password" autocomplete="new-password" placeholder="新しいパスワード / new password" id={"pw-" (s.id)};
                                    input type="password" name="again" autocomplete="new-password" placeholder="もう一度 / again" id={"pw2-" (s.id)};
                                    button type="submit" id={"reset-" (s.id)} { "パスワード再設定 / reset password" }
                                }
                                @if !s.disabled {
                                    form method="post" action={"/staff/" (s.id) "/disable"} {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button type="submit" class="danger" id={"disable-" (s.id)} { "無効化 / disable" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if may_change {
            h3 { "職員の追加 / Add a staff member" }
            form method="post" action="/staff/add" id="staff-add" {
                input type="hidden" name="csrf" value=(csrf);
                input type="text" name="id" id="new-id" placeholder="職員ID / staff ID" maxlength="32";
                input type="password" name="password" id="new-pw" autocomplete="new-password" placeholder="パスワード / password";
                input type="password" name="again" id="new-pw2" autocomplete="new-password" placeholder="もう一度 / again";
                button type="submit" id="add" { "追加 / add" }
            }
            h3 { "公開 / Publish" }
            form method="post" action="/staff/publish" {
                input type="hidden" name="csrf" value=(csrf);
                label {
                    input type="checkbox" name="push" value="1" id="push" checked;
                    " リレーにも送る（端末が次の接続で取得。リレーはパスワードのハッシュを預かります） / also send it to the relay (the tablets fetch it at their next check-in; the relay then holds the password hashes, as every tablet does)"
                }
                " "
                button type="submit" id="publish" { "署名付き職員リストを作成（30日） / write the signed staff list (30 days)" }
            }
        }
    }
}
