//! `firmware render`: the tablet's OS configuration, generated from its device bundle.
//!
//! Rendering is pure (no I/O; `super::output` reads the bundle and writes the files):
//! [`FirmwareInput::from_bundle`] takes the relay's host and port
//! from a verified [`DeviceBundle`] and the facts the bundle cannot carry (the relay's IP
//! addresses when its host is a DNS name, the DNS resolver, NTP servers, the update
//! proxy, the Wi-Fi network) from the operator; [`render`] turns them into files:
//!
//! | file | installed as | mode |
//! |---|---|---|
//! | `nftables.conf` | `/etc/nftables.conf` | 0644 |
//! | `shinsei-agent.service` | `/etc/systemd/system/shinsei-agent.service` | 0644 |
//! | `shinsei-kiosk.service` | `/etc/systemd/system/shinsei-kiosk.service` | 0644 |
//! | `shinsei-kiosk.target` | `/etc/systemd/system/shinsei-kiosk.target` | 0644 |
//! | `shinsei-agent.sysusers.conf` | `/etc/sysusers.d/shinsei-agent.conf` | 0644 |
//! | `70-shinsei-camera.rules` | `/etc/udev/rules.d/70-shinsei-camera.rules` | 0644 |
//! | `71-shinsei-display.rules` | `/etc/udev/rules.d/71-shinsei-display.rules` | 0644 |
//! | `seatd-kiosk.conf` | `/etc/systemd/system/seatd.service.d/shinsei-kiosk.conf` | 0644 |
//! | `logind-kiosk.conf` | `/etc/systemd/logind.conf.d/shinsei-kiosk.conf` | 0644 |
//! | `timesyncd.conf` (with `--ntp`) | `/etc/systemd/timesyncd.conf.d/shinsei.conf` | 0644 |
//! | `apt-proxy.conf` (with `--update-proxy`) | `/etc/apt/apt.conf.d/90shinsei-proxy` | 0644 |
//! | `shinsei-wifi.nmconnection` (with `--wifi-ssid`) | `/etc/NetworkManager/system-connections/shinsei-wifi.nmconnection` | 0600 |
//!
//! Everything interpolated into a file is validated first (IP addresses are typed, paths,
//! the SSID and the Wi-Fi password are restricted to characters that cannot start a new
//! line, a comment, a list or a specifier), so no input can add a line to any file.

use std::net::{IpAddr, SocketAddr};

use shinsei_protocol::{bundle::DeviceBundle, device::DeviceId};
use zeroize::Zeroizing;

/// The agent's system user (and group).
pub const AGENT_USER: &str = "shinsei-agent";
/// The agent's data directory (`StateDirectory=`).
pub const AGENT_DATA_DIR: &str = "/var/lib/shinsei-agent";
/// Default path of the agent binary on the tablet.
pub const DEFAULT_AGENT_BIN: &str = "/usr/local/bin/shinsei-agent";
/// Default camera device node.
pub const DEFAULT_CAMERA: &str = "/dev/video0";
/// Name of the rendered Wi-Fi profile.
pub const WIFI_FILE: &str = "shinsei-wifi.nmconnection";
/// Shortest Wi-Fi password accepted (the 802.11 minimum is 8; we ask for more).
pub const MIN_WIFI_PASSWORD: usize = 12;

