//! Small file helpers: atomic writes with a mode, overwrite-then-delete.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{AgentError, Result};

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename,
/// fsync the directory), created with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| AgentError::Internal(format!("no parent for {}", path.display())))?;
    // A bare file name's parent is "": the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| AgentError::file(&tmp, e))?;
        f.write_all(bytes).map_err(|e| AgentError::file(&tmp, e))?;
        f.sync_all().map_err(|e| AgentError::file(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| AgentError::file(path, e))?;
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AgentError::file(dir, e))
}

/// Overwrites a file with zeros (same length), syncs, then deletes it. Missing files are
/// fine. On flash storage overwriting is best effort: the real guarantee is that what is
/// erased this way are keys, without which the rest is ciphertext.
pub fn shred(path: &Path) -> Result<()> {
    let len = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AgentError::file(path, e)),
    };
    if let Ok(mut f) = OpenOptions::new().write(true).open(path) {
        let zeros = vec![0u8; 4096];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            if f.write_all(&zeros[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        let _ = f.sync_all();
    }
    fs::remove_file(path).map_err(|e| AgentError::file(path, e))
}

/// Replaces the content of a key file by `new` *in place* (same file, no rename, no
/// truncation when the length is unchanged) and syncs it, so that the old key's bytes
/// are overwritten rather than left in a freed block. Creates the file (0600) if it is
/// missing.
pub fn overwrite_key_in_place(path: &Path, new: &[u8]) -> Result<()> {
    match OpenOptions::new().write(true).open(path) {
        Ok(mut f) => {
            f.write_all(new).map_err(|e| AgentError::file(path, e))?;
            let len = f.metadata().map_err(|e| AgentError::file(path, e))?.len();
            if len != new.len() as u64 {
                f.set_len(new.len() as u64)
                    .map_err(|e| AgentError::file(path, e))?;
            }
            f.sync_all().map_err(|e| AgentError::file(path, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomic(path, new, 0o600),
        Err(e) => Err(AgentError::file(path, e)),
    }
}

/// Shreds every file below `dir`, then removes the tree.
pub fn shred_tree(dir: &Path) -> Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(AgentError::file(dir, e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| AgentError::file(dir, e))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(|e| AgentError::file(&p, e))?;
        if ft.is_dir() {
            shred_tree(&p)?;
        } else {
            shred(&p)?;
        }
    }
    fs::remove_dir(dir).map_err(|e| AgentError::file(dir, e))
}

/// Reads a random 32-byte key file, creating it (mode 0600) if absent.
pub fn load_or_create_key(path: &Path) -> Result<zeroize::Zeroizing<[u8; 32]>> {
    use ring::rand::SecureRandom;
    match fs::read(path) {
        Ok(b) => {
            let b = zeroize::Zeroizing::new(b);
            let arr: [u8; 32] = b[..].try_into().map_err(|_| {
                AgentError::Internal(format!("{} is not a 32-byte key", path.display()))
            })?;
            Ok(zeroize::Zeroizing::new(arr))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut k = zeroize::Zeroizing::new([0u8; 32]);
            ring::rand::SystemRandom::new()
                .fill(&mut k[..])
                .map_err(|_| AgentError::Internal("random number generator failed".into()))?;
            write_atomic(path, &k[..], 0o600)?;
            Ok(k)
        }
        Err(e) => Err(AgentError::file(path, e)),
    }
}
