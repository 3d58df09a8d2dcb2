//! `device sign` and `device sign-bulk`: a device's CSR becomes a signed device bundle.
//! The device's private key never leaves the tablet; only its CSR comes here.

use std::path::{Path, PathBuf};

use serde::Serialize;
use shinsei_protocol::{
    bundle::{DeviceBundle, Policy, Profile, RelayUrl},
    device::DeviceId,
    signed::summarize_cert,
};

use crate::{
    error::{ProvisionError, Result},
    pki,
};
use shinsei_pki::files;
use shinsei_pki::layout::{self, PkiLayout};

/// Default validity of a device certificate, in days.
pub const DEFAULT_DEVICE_DAYS: u32 = 30;

/// Options of `device sign`.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub profile: Profile,
    pub days: u32,
    /// An enrollment ticket (OU `shinsei device enrollment`): the tablet may only ask
    /// for its own certificate with it (see `renewal`).
    pub ticket: bool,
}

/// A signed bundle and facts about it.
#[derive(Debug, Clone)]
pub struct SignedBundle {
    /// The signed document (JSON), ready to copy to the tablet.
    pub bytes: Vec<u8>,
    pub device_id: DeviceId,
    pub serial_hex: String,
    pub not_after: i64,
}

#[derive(Serialize)]
struct IssuedRecord<'a> {
    device_id: &'a str,
    serial: &'a str,
    not_before: i64,
    not_after: i64,
    issued_at: u64,
    /// The bundle's operating profile (a renewal keeps it).
    profile: &'a str,
}

/// The profile of the last bundle issued for `device_id` (from the issued log), if
/// the log names one.
pub fn last_profile(l: &PkiLayout, device_id: &DeviceId) -> Option<Profile> {
    let text = std::fs::read_to_string(l.issued_log()).ok()?;
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["device_id"] == device_id.as_str())
        .find_map(|v| serde_json::from_value::<Profile>(v["profile"].clone()).ok())
}

/// The relay facts every bundle carries, loaded once (also for bulk signing).
struct RelayFacts {
    url: RelayUrl,
    deployment: layout::Deployment,
}

fn relay_facts(l: &PkiLayout) -> Result<RelayFacts> {
    let deployment = layout::load_deployment(l)?;
    let url = RelayUrl::parse(&deployment.relay_url)
        .map_err(|_| ProvisionError::BadHost(deployment.relay_url.clone()))?;
    // The host devices will connect to must be in the relay certificate.
    let tls = layout::read_cert_pem(&l.relay_tls_cert())?;
    let (_, cert) = <x509_parser::certificate::X509Certificate as x509_parser::prelude::FromDer<
        '_,
        x509_parser::error::X509Error,
    >>::from_der(tls.as_ref())
    .map_err(|_| ProvisionError::bad_pem(l.relay_tls_cert(), "relay certificate"))?;
    let in_san = matches!(cert.subject_alternative_name(), Ok(Some(san))
    if san.value.general_names.iter().any(|n| match n {
        x509_parser::extensions::GeneralName::DNSName(d) => d.eq_ignore_ascii_case(url.host()),
        x509_parser::extensions::GeneralName::IPAddress(ip) => {
            url.host().parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.octets() == *ip)
        }
        _ => false,
    }));
    if !in_san {
        return Err(ProvisionError::RelayHostNotInCert {
            host: url.host().to_owned(),
        });
    }
    Ok(RelayFacts { url, deployment })
}

/// The device CA, the pinned root and the relay facts, loaded once per run.
struct Signer {
    root_der: Vec<u8>,
    dca: pki::LoadedCa,
    relay: RelayFacts,
}

impl Signer {
    /// Needs the root certificate (not its key: the root stays offline) and the device CA.
    fn load(l: &PkiLayout, now: u64) -> Result<Self> {
        Ok(Self {
            root_der: pki::load_root_cert_only(l, now)?.to_vec(),
            dca: pki::load_device_ca(l, now)?,
            relay: relay_facts(l)?,
        })
    }

    fn sign(
        &self,
        l: &PkiLayout,
        csr_pem: &[u8],
        device_id: &DeviceId,
        o: &SignOptions,
        now: u64,
    ) -> Result<SignedBundle> {
        let (root_der, dca, relay) = (&self.root_der[..], &self.dca, &self.relay);
        sign_one(l, root_der, dca, relay, csr_pem, device_id, o, now)
    }
}

#[allow(clippy::too_many_arguments)]
fn sign_one(
    l: &PkiLayout,
    root_der: &[u8],
    dca: &pki::LoadedCa,
    relay: &RelayFacts,
    csr_pem: &[u8],
    device_id: &DeviceId,
    o: &SignOptions,
    now: u64,
) -> Result<SignedBundle> {
    let csr = pki::check_csr(csr_pem, device_id)?;
    let policy = Policy::for_profile(o.profile);
    policy
        .validate()
        .map_err(shinsei_protocol::bundle::BundleError::from)?;
    let cert = pki::issue_device_cert(dca, csr, device_id, o.days, o.ticket, now)?;
    let bundle = DeviceBundle {
        device_id: device_id.clone(),
        issued_at: now,
        device_cert_der: cert.to_vec(),
        device_ca_der: dca.cert_der.to_vec(),
        root_ca_der: root_der.to_vec(),
        relay_url: relay.url.clone(),
        relay_public_key: relay.deployment.hpke_public_key()?,
        receipt_public_key: relay.deployment.receipt_key()?,
        policy,
    };
    let bytes = bundle.sign(&dca.signing_key)?;
    // What the tablet will check, checked here first.
    DeviceBundle::verify(&bytes, root_der, now)?;
    let summary = summarize_cert(&cert).ok_or_else(|| {
        ProvisionError::bad_pem(l.device_cert(device_id.as_str()), "device certificate")
    })?;
    let serial_hex = hex::encode(&summary.serial);
    files::replace(
        &l.device_cert(device_id.as_str()),
        layout::cert_pem(&cert).as_bytes(),
        false,
    )?;
    append_issued(
        l,
        &IssuedRecord {
            device_id: device_id.as_str(),
            serial: &serial_hex,
            not_before: summary.not_before,
            not_after: summary.not_after,
            issued_at: now,
            profile: o.profile.as_str(),
        },
    )?;
    tracing::info!(device_id = %device_id, serial = %serial_hex, "device certificate issued");
    Ok(SignedBundle {
        bytes,
        device_id: device_id.clone(),
        serial_hex,
        not_after: summary.not_after,
    })
}

