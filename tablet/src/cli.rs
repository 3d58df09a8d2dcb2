//! The command-line interface (headless; scriptable by tests and IT). Exit codes and
//! messages are documented in `agent/README.md`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use shinsei_protocol::application::{Application, ApplicationId, BrailleWish, CertificateWish};
use shinsei_protocol::device::DeviceId;
use shinsei_protocol::pins::ExpressPins;

use shinsei_agent::clock::{Clock, SystemClock};
use shinsei_agent::enroll;
use shinsei_agent::error::AgentError;
use shinsei_agent::runtime::{self, Agent, SubmitOutcome};
use shinsei_agent::secret_input::{SecretInputError, SecretLine, SecretLines};
use shinsei_capture::{photo as photo_input, qr};

use crate::demo;
use crate::error::{CliError, InputError, Result};

#[derive(Parser, Debug)]
#[command(
    name = "shinsei-agent",
    version,
    about = "マイナンバーカード申請補助端末エージェント / shinsei tablet agent"
)]
pub(crate) struct Cli {
    /// Data directory (keys, outbox, audit log). Env: SHINSEI_AGENT_DATA.
    #[arg(
        long,
        global = true,
        env = "SHINSEI_AGENT_DATA",
        default_value = "/var/lib/shinsei-agent"
    )]
    pub data_dir: PathBuf,
    /// IP address and port the relay's host name resolves to (when there is no DNS
    /// entry). The certificate is still checked against the bundle's host name.
    #[arg(long, global = true, env = "SHINSEI_RELAY_ADDR")]
    pub relay_addr: Option<SocketAddr>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Demonstration on embedded defaults (no camera, no network).
    Demo,
    /// Enrollment: make the device key and CSR (`--device-id`), or install the bundle (`--bundle`).
    Enroll {
        #[arg(long, conflicts_with = "bundle", requires_all = ["root_ca", "out"])]
        device_id: Option<String>,
        /// The ward root CA certificate (PEM) to pin.
        #[arg(long)]
        root_ca: Option<PathBuf>,
        /// Where to write the CSR (PEM).
        #[arg(long)]
        out: Option<PathBuf>,
        /// A device bundle signed by the ward's device CA.
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Install a signed staff list.
    StaffList {
        #[command(subcommand)]
        action: StaffListAction,
    },
    /// Submit one application without a screen. Reads the staff ID and password (one
    /// line each) from standard input, then, with `--application-id -`, the
    /// application ID, then, with --express --pins-from-stdin, the PINs, one a line:
    /// with --e-cert yes the signature password and the user-certificate PIN, then the
    /// resident-registry and card-info PINs. The photo file is removed once the
    /// application is sealed into the outbox (see --keep-photo).
    Submit {
        /// Image of the form's QR code.
        #[arg(long, required_unless_present = "application_id")]
        qr_image: Option<PathBuf>,
        /// `-`: the 23-digit application ID typed in (fallback to the QR code), read
        /// from standard input after the password, which keeps it out of the shell's
        /// history and `/proc/PID/cmdline`. The ID itself here is refused.
        #[arg(long, conflicts_with = "qr_image")]
        application_id: Option<String>,
        /// The applicant's photo (JPEG, already cropped unless --crop). Removed once
        /// the application is sealed into the outbox, unless --keep-photo.
        #[arg(long)]
        photo: PathBuf,
        /// Leave the photo file in place after the application is sealed (it is the
        /// applicant's face in plaintext: delete it yourself).
        #[arg(long)]
        keep_photo: bool,
        /// Crop the photo to 35:45 first, with the same checks as `crop` (the photo is
        /// refused when a check fails).
        #[arg(long)]
        crop: bool,
        /// Send again although this application ID was already submitted from this
        /// tablet (e.g. with a retaken photo). Without it, a second submission of the
        /// same ID is refused (exit 11), so a retry after a crash never duplicates.
        #[arg(long)]
        resend: bool,
        #[arg(long, value_enum, default_value_t = YesNo::No)]
        e_cert: YesNo,
        #[arg(long, value_enum, default_value_t = YesNo::No)]
        braille: YesNo,
        /// Express issuance (PINs required).
        #[arg(long, requires = "pins_from_stdin")]
        express: bool,
        #[arg(long, requires = "express")]
        pins_from_stdin: bool,
    },
    /// Device state, outbox size, last check-in.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The outbox.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Run: check in by long-poll, send the outbox, ship the audit log, keep the lease.
    Run {
        /// Stop after this many seconds (tests); runs until killed otherwise.
        #[arg(long)]
        for_secs: Option<u64>,
    },
    /// The counter kiosk: full-screen touch UI (login, scan, photo, choices, PINs, send).
    #[cfg(feature = "ui")]
    Ui {
        /// Camera frames from a directory of images (replayed in a loop) instead of a
        /// camera: demonstrations and tests.
        #[arg(long, conflicts_with = "camera")]
        replay_camera: Option<PathBuf>,
        /// Camera index (feature `camera`). Without a camera or replay, only typed
        /// application IDs are possible and no photo can be taken.
        #[arg(long)]
        camera: Option<u32>,
        /// A 1280×800 window instead of full screen.
        #[arg(long)]
        windowed: bool,
        /// Close by itself after this many seconds (smoke tests).
        #[arg(long)]
        exit_after_secs: Option<f64>,
        /// With --exit-after-secs: save a PNG screenshot of the window before closing.
        #[arg(long, requires = "exit_after_secs")]
        screenshot: Option<PathBuf>,
    },
    /// Read application IDs from QR images.
    ScanQr {
        /// Print every QR code's text (JSON strings, tab-separated) instead of
        /// requiring an application ID: for checking the reader on other codes.
        /// Nothing read this way is queued or sent.
        #[arg(long)]
        raw: bool,
        files: Vec<PathBuf>,
    },
    /// Crop a photo to the 35:45 ID-photo format with quality checks; prints a JSON
    /// report (face box, crop box, every check). Writes the photo only if all pass,
    /// mode 0600, with a warning: the file is an applicant's face, delete it after use.
    Crop {
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum StaffListAction {
    Install { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub(crate) enum OutboxAction {
    /// Send everything now.
    Flush,
    /// List queued envelopes (IDs and errors only).
    List,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuditAction {
    /// Check the hash chain.
    Verify,
    /// Send to the relay and prune what it acknowledged.
    Ship,
    /// Print the entries (JSON lines).
    Show,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum YesNo {
    Yes,
    No,
}

/// Entry point of the binary; returns the exit code.
pub(crate) fn main() -> i32 {
    let level = match std::env::var("SHINSEI_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("info") => tracing::Level::INFO,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::WARN,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "エラー / error: {}", e.message());
            e.exit_code()
        }
    }
}

fn out(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock::from_env())
}

fn read_line(lines: &mut SecretLines<impl std::io::Read>, what: &str) -> Result<SecretLine> {
    lines.next_line().map_err(|e| match e {
        SecretInputError::Missing => InputError::Stdin(format!(
            "標準入力に{what}がありません / missing {what} on standard input"
        ))
        .into(),
        other => InputError::Stdin(format!("{what}: {other}")).into(),
    })
}

/// The photo through the cropping pipeline: refused unless every check passes.
fn crop_photo_file(path: &Path) -> Result<shinsei_protocol::photo::FacePhoto> {
    use shinsei_capture::crop;
    let (jpeg, _) = crop::crop_file(path).map_err(InputError::from)?;
    Ok(photo_input::photo_from_jpeg(&jpeg).map_err(InputError::from)?)
}

/// `fsutil::write_atomic` syncs the directory of the file it writes, which it finds
/// with `Path::parent`: that is "" for a bare file name (`--out x.csr.pem`), whose
/// directory is the current one.
fn in_its_directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Path::new(".").join(path),
        _ => path.to_path_buf(),
    }
}

fn warn(line: &str) {
    let _ = writeln!(std::io::stderr(), "警告 / warning: {line}");
}

/// Removes the applicant's photo file once the application is sealed into the outbox.
/// A plain unlink: overwriting the file first would not reach the old blocks on a
/// journaling or copy-on-write filesystem or behind an SSD's flash translation layer,
/// so it would only pretend. A failure is a warning, not an error: the application is
/// sealed and the command's outcome stands.
fn remove_input_photo(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => out(&format!(
            "写真ファイルを削除しました / photo file removed: {}",
            path.display()
        )),
        Err(e) => warn(&format!(
            "写真ファイルを削除できません。手で削除してください / could not remove the photo file {}: {e}; delete it by hand",
            path.display()
        )),
    }
}

fn open_agent(cli: &Cli) -> Result<Agent> {
    Ok(Agent::open(&cli.data_dir, clock(), cli.relay_addr)?)
}

#[cfg(feature = "ui")]
fn ui_cmd(
    cli: &Cli,
    replay: Option<&Path>,
    camera: Option<u32>,
    windowed: bool,
    exit_after_secs: Option<f64>,
    screenshot: Option<PathBuf>,
) -> Result<()> {
    use shinsei_capture::live::vision::Vision;
    use shinsei_capture::source::{open_camera_threaded, ReplaySource};
    use shinsei_kiosk as ui;

    let vision = match (replay, camera) {
        (Some(dir), _) => {
            let src = ReplaySource::open(dir, true).map_err(InputError::from)?;
            Some(Vision::new(Box::new(src)))
        }
        (None, Some(i)) => match open_camera_threaded(i, 1280, 720, 30) {
            Ok(src) => Some(Vision::new(Box::new(src.with_timeout(Duration::ZERO)))),
            Err(e) => {
                tracing::error!("camera: {e}");
                None
            }
        },
        (None, None) => None,
    };
    let backend = ui::agent_backend(cli.data_dir.clone(), cli.relay_addr, clock());
    let opts = ui::KioskOptions {
        fullscreen: !windowed,
        exit: ui::AutoExit {
            screenshot,
            after_secs: exit_after_secs,
        },
    };
    if let Some(p) = ui::run_kiosk(backend, vision, clock(), opts)? {
        out(&format!("画面を保存しました / screenshot: {}", p.display()));
    }
    Ok(())
}

/// The agent was wiped: closing it removes what is left of its outbox.
fn after_wipe(agent: Agent) -> CliError {
    drop(agent);
    AgentError::Wiped.into()
}

pub(crate) fn run(cli: Cli) -> Result<()> {
    // A wipe a crash interrupted is finished before anything else (issue 18).
    runtime::complete_interrupted_wipe(&cli.data_dir)?;
    match &cli.command {
        Command::Demo => {
            for l in demo::run_protocol_demo()? {
                out(&l);
            }
            Ok(())
        }
        Command::Enroll {
            device_id,
            root_ca,
            out: csr_out,
            bundle,
        } => enroll_cmd(
            &cli.data_dir,
            device_id.as_deref(),
            root_ca.as_deref(),
            csr_out.as_deref(),
            bundle.as_deref(),
        ),
        Command::StaffList {
            action: StaffListAction::Install { file },
        } => {
            let bytes = std::fs::read(file).map_err(|e| AgentError::file(file, e))?;
            let list = enroll::install_staff_list(&cli.data_dir, &bytes, clock().now())?;
            out(&format!(
                "職員リストを登録しました / staff list installed: {} entries",
                list.entries.len()
            ));
            Ok(())
        }
        Command::Submit {
            qr_image,
            application_id,
            photo,
            keep_photo,
            crop,
            resend,
            e_cert,
            braille,
            express,
            pins_from_stdin: _,
        } => {
            // The ID in argv would stay in the shell's history and be readable by every
            // local process (/proc/PID/cmdline): refused before anything is read.
            if application_id.as_deref().is_some_and(|s| s != "-") {
                return Err(InputError::Usage(
                    "the application ID is not taken from the command line (shell history, /proc/PID/cmdline): use `--application-id -` and give it on standard input, the line after the password".into(),
                )
                .into());
            }
            let mut lines = SecretLines::stdin().map_err(|e| InputError::Stdin(e.to_string()))?;
            let staff = read_line(&mut lines, "職員ID / staff ID")?;
            let staff = staff
                .as_str()
                .map_err(|e| InputError::Stdin(e.to_string()))?
                .to_string();
            let password = read_line(&mut lines, "パスワード / password")?;
            let mut agent = open_agent(&cli)?;
            let mut session = match agent.login(&staff, password.as_bytes()) {
                Err(AgentError::Wiped) => return Err(after_wipe(agent)),
                other => other?,
            };
            drop(password);
            let id = match (qr_image, application_id) {
                (Some(f), _) => qr::decode_file(f).map_err(InputError::from)?,
                // Any other value was refused above.
                (None, Some(_)) => {
                    let line = read_line(&mut lines, "申請書ID / application ID")?;
                    ApplicationId::parse(line.as_bytes()).map_err(InputError::from)?
                }
                (None, None) => {
                    return Err(
                        InputError::Usage("QR image or application ID required".into()).into(),
                    )
                }
            };
            agent.record_scan(&session, id.as_bytes());
            let face = if *crop {
                crop_photo_file(photo)?
            } else {
                photo_input::photo_from_file(photo).map_err(InputError::from)?
            };
            agent.record_capture(&session);
            let cw = if *e_cert == YesNo::Yes {
                CertificateWish::Yes
            } else {
                CertificateWish::No
            };
            let bw = if *braille == YesNo::Yes {
                BrailleWish::Yes
            } else {
                BrailleWish::No
            };
            let masked = id.masked();
            let app = if *express {
                // The e-certificates' two secrets only when they are wanted.
                let certs = if cw == CertificateWish::Yes {
                    Some((
                        read_line(&mut lines, "署名用パスワード / signature password")?,
                        read_line(&mut lines, "利用者証明用暗証番号 / user-certificate PIN")?,
                    ))
                } else {
                    None
                };
                let b = read_line(&mut lines, "住民基本台帳用暗証番号 / resident-registry PIN")?;
                let c = read_line(&mut lines, "券面事項入力補助用暗証番号 / card-info PIN")?;
                let pins = match &certs {
                    Some((sig, a)) => {
                        ExpressPins::new(sig.as_bytes(), a.as_bytes(), b.as_bytes(), c.as_bytes())
                    }
                    None => ExpressPins::without_certificates(b.as_bytes(), c.as_bytes()),
                }
                .map_err(InputError::from)?;
                Application::express(id, face, cw, bw, pins).map_err(InputError::from)?
            } else {
                Application::standard(id, face, cw, bw)
            };
            // `submit_with` in its two halves: once `queue_application` returns, the
            // application is sealed into the outbox and the photo file is not needed any
            // more; it is removed after the delivery attempt (a crash before that leaves
            // it for the clerk's retry, which is then recognised: exit 11).
            let r = match agent.queue_application(&mut session, app, *resend) {
                Ok(envelope) => {
                    let r = agent.deliver(envelope);
                    if !*keep_photo {
                        remove_input_photo(photo);
                    }
                    r
                }
                Err(e) => Err(e),
            };
            agent.logout(&mut session);
            match r {
                Ok(SubmitOutcome::Delivered {
                    envelope_id,
                    received_at,
                }) => {
                    out(&format!("送信しました / delivered: {masked} envelope {envelope_id} at {received_at}"));
                    Ok(())
                }
                Ok(SubmitOutcome::Queued {
                    envelope_id,
                    reason,
                }) => {
                    out(&format!(
                        "送信待ちに保存しました。自動で送信します / queued, will send automatically: {masked} envelope {envelope_id} ({reason}); outbox {}",
                        agent.outbox().len()
                    ));
                    Err(AgentError::RelayUnreachable(reason).into())
                }
                Err(AgentError::Wiped) => Err(after_wipe(agent)),
                Err(e) => Err(e.into()),
            }
        }
        Command::Status { json } => {
            if runtime::is_wiped(&cli.data_dir) {
                out(r#"{"state":"wiped"}"#);
                return Err(AgentError::Wiped.into());
            }
            let mut agent = open_agent(&cli)?;
            let s = match agent.status() {
                Err(AgentError::Wiped) => return Err(after_wipe(agent)),
                other => other?,
            };
            if *json {
                out(&serde_json::to_string(&s).map_err(|e| AgentError::Internal(e.to_string()))?);
            } else {
                out(&format!("端末 / device: {} ({})", s.device_id, s.profile));
                out(&format!("状態 / state: {}", s.state));
                out(&format!("送信待ち / outbox: {}", s.outbox));
                out(&format!(
                    "最終接続 / last check-in: {}",
                    s.last_checkin
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "-".into())
                ));
                out(&format!("オフライン期限 / offline lease: {}", s.lease));
                out(&format!("中継サーバー / relay: {}", s.relay));
                if let Some(fp) = &s.awaiting_approval {
                    out(&format!(
                        "登録の承認待ち・鍵の指紋 / waiting for IT to approve the key, fingerprint: {fp}"
                    ));
                }
            }
            Ok(())
        }
        Command::Outbox { action } => {
            let mut agent = open_agent(&cli)?;
            match action {
                OutboxAction::List => {
                    let (entries, corrupt) = agent.outbox().entries()?;
                    for e in entries {
                        out(&format!(
                            "{} created {} attempts {} {}",
                            e.id,
                            e.created_at,
                            e.attempts,
                            e.last_error.unwrap_or_default()
                        ));
                    }
                    for c in corrupt {
                        out(&format!("{c} CORRUPT"));
                    }
                    Ok(())
                }
                OutboxAction::Flush => {
                    match agent.sync_state() {
                        Err(AgentError::Wiped) => return Err(after_wipe(agent)),
                        other => other?,
                    }
                    match agent.flush_outbox(true) {
                        Ok(r) => {
                            out(&format!(
                                "送信 {} 件、待ち {} 件、拒否 {} 件、期限切れ {} 件 / delivered {}, pending {}, refused {}, expired {}",
                                r.delivered.len(), r.pending, r.refused.len(), r.expired.len(),
                                r.delivered.len(), r.pending, r.refused.len(), r.expired.len()
                            ));
                            for id in &r.expired {
                                out(&format!("期限切れで破棄 / expired and destroyed: {id}"));
                            }
                            if r.pending > 0 {
                                return Err(AgentError::RelayUnreachable(
                                    r.last_error.unwrap_or_default(),
                                )
                                .into());
                            }
                            Ok(())
                        }
                        Err(AgentError::Wiped) => Err(after_wipe(agent)),
                        Err(e) => Err(e.into()),
                    }
                }
            }
        }
        Command::Audit { action } => {
            let log = shinsei_agent::audit::AuditLog::open(&cli.data_dir)?;
            match action {
                AuditAction::Verify => {
                    let n = log.verify()?;
                    out(&format!(
                        "監査ログは正常です / audit log intact: {n} entries"
                    ));
                    Ok(())
                }
                AuditAction::Show => {
                    // Coalesced login failures are written out first, so they show.
                    log.flush()?;
                    for e in log.entries()? {
                        out(&serde_json::to_string(&e)
                            .map_err(|e| AgentError::Internal(e.to_string()))?);
                    }
                    Ok(())
                }
                AuditAction::Ship => {
                    let agent = open_agent(&cli)?;
                    let n = agent.ship_audit()?;
                    out(&format!(
                        "監査ログを送信しました / shipped and pruned {n} entries"
                    ));
                    Ok(())
                }
            }
        }
        Command::Run { for_secs } => run_daemon(&cli, *for_secs),
        #[cfg(feature = "ui")]
        Command::Ui {
            replay_camera,
            camera,
            windowed,
            exit_after_secs,
            screenshot,
        } => ui_cmd(
            &cli,
            replay_camera.as_deref(),
            *camera,
            *windowed,
            *exit_after_secs,
            screenshot.clone(),
        ),
        Command::Crop { input, out: output } => {
            match shinsei_capture::crop::crop_file(input) {
                Ok((jpeg, report)) => {
                    // An applicant's face in plaintext: private to the user, and said so.
                    shinsei_agent::fsutil::write_atomic(&in_its_directory(output), &jpeg, 0o600)?;
                    warn(&format!(
                        "{} には申請者の顔写真が暗号化されずに入っています。使い終わったら必ず削除してください / {} holds an applicant's face, unencrypted: delete it as soon as it is no longer needed",
                        output.display(),
                        output.display()
                    ));
                    out(&report.to_json());
                    Ok(())
                }
                Err(shinsei_capture::CaptureError::Rejected {
                    reasons,
                    report_json,
                }) => {
                    out(&report_json);
                    Err(InputError::PhotoRejected(reasons).into())
                }
                Err(e) => Err(InputError::from(e).into()),
            }
        }
        Command::ScanQr { raw, files } => {
            let mut failed = false;
            for f in files {
                let read = if *raw {
                    qr::read_text_file(f).map(|texts| {
                        let texts: Vec<&str> = texts.iter().map(|t| t.as_str()).collect();
                        texts
                            .iter()
                            .map(|t| serde_json::to_string(t).unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join("\t")
                    })
                } else {
                    qr::decode_file(f).map(|id| id.as_str().to_owned())
                };
                match read {
                    Ok(text) => out(&format!("{}\t{text}", f.display())),
                    Err(e) => {
                        failed = true;
                        out(&format!("{}\tERROR\t{e}", f.display()));
                    }
                }
            }
            if failed {
                let what = if *raw { "QR code" } else { "application ID" };
                Err(InputError::Usage(format!("one or more files had no {what}")).into())
            } else {
                Ok(())
            }
        }
    }
}

fn enroll_cmd(
    data_dir: &Path,
    device_id: Option<&str>,
    root_ca: Option<&Path>,
    csr_out: Option<&Path>,
    bundle: Option<&Path>,
) -> Result<()> {
    std::fs::create_dir_all(data_dir).map_err(|e| AgentError::file(data_dir, e))?;
    match (device_id, root_ca, csr_out, bundle) {
        (Some(id), Some(root), Some(csr_path), None) => {
            // Re-enrollment after a wipe starts from an empty directory.
            runtime::clear_for_reenrollment(data_dir)?;
            let id = DeviceId::parse(id).map_err(InputError::from)?;
            let root_pem = std::fs::read(root).map_err(|e| AgentError::file(root, e))?;
            let csr = enroll::create_key_and_csr(data_dir, &id, &root_pem)?;
            shinsei_agent::fsutil::write_atomic(
                &in_its_directory(csr_path),
                csr.as_bytes(),
                0o644,
            )?;
            out(&format!(
                "CSR を作成しました / CSR written: {} (device {id})",
                csr_path.display()
            ));
            Ok(())
        }
        (None, _, _, Some(b)) => {
            let bytes = std::fs::read(b).map_err(|e| AgentError::file(b, e))?;
            let i = enroll::install_bundle(data_dir, &bytes, clock().now())?;
            out(&format!(
                "登録しました / enrolled: {} → {}",
                i.device_id, i.relay_url
            ));
            Ok(())
        }
        _ => Err(InputError::Usage(
            "use `enroll --device-id ID --root-ca FILE --out CSR` or `enroll --bundle FILE`".into(),
        )
        .into()),
    }
}

fn run_daemon(cli: &Cli, for_secs: Option<u64>) -> Result<()> {
    let mut agent = open_agent(cli)?;
    let started = std::time::Instant::now();
    let mut failures = 0u32;
    let mut last_audit_ship = std::time::Instant::now() - Duration::from_secs(3600);
    out(&format!(
        "起動しました / running as {}",
        agent.enrollment().device_id
    ));
    loop {
        if let Some(s) = for_secs {
            if started.elapsed() >= Duration::from_secs(s) {
                return Ok(());
            }
        }
        match agent.tick_lease() {
            Err(AgentError::Wiped) => return Err(after_wipe(agent)),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let wait = u64::from(agent.enrollment().policy.checkin_interval_secs).min(25);
        match agent.checkin(wait) {
            Ok(st) => {
                failures = 0;
                tracing::info!(state = %st.state, version = st.version, "check-in");
                if st.state == shinsei_protocol::api::DeviceState::Active
                    && !agent.outbox().is_empty()
                {
                    match agent.flush_outbox(false) {
                        Err(AgentError::Wiped) => return Err(after_wipe(agent)),
                        Err(e) => tracing::warn!("outbox: {e}"),
                        Ok(r) => tracing::info!(
                            delivered = r.delivered.len(),
                            pending = r.pending,
                            "outbox"
                        ),
                    }
                }
                if last_audit_ship.elapsed() > Duration::from_secs(60) {
                    if let Err(e) = agent.ship_audit() {
                        tracing::warn!("audit shipping: {e}");
                    }
                    last_audit_ship = std::time::Instant::now();
                }
            }
            Err(AgentError::Wiped) => {
                out("消去しました / wiped");
                return Err(after_wipe(agent));
            }
            Err(e) => {
                failures += 1;
                tracing::warn!("check-in failed: {e}");
                std::thread::sleep(Duration::from_secs(1u64 << failures.min(5)));
            }
        }
    }
}
