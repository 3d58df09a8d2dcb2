//! The spool-directory upstream: one directory per application, `<spool>/<envelope_id>/`
//! `application.json` and `photo.jpg` (0600), written in `.tmp-*`, fsynced, renamed,
//! parent fsynced. Put the spool on tmpfs: its files are plaintext (see README,
//! "Erasure").

use std::{
    fmt::Write as _,
    fs,
    io::Write as _,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use shinsei_protocol::{
    application::{Application, BrailleWish, CertificateWish},
    envelope::EnvelopeId,
};
use zeroize::Zeroizing;

use super::{Delivery, Upstream, UpstreamError};

/// One directory per application: `<spool>/<envelope_id>/application.json` and
/// `photo.jpg`, written atomically (temporary directory, fsync, rename, fsync).
#[derive(Debug, Clone)]
pub struct SpoolUpstream {
    dir: PathBuf,
}

/// The only file names in a spool entry.
pub const SPOOL_FILES: [&str; 2] = ["application.json", "photo.jpg"];

fn io_err(what: &str, p: &Path, e: std::io::Error) -> UpstreamError {
    UpstreamError(format!("{what} {}: {e}", p.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), UpstreamError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("create", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err("write", path, e))
}

fn sync_dir(p: &Path) -> Result<(), UpstreamError> {
    fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("fsync", p, e))
}

/// `application.json` of a spool entry, in a zeroizing buffer. Every value is digits,
/// `A-Z0-9` or a fixed word, so no escaping is needed.
pub fn application_json(app: &Application, received_at: u64) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(512));
    let yes = |b: bool| if b { "true" } else { "false" };
    let _ = write!(
        s,
        "{{\"application_id\":\"{}\",\"profile\":\"{}\",\"e_certificate\":{},\"braille\":{}",
        app.id().as_str(),
        app.profile().as_str(),
        yes(app.certificate_wish() == CertificateWish::Yes),
        yes(app.braille_wish() == BrailleWish::Yes),
    );
    if let Some(p) = app.pins() {
        s.push_str(",\"pins\":{");
        // The e-certificates' two secrets only when the applicant wants them.
        if let (Some(sig), Some(user)) = (p.signature_password(), p.user_certificate()) {
            s.push_str("\"signature_password\":\"");
            s.push_str(std::str::from_utf8(sig.as_bytes()).unwrap_or(""));
            s.push_str("\",\"user_certificate\":\"");
            s.push_str(std::str::from_utf8(user.as_bytes()).unwrap_or(""));
            s.push_str("\",");
        }
        s.push_str("\"resident_registry\":\"");
        s.push_str(std::str::from_utf8(p.resident_registry().as_bytes()).unwrap_or(""));
        s.push_str("\",\"card_info\":\"");
        s.push_str(std::str::from_utf8(p.card_info().as_bytes()).unwrap_or(""));
        s.push_str("\"}");
    }
    let _ = write!(s, ",\"received_at\":{received_at}}}");
    s
}

impl SpoolUpstream {
    /// Creates the spool directory (0700) if needed and removes temporary directories
    /// left by an interrupted write.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, UpstreamError> {
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io_err("create", &dir, e))?;
        let entries = fs::read_dir(&dir).map_err(|e| io_err("read", &dir, e))?;
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(".tmp-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of one application.
    pub fn entry_dir(&self, id: &EnvelopeId) -> PathBuf {
        self.dir.join(id.to_hex())
    }
}

impl Upstream for SpoolUpstream {
    fn deliver(&self, d: &Delivery<'_>) -> Result<(), UpstreamError> {
        let final_dir = self.entry_dir(&d.envelope_id);
        if final_dir.join(SPOOL_FILES[0]).exists() {
            return Ok(()); // delivered before
        }
        let mut nonce = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| UpstreamError("random number generator failed".into()))?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}",
            d.envelope_id.to_hex(),
            hex::encode(nonce)
        ));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(|e| io_err("create", &tmp, e))?;
        let result = (|| {
            let json = application_json(d.application, d.received_at);
            write_synced(&tmp.join(SPOOL_FILES[0]), json.as_bytes())?;
            write_synced(&tmp.join(SPOOL_FILES[1]), d.application.photo().as_bytes())?;
            sync_dir(&tmp)?;
            match fs::rename(&tmp, &final_dir) {
                Ok(()) => {}
                // Someone else completed it (or a stale empty dir): keep theirs.
                Err(_) if final_dir.join(SPOOL_FILES[0]).exists() => {
                    let _ = fs::remove_dir_all(&tmp);
                }
                Err(e) => return Err(io_err("rename", &tmp, e)),
            }
            sync_dir(&self.dir)
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    fn local_copies(&self) -> Result<Vec<EnvelopeId>, UpstreamError> {
        let rd = fs::read_dir(&self.dir).map_err(|e| io_err("read", &self.dir, e))?;
        let mut v = Vec::new();
        for e in rd {
            let e = e.map_err(|e| io_err("read", &self.dir, e))?;
            if let Some(id) = EnvelopeId::from_hex(&e.file_name().to_string_lossy()) {
                v.push(id);
            }
        }
        Ok(v)
    }

    fn forget(&self, id: &EnvelopeId) -> Result<(), UpstreamError> {
        let p = self.entry_dir(id);
        match fs::remove_dir_all(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &p, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shinsei_protocol::application::ApplicationId;
    use shinsei_protocol::photo::FacePhoto;
    use shinsei_protocol::pins::ExpressPins;

    fn photo() -> FacePhoto {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../protocol/tests/fixtures/baseline.jpg"
        );
        FacePhoto::from_jpeg(Zeroizing::new(std::fs::read(p).unwrap_or_default()))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// Issue 16: without e-certificates the spool gets the two PINs that apply only.
    #[test]
    fn spooled_express_pins_follow_the_e_certificate_wish() {
        let id =
            || ApplicationId::parse(b"12345678901234567890123").unwrap_or_else(|e| panic!("{e}"));
        let with = Application::express(
            id(),
            photo(),
            CertificateWish::Yes,
            BrailleWish::No,
            ExpressPins::new(b"ABC123", b"1111", b"2222", b"3333")
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let j = application_json(&with, 1);
        assert!(j.contains("\"signature_password\":\"ABC123\",\"user_certificate\":\"1111\","));
        assert!(j.contains("\"resident_registry\":\"2222\",\"card_info\":\"3333\""));
        let without = Application::express(
            id(),
            photo(),
            CertificateWish::No,
            BrailleWish::No,
            ExpressPins::without_certificates(b"2222", b"3333").unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let j = application_json(&without, 1);
        assert!(
            !j.contains("signature_password") && !j.contains("user_certificate"),
            "{}",
            *j
        );
        let v: serde_json::Value = serde_json::from_str(&j).unwrap_or_default();
        assert_eq!(v["pins"]["card_info"], "3333");
        assert_eq!(v["e_certificate"], false);
    }
}