/// Why the firmware files could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirmwareError {
    #[error("リレー {host} は DNS 名です。--relay-ip でリレーの IP アドレスを指定してください / the relay host {host} is a DNS name: give its IP address(es) with --relay-ip")]
    RelayIpRequired { host: String },
    #[error("バンドルのリレーは IP アドレス {host} です。--relay-ip {ip} はそれと一致しません / the bundle's relay is the IP address {host}; --relay-ip {ip} does not match it")]
    RelayIpMismatch { host: String, ip: IpAddr },
    #[error("{what} に使えない IP アドレスです（未指定・ループバック・マルチキャスト・ブロードキャスト） / {ip} cannot be used as {what} (unspecified, loopback, multicast or broadcast)")]
    BadAddress { what: &'static str, ip: IpAddr },
    #[error("{what} のポート番号 0 は使えません / port 0 is not a valid {what} port")]
    BadPort { what: &'static str },
    #[error("同じアドレスが重複しています / {ip} is given twice")]
    DuplicateAddress { ip: IpAddr },
    #[error("SSID が不正です（1〜32文字の英数字・空白・- _ . @ + :、先頭と末尾は空白以外） / bad SSID: use 1-32 characters of A-Z a-z 0-9, space and - _ . @ + :, not starting or ending with a space")]
    BadSsid,
    #[error("Wi-Fi パスワードが不正です: {0} / bad Wi-Fi password: {0}")]
    BadWifiPassword(&'static str),
    #[error("{what} のパスが不正です（絶対パス、英数字と / . _ + - のみ、.. なし） / bad {what} path '{path}': absolute, only A-Z a-z 0-9 / . _ + -, no '..'")]
    BadPath { what: &'static str, path: String },
    #[error("カメラのデバイスが不正です（/dev/videoN、/dev/v4l/by-id/… または /dev/v4l/by-path/…） / bad camera device '{0}': use /dev/videoN, /dev/v4l/by-id/NAME or /dev/v4l/by-path/NAME")]
    BadCamera(String),
}

/// WPA2-Personal (PSK) or WPA3-Personal (SAE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WifiSecurity {
    /// WPA2-Personal: `key-mgmt=wpa-psk`, RSN/CCMP only, PMF optional.
    Wpa2,
    /// WPA3-Personal: `key-mgmt=sae`, PMF required.
    Wpa3,
}

/// A validated SSID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssid(String);

impl Ssid {
    /// 1..=32 characters of `A-Z a-z 0-9`, space and `- _ . @ + :`, not starting or
    /// ending with a space.
    pub fn parse(s: &str) -> Result<Self, FirmwareError> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && !s.starts_with(' ')
            && !s.ends_with(' ')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" -_.@+:".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(FirmwareError::BadSsid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated Wi-Fi password (kept in a zeroizing buffer; never printed).
pub struct WifiPassword(Zeroizing<String>);

impl std::fmt::Debug for WifiPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WifiPassword(<redacted>)")
    }
}

impl WifiPassword {
    /// 12..=63 printable ASCII characters (the 802.11 passphrase alphabet, 8..=63,
    /// with a stricter minimum), no backslash, not starting or ending with a space.
    pub fn parse(s: &str) -> Result<Self, FirmwareError> {
        if !s.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(FirmwareError::BadWifiPassword(
                "印字可能な ASCII 文字のみ / printable ASCII characters only",
            ));
        }
        if s.len() < MIN_WIFI_PASSWORD || s.len() > 63 {
            return Err(FirmwareError::BadWifiPassword(
                "12〜63文字 / 12 to 63 characters",
            ));
        }
        if s.contains('\\') || s.starts_with(' ') || s.ends_with(' ') {
            return Err(FirmwareError::BadWifiPassword(
                "バックスラッシュと先頭・末尾の空白は使えません / no backslash, no leading or trailing space",
            ));
        }
        Ok(Self(Zeroizing::new(s.to_owned())))
    }
}

/// The tablet's Wi-Fi network.
#[derive(Debug)]
pub struct WifiConfig {
    pub ssid: Ssid,
    pub password: WifiPassword,
    pub security: WifiSecurity,
}

/// Operator-supplied facts (what the bundle does not carry).
#[derive(Debug, Default)]
pub struct FirmwareOptions {
    /// The relay's addresses; required when the bundle's relay host is a DNS name.
    pub relay_ips: Vec<IpAddr>,
    /// DNS resolvers the tablet may query (port 53, UDP and TCP).
    pub dns: Vec<IpAddr>,
    /// NTP servers (UDP 123); also written to `timesyncd.conf`.
    pub ntp: Vec<IpAddr>,
    /// HTTP(S) proxy for security updates (apt, freshclam).
    pub update_proxy: Option<SocketAddr>,
    pub wifi: Option<WifiConfig>,
    /// Agent binary on the tablet (default [`DEFAULT_AGENT_BIN`]).
    pub agent_bin: Option<String>,
    /// Camera device node (default [`DEFAULT_CAMERA`]).
    pub camera: Option<String>,
}

/// Everything the files are made from, validated.
#[derive(Debug)]
pub struct FirmwareInput {
    pub device_id: DeviceId,
    pub relay_host: String,
    pub relay_port: u16,
    /// Non-empty; the agent is pinned to the first (`SHINSEI_RELAY_ADDR`).
    pub relay_ips: Vec<IpAddr>,
    pub dns: Vec<IpAddr>,
    pub ntp: Vec<IpAddr>,
    pub update_proxy: Option<SocketAddr>,
    pub wifi: Option<WifiConfig>,
    pub agent_bin: String,
    pub camera: String,
}

/// One rendered file.
#[derive(Debug)]
pub struct RenderedFile {
    /// File name in the output directory.
    pub name: &'static str,
    /// Where it goes on the tablet.
    pub install_path: &'static str,
    /// True for the Wi-Fi profile (mode 0600, holds the password).
    pub secret: bool,
    pub contents: Zeroizing<String>,
}

fn usable(what: &'static str, ip: IpAddr) -> Result<IpAddr, FirmwareError> {
    let bad = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
        || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    if bad {
        Err(FirmwareError::BadAddress { what, ip })
    } else {
        Ok(ip)
    }
}

fn distinct(what: &'static str, ips: &[IpAddr]) -> Result<Vec<IpAddr>, FirmwareError> {
    let mut out: Vec<IpAddr> = Vec::with_capacity(ips.len());
    for &ip in ips {
        let ip = usable(what, ip)?;
        if out.contains(&ip) {
            return Err(FirmwareError::DuplicateAddress { ip });
        }
        out.push(ip);
    }
    Ok(out)
}

/// An absolute path of safe characters: `/` then `[A-Za-z0-9._+-]` segments, no `.`/`..`
/// segment, no empty segment, at most 255 bytes.
fn safe_path(what: &'static str, p: &str) -> Result<String, FirmwareError> {
    let bad = || FirmwareError::BadPath {
        what,
        path: p.to_owned(),
    };
    let rest = p.strip_prefix('/').ok_or_else(bad)?;
    if p.len() > 255 || rest.is_empty() {
        return Err(bad());
    }
    for seg in rest.split('/') {
        if seg.is_empty()
            || seg == "."
            || seg == ".."
            || !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        {
            return Err(bad());
        }
    }
    Ok(p.to_owned())
}

fn camera_device(p: &str) -> Result<String, FirmwareError> {
    let bad = || FirmwareError::BadCamera(p.to_owned());
    if let Some(n) = p.strip_prefix("/dev/video") {
        if !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(p.to_owned());
        }
        return Err(bad());
    }
    let name = p
        .strip_prefix("/dev/v4l/by-id/")
        .or_else(|| p.strip_prefix("/dev/v4l/by-path/"))
        .ok_or_else(bad)?;
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:+-".contains(&b));
    if ok {
        Ok(p.to_owned())
    } else {
        Err(bad())
    }
}