fn append_issued(l: &PkiLayout, r: &IssuedRecord<'_>) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = l.issued_log();
    files::ensure_private_dir(&l.devices_dir())?;
    let mut line = serde_json::to_vec(r).unwrap_or_default();
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(&path)
        .and_then(|mut f| f.write_all(&line))
        .map_err(|e| ProvisionError::io(&path, e))
}

/// Signs one CSR into a bundle (does not write the bundle; see [`sign_to_file`]).
pub fn sign_csr(
    l: &PkiLayout,
    csr_pem: &[u8],
    device_id: &DeviceId,
    o: &SignOptions,
    now: u64,
) -> Result<SignedBundle> {
    let signer = Signer::load(l, now)?;
    signer.sign(l, csr_pem, device_id, o, now)
}

/// `device sign`: reads the CSR, signs, writes the bundle to `out` (refuses to overwrite).
pub fn sign_to_file(
    l: &PkiLayout,
    csr_path: &Path,
    device_id: &DeviceId,
    o: &SignOptions,
    out: &Path,
    now: u64,
) -> Result<SignedBundle> {
    let csr = files::read_limited(csr_path)?;
    let b = sign_csr(l, &csr, device_id, o, now)?;
    files::write_new(out, &b.bytes, false)?;
    Ok(b)
}

/// The outcome of one CSR of a bulk run.
#[derive(Debug)]
pub struct BulkItem {
    pub csr: PathBuf,
    pub device_id: String,
    pub result: Result<PathBuf>,
}

/// `device sign-bulk`: signs every `*.csr.pem` of `dir` (device ID = file name before
/// `.csr.pem`), writing `<ID>.bundle.json` into `out_dir`. Calls `progress(i, n, item)`
/// after each CSR. Failures do not stop the run.
pub fn sign_bulk(
    l: &PkiLayout,
    dir: &Path,
    out_dir: &Path,
    o: &SignOptions,
    now: u64,
    mut progress: impl FnMut(usize, usize, &BulkItem),
) -> Result<Vec<BulkItem>> {
    let signer = Signer::load(l, now)?;
    let mut csrs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ProvisionError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".csr.pem"))
        })
        .collect();
    csrs.sort();
    if csrs.is_empty() {
        return Err(ProvisionError::NoCsrs {
            path: dir.to_owned(),
        });
    }
    let n = csrs.len();
    let mut items = Vec::with_capacity(n);
    for (i, csr) in csrs.into_iter().enumerate() {
        let name = csr
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".csr.pem"))
            .unwrap_or("")
            .to_owned();
        let result = (|| {
            let id = DeviceId::parse(&name)?;
            let pem = files::read_limited(&csr)?;
            let b = signer.sign(l, &pem, &id, o, now)?;
            let out = out_dir.join(format!("{}.bundle.json", id.as_str()));
            files::write_new(&out, &b.bytes, false)?;
            Ok(out)
        })();
        let item = BulkItem {
            csr,
            device_id: name,
            result,
        };
        progress(i + 1, n, &item);
        items.push(item);
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A renewal keeps the profile of the device's last bundle; an entry from before
    /// the field existed gives none (the signer then refuses rather than guess).
    #[test]
    fn the_last_profile_comes_from_the_issued_log() {
        let d = tempfile::tempdir().unwrap();
        let l = PkiLayout::new(d.path());
        let id = DeviceId::parse("TAB-0001").unwrap();
        assert_eq!(last_profile(&l, &id), None);
        std::fs::create_dir_all(l.devices_dir()).unwrap();
        std::fs::write(
            l.issued_log(),
            concat!(
                r#"{"device_id":"TAB-0001","serial":"01","not_before":0,"not_after":1,"issued_at":0}"#,
                "\n",
                r#"{"device_id":"TAB-0002","serial":"02","not_before":0,"not_after":1,"issued_at":0,"profile":"express"}"#,
                "\n"
            ),
        )
        .unwrap();
        assert_eq!(last_profile(&l, &id), None, "legacy entry: no profile");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(l.issued_log())
            .unwrap();
        std::io::Write::write_all(
            &mut f,
            b"{\"device_id\":\"TAB-0001\",\"serial\":\"03\",\"not_before\":0,\"not_after\":1,\"issued_at\":1,\"profile\":\"express\"}\n",
        )
        .unwrap();
        assert_eq!(last_profile(&l, &id), Some(Profile::Express));
        assert_eq!(
            last_profile(&l, &DeviceId::parse("TAB-0002").unwrap()),
            Some(Profile::Express)
        );
    }
}
