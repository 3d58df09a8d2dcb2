//! The `shinsei-provision` command line (clap). [`run`] does the work and returns what to
//! print; `main.rs` only parses, calls and prints.

use std::{
    io::{BufRead, Read},
    net::{IpAddr, SocketAddr},
    path::PathBuf,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use shinsei_protocol::{bundle::Profile, device::DeviceId, x509::AdminRole};
use zeroize::Zeroizing;

use shinsei_pki::layout::PkiLayout;
use shinsei_provisioning::{
    device::{self, SignOptions, DEFAULT_DEVICE_DAYS},
    error::{ProvisionError, Result},
    firmware::{
        self, FirmwareInput, FirmwareOptions, Ssid, WifiConfig, WifiPassword, WifiSecurity,
    },
    fleet::{self, AdminClient, DeviceAction},
    pki::{self, CaInitOptions},
    relay::{self, RelayInitOptions},
    renewal::Outcome,
    staff,
};

/// shinsei-provision: 区役所の PKI・端末登録・職員アカウント・端末管理 /
/// the ward's PKI, tablet enrollment, staff accounts and fleet commands.
#[derive(Debug, Parser)]
#[command(name = "shinsei-provision", version)]
pub struct Cli {
    /// PKI ディレクトリ / PKI directory
    #[arg(long, global = true, default_value = "./pki", value_name = "DIR")]
    pub pki: PathBuf,

    /// 現在時刻を上書き（テスト用, Unix 秒） / override the current time (tests; unix
    /// seconds). Only in builds with the `test-hooks` feature.
    #[cfg(feature = "test-hooks")]
    #[arg(long, global = true, hide = true, value_name = "UNIX_SECS")]
    pub now: Option<u64>,

    /// 詳細ログ / verbose logs
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 認証局（ルートCA・端末CA） / certificate authorities (root CA, device CA)
    #[command(subcommand)]
    Ca(CaCommand),
    /// リレー（TLS証明書・HPKE鍵・受付証明鍵） / the relay (TLS certificate, HPKE keys, receipt key)
    #[command(subcommand)]
    Relay(RelayCommand),
    /// IT 管理者のクライアント証明書 / IT administrators' client certificates
    #[command(subcommand)]
    Admin(AdminCommand),
    /// 端末の登録と管理 / tablet enrollment and fleet commands
    #[command(subcommand)]
    Device(DeviceCommand),
    /// 職員アカウント / staff accounts
    #[command(subcommand)]
    Staff(StaffCommand),
    /// リレーの監査ログを表示 / show the relay's audit log
    Audit(FleetOpts),
    /// 端末の OS 設定（ファイアウォール・Wi-Fi・systemd）/ the tablet's OS configuration (firewall, Wi-Fi, systemd)
    #[command(subcommand)]
    Firmware(FirmwareCommand),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WifiSecurityArg {
    /// WPA2-Personal (PSK, CCMP only)
    Wpa2,
    /// WPA3-Personal (SAE, PMF required)
    Wpa3,
}

#[derive(Debug, Subcommand)]
pub enum FirmwareCommand {
    /// 端末バンドルから nftables・Wi-Fi・systemd の設定ファイルを生成 / render the nftables ruleset, Wi-Fi profile and systemd units from a device bundle
    Render {
        /// 端末バンドル（`device sign` の出力） / the device bundle (output of `device sign`)
        #[arg(long, value_name = "FILE")]
        bundle: PathBuf,
        /// 出力ディレクトリ（既存のファイルは上書きしません） / output directory (existing files are not overwritten)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// バンドルを検証するルートCA（既定: PKI の root-ca.pem） / root CA to verify the bundle with (default: the PKI's root-ca.pem)
        #[arg(long, value_name = "FILE")]
        root_ca: Option<PathBuf>,
        /// リレーの IP アドレス（リレーが DNS 名のとき必須、複数可、先頭に固定） / the relay's IP address (required when the relay host is a DNS name; repeatable; the agent is pinned to the first)
        #[arg(long, value_name = "IP")]
        relay_ip: Vec<IpAddr>,
        /// 許可する DNS リゾルバ（複数可） / DNS resolver the tablet may use (repeatable)
        #[arg(long, value_name = "IP")]
        dns: Vec<IpAddr>,
        /// 許可する NTP サーバ（複数可） / NTP server the tablet may use (repeatable)
        #[arg(long, value_name = "IP")]
        ntp: Vec<IpAddr>,
        /// セキュリティ更新用のプロキシ（apt, freshclam） / proxy for security updates (apt, freshclam)
        #[arg(long, value_name = "IP:PORT")]
        update_proxy: Option<SocketAddr>,
        /// 非公開 SSID（指定時は Wi-Fi プロファイルを生成） / hidden SSID (renders the Wi-Fi profile)
        #[arg(long, value_name = "SSID", requires = "wifi_password_stdin")]
        wifi_ssid: Option<String>,
        /// Wi-Fi パスワードを標準入力から1行読む / read the Wi-Fi password as one line from standard input
        #[arg(long, requires = "wifi_ssid")]
        wifi_password_stdin: bool,
        /// Wi-Fi の方式 / Wi-Fi security
        #[arg(long, value_enum, default_value = "wpa3")]
        wifi_security: WifiSecurityArg,
        /// 端末上のエージェントのパス / path of the agent binary on the tablet
        #[arg(long, value_name = "PATH", default_value = firmware::DEFAULT_AGENT_BIN)]
        agent_bin: String,
        /// カメラのデバイス / camera device node
        #[arg(long, value_name = "DEV", default_value = firmware::DEFAULT_CAMERA)]
        camera: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// ルートCAと端末CAを作成 / create the root CA and the device CA
    Init {
        /// 組織名（区の名前） / organization name (the ward)
        #[arg(long, default_value = "shinsei ward")]
        org: String,
        /// ルートCAの有効日数 / root CA validity in days
        #[arg(long, default_value_t = 3650)]
        days: u32,
        /// 端末CAの有効日数 / device CA validity in days
        #[arg(long, default_value_t = 1825)]
        device_ca_days: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// リレーの TLS 証明書・鍵・deployment.json を作成 / create the relay's TLS certificate, keys and deployment.json
    Init {
        /// リレーのホスト名（証明書の SAN） / relay host name (the certificate's SAN)
        #[arg(long)]
        host: String,
        /// 端末用ポート / device API port
        #[arg(long, default_value_t = 8443)]
        port: u16,
        /// 管理用ポート / admin API port
        #[arg(long, default_value_t = 8444)]
        admin_port: u16,
        /// TLS 証明書の有効日数 / TLS certificate validity in days
        #[arg(long, default_value_t = 365)]
        days: u32,
    },
    /// 新しい HPKE 鍵を作成し、旧鍵に期限を設定 / make a new HPKE key and set an end on the old one
    RotateKey {
        /// 旧鍵で開封できる日数 / days the old key keeps opening envelopes
        #[arg(long, default_value_t = 7, value_name = "DAYS")]
        retire_old_after: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// 管理者証明書を発行（admins/NAME.pem, NAME.key） / issue an admin certificate (admins/NAME.pem, NAME.key)
    Issue {
        /// 管理者名 / administrator name
        #[arg(long)]
        name: String,
        /// 役割 / role: viewer (閲覧), operator (停止・再開), security-officer (消去・失効・承認)
        #[arg(long, value_enum)]
        role: RoleArg,
        /// 有効日数（短期が既定） / validity in days (short-lived by default)
        #[arg(long, default_value_t = pki::ADMIN_DEFAULT_DAYS)]
        days: u32,
    },
    /// 管理者を失効（リレー、セキュリティ責任者） / revoke an administrator (relay; security officer)
    Revoke {
        /// 管理者名 / administrator name
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fleet: FleetOpts,
    },
}

/// An administrator's role on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Operator,
    SecurityOfficer,
}

impl From<RoleArg> for AdminRole {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Viewer => AdminRole::Viewer,
            RoleArg::Operator => AdminRole::Operator,
            RoleArg::SecurityOfficer => AdminRole::SecurityOfficer,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    Standard,
    Express,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Standard => Profile::Standard,
            ProfileArg::Express => Profile::Express,
        }
    }
}

/// Options of every fleet command.
#[derive(Debug, Clone, Args)]
pub struct FleetOpts {
    /// 管理者証明書の名前（pki/admins/NAME.{pem,key}） / admin certificate name (pki/admins/NAME.{pem,key})
    #[arg(long, value_name = "NAME")]
    pub admin_cert: Option<String>,
    /// 管理 API の URL（既定: deployment.json） / admin API URL (default: from deployment.json)
    #[arg(long, value_name = "URL")]
    pub admin_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// 端末の CSR に署名し端末バンドルを作成 / sign a tablet's CSR into a device bundle
    Sign {
        /// 端末が作成した CSR / the CSR made by the tablet
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
        /// 端末ID（例 TAB-0001） / device ID (e.g. TAB-0001)
        #[arg(long)]
        device_id: String,
        /// 運用プロファイル / operating profile
        #[arg(long, value_enum, default_value = "standard")]
        profile: ProfileArg,
        /// 端末証明書の有効日数 / device certificate validity in days
        #[arg(long, default_value_t = DEFAULT_DEVICE_DAYS)]
        days: u32,
        /// 登録チケット：端末が初回起動時に自分の鍵を作り、その証明書を求めることだけができる証明書 / an enrollment ticket: a certificate that can only ask for the tablet's own key (made on its first boot) to be certified
        #[arg(long)]
        ticket: bool,
        /// 出力する端末バンドル / output bundle file
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// ディレクトリ内の全 CSR (*.csr.pem) に署名 / sign every CSR (*.csr.pem) in a directory
    SignBulk {
        /// CSR のディレクトリ（ID.csr.pem） / directory of CSRs (ID.csr.pem)
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// バンドルの出力先（既定: --dir） / where to write bundles (default: --dir)
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// 運用プロファイル / operating profile
        #[arg(long, value_enum, default_value = "standard")]
        profile: ProfileArg,
        /// 端末証明書の有効日数 / device certificate validity in days
        #[arg(long, default_value_t = DEFAULT_DEVICE_DAYS)]
        days: u32,
    },
    /// 端末一覧（リレー） / list devices (relay)
    List {
        /// リレーの応答を JSON のまま出力 / print the relay's answer as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        fleet: FleetOpts,
    },
    /// 更新ポリシーに従い、待機中の証明書更新要求に署名（operator 以上、タイマーで定期実行） / sign the waiting certificate renewals the policy allows (operator or above; run from a timer)
    Renew(RenewOpts),
    /// 端末の証明書更新を停止（--resume で再開） / stop a device's certificate renewals (--resume to resume)
    RenewalHold {
        /// 端末ID / device ID
        id: String,
        /// 停止を解除 / lift the stop
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        order: OrderOpts,
    },
    /// 端末を無効化（リレー、operator 以上） / disable a device (relay; operator or above)
    Disable {
        /// 端末ID / device ID
        id: String,
        #[command(flatten)]
        order: OrderOpts,
    },
    /// 端末を有効化、待機中の消去・失効を取り消し（リレー） / enable a device, calling off a waiting wipe or revoke (relay)
    Enable {
        /// 端末ID / device ID
        id: String,
        #[command(flatten)]
        order: OrderOpts,
    },
    /// 端末にデータ消去を指示（2人目のセキュリティ責任者の承認が必要） / order a device to wipe itself (needs a second security officer)
    Wipe {
        /// 端末ID / device ID
        id: String,
        /// 緊急：1人で即時消去（理由必須、1人1日1回、監査に記録） / emergency: wipe at once alone (reason required, once a day per officer, audited)
        #[arg(long, requires = "reason")]
        emergency: bool,
        #[command(flatten)]
        order: OrderOpts,
    },
    /// 端末証明書を失効（2人目のセキュリティ責任者の承認が必要） / revoke a device (needs a second security officer)
    Revoke {
        /// 端末ID / device ID
        id: String,
        #[command(flatten)]
        order: OrderOpts,
    },
}

/// An order to the relay: the fleet options and a reason.
#[derive(Debug, Args)]
pub struct OrderOpts {
    /// 理由（監査ログに記録、申請者の情報は書かない） / reason (kept in the audit log; no applicant data)
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub fleet: FleetOpts,
}

#[derive(Debug, Args)]
pub struct RenewOpts {
    /// 新しい端末証明書の有効日数 / validity of the new device certificates in days
    #[arg(long, default_value_t = DEFAULT_DEVICE_DAYS)]
    pub days: u32,
    /// 記録に運用プロファイルがない端末（更新機能より前の登録）のプロファイル。省略時はその端末を拒否 / the profile of devices with none on record (enrolled before renewals); without it they are refused
    #[arg(long, value_enum)]
    pub default_profile: Option<ProfileArg>,
    /// 登録チケットの端末が初回起動時に作った鍵を承認：端末の画面の指紋と照合してから / approve the key a ticket-enrolled tablet made on its first boot, after comparing the fingerprint on its screen
    #[arg(long, value_name = "ID=FINGERPRINT")]
    pub approve: Vec<String>,
    #[command(flatten)]
    pub fleet: FleetOpts,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// 職員を追加（パスワードは標準入力） / add a staff member (password on standard input)
    Add {
        /// 職員ID / staff ID
        #[arg(long)]
        id: String,
        /// パスワードを標準入力から1行読む / read the password as one line from standard input
        #[arg(long)]
        password_stdin: bool,
        /// 既存の職員のパスワードを置き換える / replace an existing staff member's password
        #[arg(long)]
        replace: bool,
    },
    /// 職員を無効化 / disable a staff member
    Disable {
        /// 職員ID / staff ID
        #[arg(long)]
        id: String,
    },
    /// 職員一覧 / list staff members
    List,
    /// 端末に配布する署名付き職員リストを作成 / write the signed staff list for the tablets
    Publish {
        /// 有効日数 / validity in days
        #[arg(long, default_value_t = 30)]
        valid_days: u32,
        /// 出力ファイル / output file
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// リレーにも送り、端末が次の接続で取得する（operator 以上） / also send it to the relay, where the tablets fetch it at their next check-in (operator or above)
        #[arg(long)]
        push: bool,
        #[command(flatten)]
        fleet: FleetOpts,
    },
}

/// Runs a parsed command. `stdin` is read only by `staff add --password-stdin`;
/// progress lines (bulk signing) go to `progress`. Returns the text for standard output.
pub fn run(cli: &Cli, stdin: &mut dyn BufRead, progress: &mut dyn FnMut(&str)) -> Result<String> {
    let l = PkiLayout::new(&cli.pki);
    #[cfg(feature = "test-hooks")]
    let now = cli.now.unwrap_or_else(shinsei_provisioning::unix_now);
    #[cfg(not(feature = "test-hooks"))]
    let now = shinsei_provisioning::unix_now();
    match &cli.command {
        Command::Ca(CaCommand::Init {
            org,
            days,
            device_ca_days,
        }) => {
            pki::ca_init(
                &l,
                &CaInitOptions {
                    org: org.clone(),
                    root_days: *days,
                    device_ca_days: *device_ca_days,
                },
                now,
            )?;
            Ok(format!(
                "ルートCAと端末CAを作成しました / created the root CA and the device CA\n  {}\n  {}\n\
                 秘密鍵 (*.key) はオフラインで保管してください / keep the private keys (*.key) offline\n",
                l.root_ca_cert().display(),
                l.device_ca_cert().display()
            ))
        }
        Command::Relay(RelayCommand::Init {
            host,
            port,
            admin_port,
            days,
        }) => {
            let r = relay::relay_init(
                &l,
                &RelayInitOptions {
                    host: host.clone(),
                    port: *port,
                    admin_port: *admin_port,
                    tls_days: *days,
                },
                now,
            )?;
            Ok(format!(
                "リレーを初期化しました / relay initialised\n  リレー URL / relay URL: {}\n  管理 URL / admin URL: {}\n  HPKE 鍵ID / HPKE key ID: {}\n  {}\n",
                r.deployment.relay_url,
                r.deployment.admin_url,
                r.hpke_key_id,
                l.relay_dir().display()
            ))
        }
        Command::Relay(RelayCommand::RotateKey { retire_old_after }) => {
            let r = relay::rotate_key(&l, *retire_old_after, now)?;
            let mut s = format!(
                "新しい HPKE 鍵を作成しました / new HPKE key: {}\n",
                r.new_key_id
            );
            for (id, t) in &r.retired {
                s.push_str(&format!(
                    "  旧鍵 {id} は {} まで開封に使えます / old key {id} opens envelopes until {}\n",
                    pki::fmt_time(*t as i64),
                    pki::fmt_time(*t as i64)
                ));
            }
            for id in &r.removed {
                s.push_str(&format!(
                    "  期限切れの鍵 {id} を削除しました / removed expired key {id}\n"
                ));
            }
            s.push_str("リレーを再起動して鍵を読み込ませてください / restart the relay to load the key ring\n");
            Ok(s)
        }
        Command::Admin(AdminCommand::Revoke { name, fleet: f }) => {
            let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
            let r = c.revoke_admin(name)?;
            Ok(format!(
                "管理者 {0} の証明書はすべて拒否されます / every certificate of administrator {0} is now refused\n",
                r.revoked
            ))
        }
        Command::Admin(AdminCommand::Issue { name, role, days }) => {
            let role = AdminRole::from(*role);
            pki::admin_issue(&l, name, role, *days, now)?;
            Ok(format!(
                "管理者証明書を発行しました（役割 {role}、{days} 日） / issued admin certificate (role {role}, {days} days)\n  {}\n  {}\n",
                l.admin_cert(name).display(),
                l.admin_key(name).display()
            ))
        }
        Command::Device(DeviceCommand::Sign {
            csr,
            device_id,
            profile,
            days,
            ticket,
            out,
        }) => {
            let id = DeviceId::parse(device_id)?;
            let b = device::sign_to_file(
                &l,
                csr,
                &id,
                &SignOptions {
                    profile: (*profile).into(),
                    days: *days,
                    ticket: *ticket,
                },
                out,
                now,
            )?;
            Ok(format!(
                "端末バンドルを作成しました / wrote device bundle {}\n  端末ID / device: {}\n  シリアル / serial: {}\n  有効期限 / valid until: {}\n",
                out.display(),
                b.device_id,
                b.serial_hex,
                pki::fmt_time(b.not_after)
            ))
        }
        Command::Device(DeviceCommand::SignBulk {
            dir,
            out_dir,
            profile,
            days,
        }) => {
            let out_dir = out_dir.clone().unwrap_or_else(|| dir.clone());
            let items = device::sign_bulk(
                &l,
                dir,
                &out_dir,
                &SignOptions {
                    profile: (*profile).into(),
                    days: *days,
                    ticket: false,
                },
                now,
                |i, n, item| {
                    let line = match &item.result {
                        Ok(_) => format!("[{i}/{n}] {} ok / 完了", item.device_id),
                        Err(e) => format!("[{i}/{n}] {} 失敗 / FAILED: {e}", item.device_id),
                    };
                    progress(&line);
                },
            )?;
            let failed = items.iter().filter(|i| i.result.is_err()).count();
            if failed > 0 {
                return Err(ProvisionError::BulkFailed {
                    failed,
                    total: items.len(),
                });
            }
            Ok(format!(
                "{n} 台の端末バンドルを作成しました / wrote {n} device bundles to {}\n",
                out_dir.display(),
                n = items.len()
            ))
        }
        Command::Device(DeviceCommand::Renew(o)) => {
            let f = &o.fleet;
            let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
            let approvals = o
                .approve
                .iter()
                .map(|a| shinsei_provisioning::renewal::Approval::parse(a))
                .collect::<Result<Vec<_>>>()?;
            let done = shinsei_provisioning::renewal::renew_all(
                &l,
                &c,
                o.days,
                o.default_profile.map(Profile::from),
                &approvals,
                now,
            )?;
            let rows: Vec<Vec<String>> = done
                .iter()
                .map(|(id, out)| {
                    let what = match out {
                        Outcome::Issued { not_after } => {
                            format!("署名済み / issued, until {}", pki::fmt_time(*not_after))
                        }
                        Outcome::Refused(why) => format!("拒否 / refused: {why}"),
                        Outcome::Skipped(why) => format!("対象外 / skipped: {why}"),
                    };
                    vec![id.clone(), what]
                })
                .collect();
            if rows.is_empty() {
                return Ok("更新要求はありません / no renewal requests\n".into());
            }
            Ok(fleet::table(&["端末ID / device", "結果 / outcome"], &rows))
        }
        Command::Device(DeviceCommand::RenewalHold { id, resume, order }) => {
            let id = DeviceId::parse(id)?;
            let f = &order.fleet;
            let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
            let hold = shinsei_protocol::api::RenewalHold {
                hold: !*resume,
                reason: order.reason.clone(),
            };
            let v = c.renewal_hold(&id, &hold)?;
            Ok(format!(
                "{}: {} / renewals {}\n",
                v.device_id,
                if *resume {
                    "証明書更新を再開しました"
                } else {
                    "証明書更新を停止しました"
                },
                v.renewal.as_str()
            ))
        }
        Command::Device(DeviceCommand::List { json, fleet: f }) => {
            let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
            let list = c.list_devices()?;
            if *json {
                let mut s = serde_json::to_string_pretty(&list)
                    .map_err(|e| ProvisionError::BadResponse(e.to_string()))?;
                s.push('\n');
                return Ok(s);
            }
            Ok(fleet::devices_table(&list))
        }
        Command::Device(
            DeviceCommand::Disable { id, order: o }
            | DeviceCommand::Enable { id, order: o }
            | DeviceCommand::Wipe { id, order: o, .. }
            | DeviceCommand::Revoke { id, order: o },
        ) => {
            let (action, emergency) = match &cli.command {
                Command::Device(DeviceCommand::Disable { .. }) => (DeviceAction::Disable, false),
                Command::Device(DeviceCommand::Enable { .. }) => (DeviceAction::Enable, false),
                Command::Device(DeviceCommand::Wipe { emergency, .. }) => {
                    (DeviceAction::Wipe, *emergency)
                }
                _ => (DeviceAction::Revoke, false),
            };
            let id = DeviceId::parse(id)?;
            let f = &o.fleet;
            let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
            let ask = shinsei_protocol::api::ActionRequest {
                reason: o.reason.clone(),
                emergency,
            };
            let s = c.device_action(&id, action, &ask)?;
            let mut out = fleet::table(
                &["端末ID / device", "状態 / state"],
                &[vec![s.device_id.clone(), s.state.as_str().to_owned()]],
            );
            if let Some(p) = &s.pending {
                out.push_str(&format!(
                    "{action} は2人目のセキュリティ責任者の承認待ちです（{} まで）。別の責任者が同じコマンドを実行してください / the {action} waits for a second security officer until {}: another officer runs the same command\n",
                    pki::fmt_time(i64::try_from(p.expires_at).unwrap_or(i64::MAX)),
                    pki::fmt_time(i64::try_from(p.expires_at).unwrap_or(i64::MAX)),
                ));
            }
            Ok(out)
        }
        Command::Audit(f) => {
            let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
            Ok(fleet::audit_table(&c.audit()?))
        }
        Command::Firmware(FirmwareCommand::Render {
            bundle,
            out,
            root_ca,
            relay_ip,
            dns,
            ntp,
            update_proxy,
            wifi_ssid,
            wifi_password_stdin,
            wifi_security,
            agent_bin,
            camera,
        }) => {
            let root = match root_ca {
                Some(p) => shinsei_pki::layout::read_cert_pem(p)?,
                None => pki::load_root_cert_only(&l, now)?,
            };
            let b = firmware::load_bundle(bundle, &root, now)?;
            let wifi = match wifi_ssid {
                None => None,
                Some(ssid) => {
                    let ssid = Ssid::parse(ssid)?;
                    if !wifi_password_stdin {
                        return Err(ProvisionError::WifiPasswordStdinRequired);
                    }
                    let password = WifiPassword::parse(&read_password(stdin)?)?;
                    Some(WifiConfig {
                        ssid,
                        password,
                        security: match wifi_security {
                            WifiSecurityArg::Wpa2 => WifiSecurity::Wpa2,
                            WifiSecurityArg::Wpa3 => WifiSecurity::Wpa3,
                        },
                    })
                }
            };
            let input = FirmwareInput::from_bundle(
                &b,
                FirmwareOptions {
                    relay_ips: relay_ip.clone(),
                    dns: dns.clone(),
                    ntp: ntp.clone(),
                    update_proxy: *update_proxy,
                    wifi,
                    agent_bin: Some(agent_bin.clone()),
                    camera: Some(camera.clone()),
                },
            )?;
            let files = firmware::render(&input);
            firmware::write_rendered(out, &files)?;
            let rows: Vec<Vec<String>> = files
                .iter()
                .map(|f| {
                    vec![
                        f.name.to_owned(),
                        f.install_path.to_owned(),
                        if f.secret { "0600" } else { "0644" }.to_owned(),
                    ]
                })
                .collect();
            let mut s = format!(
                "端末 {} の設定ファイルを {} に作成しました / wrote the configuration of tablet {} to {}\n\
                 リレー / relay: {}:{} ({})\n",
                b.device_id,
                out.display(),
                b.device_id,
                out.display(),
                input.relay_host,
                input.relay_port,
                input
                    .relay_ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            s.push_str(&fleet::table(
                &["ファイル / file", "配置先 / install as", "モード / mode"],
                &rows,
            ));
            s.push_str("手順は firmware-notes/README.md を参照 / see firmware-notes/README.md for the steps\n");
            Ok(s)
        }
        Command::Staff(StaffCommand::Add {
            id,
            password_stdin,
            replace,
        }) => {
            if !password_stdin {
                return Err(ProvisionError::PasswordStdinRequired);
            }
            let password = read_password(stdin)?;
            staff::add(&l, id, &password, *replace)?;
            Ok(format!(
                "職員 {id} を登録しました。`staff publish` で端末に配布してください / stored staff member {id}; run `staff publish` to distribute\n"
            ))
        }
        Command::Staff(StaffCommand::Disable { id }) => {
            staff::disable(&l, id)?;
            Ok(format!(
                "職員 {id} を無効にしました。`staff publish` で端末に配布してください / disabled staff member {id}; run `staff publish` to distribute\n"
            ))
        }
        Command::Staff(StaffCommand::List) => {
            let db = staff::StaffDb::load(&l)?;
            let rows: Vec<Vec<String>> = db
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.staff_id.to_string(),
                        if e.disabled {
                            "無効 / disabled".to_owned()
                        } else {
                            "有効 / active".to_owned()
                        },
                    ]
                })
                .collect();
            let mut s = fleet::table(&["職員ID / staff ID", "状態 / state"], &rows);
            s.push_str(&format!(
                "最後に配布した番号 / last published sequence: {}\n",
                db.last_sequence
            ));
            Ok(s)
        }
        Command::Staff(StaffCommand::Publish {
            valid_days,
            out,
            push,
            fleet: f,
        }) => {
            let seq = staff::publish(&l, *valid_days, out, now)?;
            let mut text = format!(
                "署名付き職員リストを作成しました / wrote signed staff list {}\n  番号 / sequence: {seq}\n  有効期限 / expires: {}\n",
                out.display(),
                pki::fmt_time(now.saturating_add(u64::from(*valid_days) * 86_400) as i64)
            );
            if *push {
                let c = AdminClient::from_pki(&l, f.admin_cert.as_deref(), f.admin_url.as_deref())?;
                let bytes = shinsei_pki::files::read_limited(out)?;
                let v = c.publish_staff_list(&bytes)?;
                text.push_str(&format!(
                    "リレーに送りました。端末は次の接続で取得します / sent to the relay (sequence {}); the tablets fetch it at their next check-in\n",
                    v.sequence
                ));
            }
            Ok(text)
        }
    }
}

/// Reads one line (the password) from standard input, without its line ending.
fn read_password(stdin: &mut dyn BufRead) -> Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    stdin
        .take(4096)
        .read_until(b'\n', &mut buf)
        .map_err(|e| ProvisionError::io("<stdin>", e))?;
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    let s = std::str::from_utf8(&buf).map_err(|_| {
        ProvisionError::io(
            "<stdin>",
            std::io::Error::new(std::io::ErrorKind::InvalidData, "password is not UTF-8"),
        )
    })?;
    Ok(Zeroizing::new(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn password_line_is_trimmed() {
        let mut r = std::io::Cursor::new(b"secret pass\r\nnext".to_vec());
        assert_eq!(read_password(&mut r).unwrap().as_str(), "secret pass");
    }
}