impl FirmwareInput {
    /// Combines a verified bundle with the operator's options. If the bundle's relay host
    /// is an IPv4 address, that is the relay address (`--relay-ip` may repeat it, nothing
    /// else); if it is a DNS name, `relay_ips` must name at least one address.
    pub fn from_bundle(b: &DeviceBundle, o: FirmwareOptions) -> Result<Self, FirmwareError> {
        let host = b.relay_url.host().to_owned();
        let port = b.relay_url.port();
        let relay_ips = match host.parse::<IpAddr>() {
            Ok(ip) => {
                if let Some(&other) = o.relay_ips.iter().find(|&&x| x != ip) {
                    return Err(FirmwareError::RelayIpMismatch { host, ip: other });
                }
                vec![usable("relay / リレー", ip)?]
            }
            Err(_) => {
                if o.relay_ips.is_empty() {
                    return Err(FirmwareError::RelayIpRequired { host });
                }
                distinct("relay / リレー", &o.relay_ips)?
            }
        };
        if port == 0 {
            return Err(FirmwareError::BadPort {
                what: "relay / リレー",
            });
        }
        if let Some(p) = o.update_proxy {
            usable("update proxy / 更新プロキシ", p.ip())?;
            if p.port() == 0 {
                return Err(FirmwareError::BadPort {
                    what: "update proxy / 更新プロキシ",
                });
            }
        }
        Ok(Self {
            device_id: b.device_id.clone(),
            relay_host: host,
            relay_port: port,
            relay_ips,
            dns: distinct("DNS", &o.dns)?,
            ntp: distinct("NTP", &o.ntp)?,
            update_proxy: o.update_proxy,
            wifi: o.wifi,
            agent_bin: safe_path(
                "agent binary / エージェント",
                o.agent_bin.as_deref().unwrap_or(DEFAULT_AGENT_BIN),
            )?,
            camera: camera_device(o.camera.as_deref().unwrap_or(DEFAULT_CAMERA))?,
        })
    }

    fn v4(ips: &[IpAddr]) -> Vec<String> {
        ips.iter()
            .filter(|i| i.is_ipv4())
            .map(ToString::to_string)
            .collect()
    }

    fn v6(ips: &[IpAddr]) -> Vec<String> {
        ips.iter()
            .filter(|i| i.is_ipv6())
            .map(ToString::to_string)
            .collect()
    }

    /// True if any address the tablet talks to is IPv6 (then IPv6 is enabled, with
    /// neighbour discovery; otherwise all IPv6 is dropped).
    pub fn uses_ipv6(&self) -> bool {
        self.relay_ips
            .iter()
            .chain(&self.dns)
            .chain(&self.ntp)
            .chain(self.update_proxy.map(|p| p.ip()).as_ref())
            .any(IpAddr::is_ipv6)
    }

