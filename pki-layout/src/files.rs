//! File helpers: secrets are created with mode 0600 from the start (never chmod-ed
//! afterwards), replaced atomically, and read with a size limit.

use std::{
    fs::{self, DirBuilder, OpenOptions},
    io::{Read, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use zeroize::Zeroizing;

use crate::error::{PkiError, Result};

/// Largest file read by the tool (PEM, JSON, CSR, key files).
pub const MAX_FILE_LEN: u64 = 1024 * 1024;

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| PkiError::io(dir, e))
}

fn ensure_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => ensure_private_dir(p),
        _ => Ok(()),
    }
}

/// Writes a new file; refuses to overwrite. `secret` files get mode 0600, others 0644.
pub fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    ensure_parent(path)?;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                PkiError::io(path, e)
            }
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| PkiError::io(path, e))
}

/// Replaces (or creates) a file atomically: a temporary file with the final mode in the
/// same directory, then a rename.
pub fn replace(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    ensure_parent(path)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes, secret)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        PkiError::io(path, e)
    })
}

/// Reads a file of at most [`MAX_FILE_LEN`] bytes.
pub fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let f = fs::File::open(path).map_err(|e| PkiError::io(path, e))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| PkiError::io(path, e))?;
    if buf.len() as u64 > MAX_FILE_LEN {
        return Err(PkiError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, "file too large"),
        ));
    }
    Ok(buf)
}

/// Reads a secret file into a zeroizing buffer.
pub fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    read_limited(path).map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_and_no_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/secret.key");
        write_new(&p, b"x", true).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(p.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert!(matches!(
            write_new(&p, b"y", true),
            Err(PkiError::AlreadyExists { .. })
        ));
        replace(&p, b"z", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"z");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let q = d.path().join("pub.pem");
        write_new(&q, b"x", false).unwrap();
        assert_eq!(
            fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
}
