//! The file side of the firmware files: reading a verified device bundle and writing
//! the rendered files (new files only, the Wi-Fi profile 0600, never inside a git work
//! tree). Rendering itself is pure ([`mod@super::render`]).

use shinsei_protocol::bundle::DeviceBundle;

use super::render::RenderedFile;

/// Reads and verifies a device bundle (signature, chain to `root_der`, device
/// certificate valid at `now`): the firewall is only ever made from a genuine bundle.
pub fn load_bundle(
    path: &std::path::Path,
    root_der: &[u8],
    now: u64,
) -> crate::error::Result<DeviceBundle> {
    let bytes = shinsei_pki::files::read_limited(path)?;
    Ok(DeviceBundle::verify(&bytes, root_der, now)?)
}

/// The first directory at or above `dir` that holds a `.git` entry, if any.
pub fn enclosing_git_tree(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let abs = std::fs::canonicalize(dir).ok()?;
    abs.ancestors()
        .find(|a| a.join(".git").exists())
        .map(std::path::Path::to_path_buf)
}

/// Writes the rendered files into `out` (created 0700 if missing). Files are created new
/// (never overwritten); the Wi-Fi profile with mode 0600 from the start. A secret is
/// never written inside a git work tree.
pub fn write_rendered(out: &std::path::Path, files: &[RenderedFile]) -> crate::error::Result<()> {
    shinsei_pki::files::ensure_private_dir(out)?;
    if files.iter().any(|f| f.secret) {
        if let Some(repo) = enclosing_git_tree(out) {
            return Err(crate::error::ProvisionError::SecretInGitTree { repo });
        }
    }
    for f in files {
        let path = out.join(f.name);
        if path.exists() {
            return Err(crate::error::ProvisionError::already_exists(path));
        }
    }
    for f in files {
        shinsei_pki::files::write_new(&out.join(f.name), f.contents.as_bytes(), f.secret)?;
    }
    Ok(())
}