    /// The address the agent is pinned to (`SHINSEI_RELAY_ADDR`).
    pub fn pinned_relay_addr(&self) -> SocketAddr {
        // `relay_ips` is never empty (checked in `from_bundle`).
        let ip = self
            .relay_ips
            .first()
            .copied()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, self.relay_port)
    }

    fn header(&self, comment: &str, what: &str) -> String {
        format!(
            "{comment} {what} for tablet {id}: relay {host} port {port} at {ips}.\n\
             {comment} Generated by `shinsei-provision firmware render`; do not edit, re-render.\n",
            id = self.device_id,
            host = self.relay_host,
            port = self.relay_port,
            ips = self
                .relay_ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

fn set(items: &[String]) -> String {
    format!("{{ {} }}", items.join(", "))
}

/// The nftables ruleset: every chain drops by default; out only to the relay's addresses
/// and port (TCP), DNS to the given resolvers, NTP to the given servers, the update proxy,
/// DHCP (and, only when IPv6 is used, neighbour discovery and DHCPv6); in only replies
/// to those (connection tracking), DHCP offers and neighbour discovery. Nothing is
/// forwarded.
pub fn render_nftables(i: &FirmwareInput) -> String {
    let mut s = String::from("#!/usr/sbin/nft -f\n");
    s.push_str(&i.header("#", "nftables ruleset"));
    let v6 = i.uses_ipv6();
    s.push_str(
        "\nflush ruleset\n\n\
         table inet shinsei {\n\
         \tchain input {\n\
         \t\ttype filter hook input priority filter; policy drop;\n\
         \t\tiif \"lo\" accept\n\
         \t\tct state invalid drop\n\
         \t\tct state established,related accept\n\
         \t\tudp sport 67 udp dport 68 accept comment \"DHCPv4 offers and acks\"\n",
    );
    if v6 {
        s.push_str(
            "\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept comment \"IPv6 neighbour discovery\"\n\
             \t\tip6 saddr fe80::/10 udp sport 547 udp dport 546 accept comment \"DHCPv6 replies\"\n",
        );
    }
    s.push_str(
        "\t}\n\n\
         \tchain forward {\n\
         \t\ttype filter hook forward priority filter; policy drop;\n\
         \t}\n\n\
         \tchain output {\n\
         \t\ttype filter hook output priority filter; policy drop;\n\
         \t\toif \"lo\" accept\n\
         \t\tct state invalid drop\n\
         \t\tct state established,related accept\n",
    );
    let port = i.relay_port;
    let (r4, r6) = (
        FirmwareInput::v4(&i.relay_ips),
        FirmwareInput::v6(&i.relay_ips),
    );
    if !r4.is_empty() {
        s.push_str(&format!(
            "\t\tip daddr {} tcp dport {port} accept comment \"the relay\"\n",
            set(&r4)
        ));
    }
    if !r6.is_empty() {
        s.push_str(&format!(
            "\t\tip6 daddr {} tcp dport {port} accept comment \"the relay\"\n",
            set(&r6)
        ));
    }
    for (fam, list) in [
        ("ip", FirmwareInput::v4(&i.dns)),
        ("ip6", FirmwareInput::v6(&i.dns)),
    ] {
        if !list.is_empty() {
            s.push_str(&format!(
                "\t\t{fam} daddr {} meta l4proto {{ tcp, udp }} th dport 53 accept comment \"DNS resolver\"\n",
                set(&list)
            ));
        }
    }
    for (fam, list) in [
        ("ip", FirmwareInput::v4(&i.ntp)),
        ("ip6", FirmwareInput::v6(&i.ntp)),
    ] {
        if !list.is_empty() {
            s.push_str(&format!(
                "\t\t{fam} daddr {} udp dport 123 accept comment \"NTP\"\n",
                set(&list)
            ));
        }
    }
    if let Some(p) = i.update_proxy {
        let fam = if p.is_ipv4() { "ip" } else { "ip6" };
        s.push_str(&format!(
            "\t\t{fam} daddr {} tcp dport {} accept comment \"security updates (proxy)\"\n",
            p.ip(),
            p.port()
        ));
    }
    s.push_str("\t\tudp sport 68 udp dport 67 accept comment \"DHCPv4\"\n");
    if v6 {
        s.push_str(
            "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept comment \"IPv6 neighbour discovery\"\n\
             \t\tudp sport 546 udp dport 547 accept comment \"DHCPv6\"\n",
        );
    }
    s.push_str("\t}\n}\n");
    s
}

/// Where the kiosk's compositor is installed (Debian's `cage`).
pub const CAGE_BIN: &str = "/usr/bin/cage";

/// How a unit's sandbox differs between the headless agent and the kiosk.
struct Sandbox<'a> {
    /// `DeviceAllow=` lines (after `DevicePolicy=closed`).
    devices: &'a [String],
    /// `RestrictAddressFamilies=`.
    families: &'a str,
    /// `MemoryDenyWriteExecute=yes` (the kiosk cannot: see [`render_kiosk_unit`]).
    deny_write_execute: bool,
    /// System calls allowed again after the `~@privileged @resources` deny list
    /// (empty: none; the kiosk's are explained at [`render_kiosk_unit`]).
    allow_again: &'a str,
}

/// The `[Service]` lines both units share: a dedicated user, pinned to the relay, with
/// everything `systemd-analyze security` measures locked down that they do not need.
fn sandbox(i: &FirmwareInput, s: &Sandbox<'_>) -> String {
    let allow = i
        .relay_ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let devices: String = s
        .devices
        .iter()
        .map(|d| format!("DeviceAllow={d}\n"))
        .collect();
    format!(
        "Environment=SHINSEI_AGENT_DATA={data}\n\
Environment=SHINSEI_RELAY_ADDR={pin}\n\
User={user}\n\
Group={user}\n\
StateDirectory=shinsei-agent\n\
StateDirectoryMode=0700\n\
UMask=0077\n\
# Privileges\n\
NoNewPrivileges=yes\n\
CapabilityBoundingSet=\n\
AmbientCapabilities=\n\
PrivateUsers=yes\n\
RestrictSUIDSGID=yes\n\
RemoveIPC=yes\n\
KeyringMode=private\n\
LimitCORE=0\n\
# File system\n\
ProtectSystem=strict\n\
ProtectHome=yes\n\
PrivateTmp=yes\n\
PrivateMounts=yes\n\
PrivateIPC=yes\n\
ProtectProc=invisible\n\
ProcSubset=pid\n\
ProtectKernelTunables=yes\n\
ProtectKernelModules=yes\n\
ProtectKernelLogs=yes\n\
ProtectControlGroups=yes\n\
ProtectClock=yes\n\
ProtectHostname=yes\n\
# Devices\n\
DevicePolicy=closed\n\
{devices}\
# Network: the relay only\n\
RestrictAddressFamilies={families}\n\
IPAddressDeny=any\n\
IPAddressAllow={allow}\n\
SocketBindDeny=any\n\
# Kernel interfaces\n\
RestrictNamespaces=yes\n\
RestrictRealtime=yes\n\
LockPersonality=yes\n\
MemoryDenyWriteExecute={mdwe}\n\
SystemCallArchitectures=native\n\
SystemCallFilter=@system-service\n\
SystemCallFilter=~@privileged @resources\n\
{allow_again}\
SystemCallErrorNumber=EPERM\n",
        data = AGENT_DATA_DIR,
        pin = i.pinned_relay_addr(),
        user = AGENT_USER,
        families = s.families,
        mdwe = if s.deny_write_execute { "yes" } else { "no" },
        allow_again = if s.allow_again.is_empty() {
            String::new()
        } else {
            format!("SystemCallFilter={}\n", s.allow_again)
        },
    )
}

/// The agent's systemd unit for a tablet without a screen session (`shinsei-agent
/// run`): the camera is its only device. On a kiosk tablet [`render_kiosk_unit`] runs
/// instead (the kiosk contains the agent); the two conflict.
pub fn render_agent_unit(i: &FirmwareInput) -> String {
    format!(
        "{header}\n\
[Unit]\n\
Description=shinsei agent (My Number card application tablet)\n\
Wants=network-online.target\n\
After=network-online.target nftables.service\n\
Conflicts=shinsei-kiosk.service\n\
\n\
[Service]\n\
Type=exec\n\
ExecStart={bin} run\n\
Restart=on-failure\n\
RestartSec=5\n\
{sandbox}\
\n\
[Install]\n\
WantedBy=multi-user.target\n",
        header = i.header("#", "systemd unit of the agent"),
        bin = i.agent_bin,
        sandbox = sandbox(
            i,
            &Sandbox {
                devices: &[format!("{} rw", i.camera)],
                families: "AF_INET AF_INET6 AF_UNIX",
                deny_write_execute: true,
                allow_again: "",
            }
        ),
    )
}

/// The kiosk's systemd unit: Debian's `cage` (a Wayland compositor that shows one
/// application full screen, no desktop, no VT switching unless asked with `-s`) running
/// `shinsei-agent ui` as its only client, as the agent's user, in the agent's sandbox
/// plus what a screen needs:
///
/// - **the seat** from Debian's `seatd` (`LIBSEAT_BACKEND=seatd`): it runs as root,
///   takes the virtual terminal into graphics mode, and hands the display and input
///   devices to members of the agent's group only ([`render_seatd_dropin`]). The
///   kiosk never opens them itself (bookworm's libseat 0.7 `noop` backend, which would
///   let it, never activates the session: tried in the boot test);
/// - **devices**: the camera, the GPU's render nodes (`char-drm`, given to the agent's
///   user by [`render_display_rule`]) for hardware-accelerated drawing, and the sound
///   devices (`char-alsa`, given to the agent's user by the same rule) for the
///   applicant's audio guidance in headphones;
/// - **`WLR_RENDERER=pixman`**: cage composes on the CPU. Its only work is to show
///   one full-screen client (the kiosk draws itself, with the GPU where there is
///   one), and cage's GLES2 renderer needs a GPU with a render node, which a plain
///   framebuffer display (the boot test's virtual screen) does not have;
/// - **`AF_NETLINK`**: the compositor follows udev for screens and input plugged in;
/// - **`MemoryDenyWriteExecute=no`**: Mesa's software renderer (llvmpipe, used when
///   there is no GPU driver, as in the boot test's virtual machine) and several GPU
///   drivers compile shaders to machine code at run time, which needs writable and
///   executable memory.
/// - **`setuid` and `setgid`** allowed again after `~@privileged`: XWayland compiles
///   its keymap by starting `xkbcomp`, and the X server's child calls
///   `setgid(getgid())` and `setuid(getuid())` before it runs anything (a habit from
///   set-uid X servers). Denied, the child exits 127 and XWayland stops with
///   "XKB: Failed to compile keymap" (found by the boot test). Without capabilities
///   (`CapabilityBoundingSet=` empty, `NoNewPrivileges=yes`) these calls can only set
///   the IDs the process already has.
///
/// These two are the only settings of the agent's unit the kiosk does not keep.
///
/// The kiosk (eframe, built for X11) runs under cage's XWayland, which cage starts on
/// demand inside the same sandbox. A crash ends cage (its only client is gone) and
/// systemd starts it again after 2 s, on the login screen; the kiosk locks itself
/// when idle (device policy).
pub fn render_kiosk_unit(i: &FirmwareInput) -> String {
    let camera = i
        .camera
        .strip_prefix("/dev/video")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map(|n| format!(" --camera {n}"))
        .unwrap_or_default();
    format!(
        "{header}\n\
[Unit]\n\
Description=shinsei kiosk: the counter UI full screen (cage running shinsei-agent ui)\n\
Wants=network-online.target\n\
Requires=seatd.service\n\
After=network-online.target nftables.service systemd-udev-trigger.service seatd.service\n\
Conflicts=shinsei-agent.service getty@tty1.service display-manager.service\n\
StartLimitIntervalSec=0\n\
\n\
[Service]\n\
Type=exec\n\
ExecStart={cage} -- {bin} ui{camera}\n\
Restart=always\n\
RestartSec=2\n\
RuntimeDirectory=shinsei-kiosk\n\
RuntimeDirectoryMode=0700\n\
Environment=XDG_RUNTIME_DIR=/run/shinsei-kiosk\n\
Environment=LIBSEAT_BACKEND=seatd\n\
Environment=WLR_RENDERER=pixman\n\
{sandbox}\
\n\
[Install]\n\
WantedBy=shinsei-kiosk.target\n",
        header = i.header("#", "systemd unit of the kiosk"),
        cage = CAGE_BIN,
        bin = i.agent_bin,
        sandbox = sandbox(
            i,
            &Sandbox {
                devices: &[
                    format!("{} rw", i.camera),
                    "char-drm rw".into(),
                    "char-alsa rw".into(),
                ],
                families: "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
                deny_write_execute: false,
                allow_again: "setuid setgid",
            }
        ),
    )
}

/// The kiosk session: the default target of the tablet. It starts the firewall, the
/// network, time synchronisation, security updates, the malware scanner and the agent,
/// and nothing that gives a login: no getty, no display manager, no SSH, no rescue shell.
/// `systemd-logind` runs for the power button ([`render_logind`]: a press powers the
/// tablet off cleanly; it starts no getty and reserves no VT); the kiosk's seat comes
/// from seatd, not from logind.
pub fn render_kiosk_target(i: &FirmwareInput) -> String {
    format!(
        "{header}\n\
[Unit]\n\
Description=shinsei kiosk session: the kiosk and nothing else\n\
Requires=basic.target\n\
Wants=nftables.service NetworkManager.service systemd-timesyncd.service systemd-logind.service shinsei-kiosk.service\n\
Wants=unattended-upgrades.service clamav-freshclam.service clamav-daemon.service\n\
After=basic.target nftables.service NetworkManager.service\n\
Conflicts=getty@tty1.service serial-getty@ttyS0.service autovt@tty2.service display-manager.service ssh.service rescue.service rescue.target emergency.service\n\
AllowIsolate=yes\n",
        header = i.header("#", "kiosk target"),
    )
}

/// The agent's system user (systemd-sysusers).
pub fn render_sysusers(i: &FirmwareInput) -> String {
    format!(
        "{header}u {user} - \"shinsei agent\" {data} /usr/sbin/nologin\n",
        header = i.header("#", "system user of the agent"),
        user = AGENT_USER,
        data = AGENT_DATA_DIR,
    )
}

/// udev rule: the camera belongs to the agent's user, mode 0600, so no other user or
/// program on the tablet can open it (and `PrivateUsers=` still lets the agent in).
pub fn render_camera_rule(i: &FirmwareInput) -> String {
    let matcher = match i.camera.strip_prefix("/dev/") {
        Some(k) if k.starts_with("video") => format!("KERNEL==\"{k}\""),
        Some(link) => format!("SYMLINK==\"{link}\""),
        None => String::from("KERNEL==\"video0\""),
    };
    format!(
        "{header}SUBSYSTEM==\"video4linux\", {matcher}, OWNER=\"{user}\", GROUP=\"{user}\", MODE=\"0600\"\n",
        header = i.header("#", "camera ownership"),
        user = AGENT_USER,
    )
}

/// udev rule: the GPU's render nodes and the sound devices belong to the agent's user,
/// mode 0600, so the kiosk can draw with the GPU and speak the audio guidance
/// ([`render_kiosk_unit`]) and no other program can.
pub fn render_display_rule(i: &FirmwareInput) -> String {
    format!(
        "{header}SUBSYSTEM==\"drm\", KERNEL==\"renderD[0-9]*\", OWNER=\"{user}\", GROUP=\"{user}\", MODE=\"0600\"\n\
         SUBSYSTEM==\"sound\", KERNEL==\"pcmC*|controlC*\", OWNER=\"{user}\", GROUP=\"{user}\", MODE=\"0600\"\n",
        header = i.header("#", "GPU render node ownership"),
        user = AGENT_USER,
    )
}

/// Drop-in for Debian's `seatd.service`: the seat (display, input devices, virtual
/// terminal) is handed only to the agent's group, not to `video` as Debian's default.
pub fn render_seatd_dropin(i: &FirmwareInput) -> String {
    format!(
        "{header}[Service]\nExecStart=\nExecStart=/usr/sbin/seatd -g {user}\n",
        header = i.header("#", "seatd drop-in"),
        user = AGENT_USER,
    )
}

/// logind drop-in: no virtual-terminal logins at all.
pub fn render_logind(i: &FirmwareInput) -> String {
    format!(
        "{header}[Login]\nNAutoVTs=0\nReserveVT=0\nHandlePowerKey=poweroff\n",
        header = i.header("#", "logind drop-in"),
    )
}

/// systemd-timesyncd drop-in (only with NTP servers).
pub fn render_timesyncd(i: &FirmwareInput) -> Option<String> {
    if i.ntp.is_empty() {
        return None;
    }
    let list = i
        .ntp
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        "{header}[Time]\nNTP={list}\nFallbackNTP=\n",
        header = i.header("#", "timesyncd drop-in"),
    ))
}

/// apt proxy configuration (only with an update proxy).
pub fn render_apt_proxy(i: &FirmwareInput) -> Option<String> {
    let p = i.update_proxy?;
    Some(format!(
        "{header}Acquire::http::Proxy \"http://{p}/\";\nAcquire::https::Proxy \"http://{p}/\";\n",
        header = i.header("//", "apt proxy"),
    ))
}

/// A stable connection UUID derived from the device ID and the SSID (so re-rendering
/// gives the same file).
fn wifi_uuid(device: &DeviceId, ssid: &Ssid) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("shinsei-wifi\0{}\0{}", device.as_str(), ssid.as_str()).as_bytes(),
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 (name-based, SHA)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// NetworkManager keyfile for the hidden SSID. Holds the password: written 0600.
pub fn render_wifi(i: &FirmwareInput, w: &WifiConfig) -> Zeroizing<String> {
    let security = match w.security {
        WifiSecurity::Wpa3 => "key-mgmt=sae\npmf=3\n",
        WifiSecurity::Wpa2 => "key-mgmt=wpa-psk\nproto=rsn\npairwise=ccmp\ngroup=ccmp\npmf=2\n",
    };
    let dns4: String = FirmwareInput::v4(&i.dns)
        .iter()
        .map(|d| format!("{d};"))
        .collect();
    let dns6: String = FirmwareInput::v6(&i.dns)
        .iter()
        .map(|d| format!("{d};"))
        .collect();
    let mut s = Zeroizing::new(String::with_capacity(1024));
    s.push_str(&i.header("#", "NetworkManager Wi-Fi profile"));
    s.push_str(
        "# Contains the Wi-Fi password: keep it mode 0600, owned by root; never commit it.\n",
    );
    s.push_str(&format!(
        "\n[connection]\nid=shinsei-wifi\nuuid={uuid}\ntype=wifi\nautoconnect=true\nautoconnect-priority=100\n\
         \n[wifi]\nmode=infrastructure\nssid={ssid}\nhidden=true\n\
         \n[wifi-security]\n{security}psk=",
        uuid = wifi_uuid(&i.device_id, &w.ssid),
        ssid = w.ssid.as_str(),
    ));
    s.push_str(&w.password.0);
    s.push_str("\n\n[ipv4]\nmethod=auto\nignore-auto-dns=true\n");
    if !dns4.is_empty() {
        s.push_str(&format!("dns={dns4}\n"));
    }
    if i.uses_ipv6() {
        s.push_str("\n[ipv6]\nmethod=auto\naddr-gen-mode=stable-privacy\nignore-auto-dns=true\n");
        if !dns6.is_empty() {
            s.push_str(&format!("dns={dns6}\n"));
        }
    } else {
        s.push_str("\n[ipv6]\nmethod=disabled\n");
    }
    s
}

/// Renders every file (the Wi-Fi profile only when a network is configured).
pub fn render(i: &FirmwareInput) -> Vec<RenderedFile> {
    let f = |name, install_path, contents: String| RenderedFile {
        name,
        install_path,
        secret: false,
        contents: Zeroizing::new(contents),
    };
    let mut v = vec![
        f("nftables.conf", "/etc/nftables.conf", render_nftables(i)),
        f(
            "shinsei-agent.service",
            "/etc/systemd/system/shinsei-agent.service",
            render_agent_unit(i),
        ),
        f(
            "shinsei-kiosk.service",
            "/etc/systemd/system/shinsei-kiosk.service",
            render_kiosk_unit(i),
        ),
        f(
            "shinsei-kiosk.target",
            "/etc/systemd/system/shinsei-kiosk.target",
            render_kiosk_target(i),
        ),
        f(
            "shinsei-agent.sysusers.conf",
            "/etc/sysusers.d/shinsei-agent.conf",
            render_sysusers(i),
        ),
        f(
            "70-shinsei-camera.rules",
            "/etc/udev/rules.d/70-shinsei-camera.rules",
            render_camera_rule(i),
        ),
        f(
            "71-shinsei-display.rules",
            "/etc/udev/rules.d/71-shinsei-display.rules",
            render_display_rule(i),
        ),
        f(
            "seatd-kiosk.conf",
            "/etc/systemd/system/seatd.service.d/shinsei-kiosk.conf",
            render_seatd_dropin(i),
        ),
        f(
            "logind-kiosk.conf",
            "/etc/systemd/logind.conf.d/shinsei-kiosk.conf",
            render_logind(i),
        ),
    ];
    if let Some(t) = render_timesyncd(i) {
        v.push(f(
            "timesyncd.conf",
            "/etc/systemd/timesyncd.conf.d/shinsei.conf",
            t,
        ));
    }
    if let Some(a) = render_apt_proxy(i) {
        v.push(f(
            "apt-proxy.conf",
            "/etc/apt/apt.conf.d/90shinsei-proxy",
            a,
        ));
    }
    if let Some(w) = &i.wifi {
        v.push(RenderedFile {
            name: WIFI_FILE,
            install_path: "/etc/NetworkManager/system-connections/shinsei-wifi.nmconnection",
            secret: true,
            contents: render_wifi(i, w),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn input(relay_ips: &[&str]) -> FirmwareInput {
        FirmwareInput {
            device_id: DeviceId::parse("TAB-0001").unwrap(),
            relay_host: "relay.ward.example".into(),
            relay_port: 8443,
            relay_ips: relay_ips.iter().map(|s| s.parse().unwrap()).collect(),
            dns: vec!["10.0.0.53".parse().unwrap()],
            ntp: vec![],
            update_proxy: None,
            wifi: None,
            agent_bin: DEFAULT_AGENT_BIN.into(),
            camera: DEFAULT_CAMERA.into(),
        }
    }

    #[test]
    fn ssid_rules() {
        for ok in [
            "ward-tablets",
            "A",
            "Shinsei Net 2",
            "a.b@c+d:e_f",
            &"x".repeat(32),
        ] {
            assert!(Ssid::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " lead",
            "trail ",
            "new\nline",
            "semi;colon",
            "back\\slash",
            "hash#",
            "quote\"",
            "percent%",
            "ｗｉｆｉ",
            &"x".repeat(33),
        ] {
            assert_eq!(Ssid::parse(bad), Err(FirmwareError::BadSsid), "{bad:?}");
        }
    }

    #[test]
    fn wifi_password_rules() {
        assert!(WifiPassword::parse("correct horse battery").is_ok());
        assert!(WifiPassword::parse("abc;def#ghi$%jk").is_ok());
        for bad in [
            "short-pass1",
            "line\nbreak-password",
            "back\\slash-password",
            " leading-space-pw",
            "trailing-space-pw ",
            "パスワードパスワード12",
            &"x".repeat(64),
        ] {
            assert!(WifiPassword::parse(bad).is_err(), "{bad:?}");
        }
        let p = WifiPassword::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn paths_and_cameras() {
        assert!(safe_path("x", "/usr/local/bin/shinsei-agent").is_ok());
        for bad in [
            "relative/bin",
            "/",
            "/usr//bin",
            "/usr/../bin",
            "/usr/bin/a b",
            "/usr/bin/a%n",
            "/usr/bin/a\nExecStartPre=/bin/sh",
        ] {
            assert!(safe_path("x", bad).is_err(), "{bad:?}");
        }
        for ok in [
            "/dev/video0",
            "/dev/video12",
            "/dev/v4l/by-id/usb-Logitech_Webcam_C270_2D5F-video-index0",
            "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:1:1.0-video-index0",
        ] {
            assert!(camera_device(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/dev/sda",
            "/dev/video",
            "/dev/videoX",
            "/dev/v4l/by-id/../../sda",
            "/dev/v4l/by-id/a b",
            "/dev/v4l/by-id/",
        ] {
            assert!(camera_device(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses_are_checked() {
        for bad in [
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(usable("x", bad.parse().unwrap()).is_err(), "{bad}");
        }
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            distinct("x", &[a, a]),
            Err(FirmwareError::DuplicateAddress { ip: a })
        );
    }

    #[test]
    fn nftables_is_default_drop_and_names_only_the_relay() {
        let i = input(&["10.77.1.10"]);
        let s = render_nftables(&i);
        assert_eq!(s.matches("policy drop;").count(), 3);
        assert!(!s.contains("policy accept"));
        assert!(s.contains("ip daddr { 10.77.1.10 } tcp dport 8443 accept"));
        assert!(s.contains("ip daddr { 10.0.0.53 } meta l4proto { tcp, udp } th dport 53 accept"));
        assert!(s.contains("udp sport 68 udp dport 67 accept"));
        // No IPv6 in use: no neighbour discovery, all IPv6 dropped.
        assert!(!s.contains("icmpv6"));
        assert!(!s.contains("ip6 daddr"));
        let s6 = render_nftables(&input(&["10.77.1.10", "2001:db8::10"]));
        assert!(s6.contains("ip6 daddr { 2001:db8::10 } tcp dport 8443 accept"));
        assert!(s6.contains("nd-neighbor-solicit"));
    }

    #[test]
    fn agent_unit_has_the_sandbox() {
        let i = input(&["10.77.1.10", "2001:db8::10"]);
        let u = render_agent_unit(&i);
        for line in [
            "User=shinsei-agent",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "MemoryDenyWriteExecute=yes",
            "IPAddressDeny=any",
            "IPAddressAllow=10.77.1.10 2001:db8::10",
            "DevicePolicy=closed",
            "DeviceAllow=/dev/video0 rw",
            "LimitCORE=0",
            "ExecStart=/usr/local/bin/shinsei-agent run",
            "Environment=SHINSEI_RELAY_ADDR=10.77.1.10:8443",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line}");
        }
        let i6 = input(&["2001:db8::10"]);
        assert!(render_agent_unit(&i6).contains("SHINSEI_RELAY_ADDR=[2001:db8::10]:8443"));
    }

    #[test]
    fn kiosk_unit_runs_the_ui_under_cage_in_the_agents_sandbox() {
        let i = input(&["10.77.1.10"]);
        let u = render_kiosk_unit(&i);
        let a = render_agent_unit(&i);
        for line in [
            "ExecStart=/usr/bin/cage -- /usr/local/bin/shinsei-agent ui --camera 0",
            "User=shinsei-agent",
            "Restart=always",
            "Conflicts=shinsei-agent.service getty@tty1.service display-manager.service",
            "DeviceAllow=/dev/video0 rw",
            "DeviceAllow=char-drm rw",
            "DeviceAllow=char-alsa rw",
            "Environment=LIBSEAT_BACKEND=seatd",
            "Environment=WLR_RENDERER=pixman",
            "Requires=seatd.service",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
            "MemoryDenyWriteExecute=no",
            "SystemCallFilter=setuid setgid",
            "Environment=SHINSEI_RELAY_ADDR=10.77.1.10:8443",
            "WantedBy=shinsei-kiosk.target",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line}");
        }
        // Everything else of the agent's sandbox is kept, line for line.
        let differs = [
            "DeviceAllow=",
            "RestrictAddressFamilies=",
            "MemoryDenyWriteExecute=",
            "SystemCallFilter=setuid setgid",
        ];
        let sandbox = |s: &str| -> Vec<String> {
            s.lines()
                .skip_while(|l| !l.starts_with("Environment=SHINSEI_AGENT_DATA"))
                .take_while(|l| !l.is_empty())
                .filter(|l| !differs.iter().any(|d| l.starts_with(d)))
                .map(str::to_owned)
                .collect()
        };
        assert!(sandbox(&a).len() > 30);
        assert!(
            !a.contains("SystemCallFilter=setuid"),
            "only the kiosk needs it"
        );
        assert_eq!(sandbox(&u), sandbox(&a));
        assert!(a.lines().any(|l| l == "Conflicts=shinsei-kiosk.service"));
        // A by-id camera path has no index: the kiosk is started without one.
        let mut j = input(&["10.77.1.10"]);
        j.camera = "/dev/v4l/by-id/usb-cam-video-index0".into();
        assert!(render_kiosk_unit(&j)
            .lines()
            .any(|l| l == "ExecStart=/usr/bin/cage -- /usr/local/bin/shinsei-agent ui"));
        let t = render_kiosk_target(&i);
        assert!(t.contains("shinsei-kiosk.service") && !t.contains("shinsei-agent.service"));
        let r = render_display_rule(&i);
        assert!(r.contains("KERNEL==\"renderD[0-9]*\"") && !r.contains("input"));
        // The sound devices (audio guidance) go to the agent's user only.
        assert!(r.lines().any(|l| l.starts_with("SUBSYSTEM==\"sound\"")
            && l.contains("OWNER=\"shinsei-agent\"")
            && l.contains("MODE=\"0600\"")));
        assert!(render_seatd_dropin(&i)
            .lines()
            .any(|l| l == "ExecStart=/usr/sbin/seatd -g shinsei-agent"));
    }

    #[test]
    fn wifi_profile() {
        let mut i = input(&["10.77.1.10"]);
        i.wifi = Some(WifiConfig {
            ssid: Ssid::parse("ward-tablets").unwrap(),
            password: WifiPassword::parse("correct horse battery").unwrap(),
            security: WifiSecurity::Wpa3,
        });
        let files = render(&i);
        let w = files.iter().find(|f| f.name == WIFI_FILE).unwrap();
        assert!(w.secret);
        assert!(files.iter().filter(|f| f.secret).count() == 1);
        let s = w.contents.as_str();
        for line in [
            "ssid=ward-tablets",
            "hidden=true",
            "key-mgmt=sae",
            "pmf=3",
            "psk=correct horse battery",
            "ignore-auto-dns=true",
            "dns=10.0.0.53;",
            "method=disabled",
        ] {
            assert!(s.lines().any(|l| l == line), "missing {line}");
        }
        // Deterministic UUID, version 5.
        let u = wifi_uuid(&i.device_id, &Ssid::parse("ward-tablets").unwrap());
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "5");
        // The password appears in no other file.
        assert!(files
            .iter()
            .filter(|f| !f.secret)
            .all(|f| !f.contents.contains("horse")));
    }

    #[test]
    fn optional_files() {
        let mut i = input(&["10.77.1.10"]);
        assert_eq!(render(&i).len(), 9);
        i.ntp = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 123))];
        i.update_proxy = Some("10.0.0.80:3142".parse().unwrap());
        let files = render(&i);
        assert_eq!(files.len(), 11);
        let nft = render_nftables(&i);
        assert!(nft.contains("ip daddr { 10.0.0.123 } udp dport 123 accept"));
        assert!(nft.contains("ip daddr 10.0.0.80 tcp dport 3142 accept"));
        assert!(render_timesyncd(&i).unwrap().contains("NTP=10.0.0.123\n"));
        assert!(render_apt_proxy(&i)
            .unwrap()
            .contains("Acquire::http::Proxy \"http://10.0.0.80:3142/\";"));
    }

    #[test]
    fn camera_rule() {
        let mut i = input(&["10.77.1.10"]);
        assert!(render_camera_rule(&i).contains(
            "SUBSYSTEM==\"video4linux\", KERNEL==\"video0\", OWNER=\"shinsei-agent\", GROUP=\"shinsei-agent\", MODE=\"0600\""
        ));
        i.camera = "/dev/v4l/by-id/usb-cam-video-index0".into();
        assert!(render_camera_rule(&i).contains("SYMLINK==\"v4l/by-id/usb-cam-video-index0\""));
    }
}
