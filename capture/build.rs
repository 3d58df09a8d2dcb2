//! Locates the SeetaFace frontal face-detection model that ships inside the `rustface`
//! crate (BSD-2-Clause, `model/seeta_fd_frontal_v1.0.bin`) so that
//! `capture/src/face.rs` can embed it with `include_bytes!`. Nothing is downloaded:
//! the file comes with the crate source that cargo already fetched.
//!
//! Order: `SHINSEI_SEETA_MODEL` (explicit path), then `cargo metadata` (works with
//! vendored sources and any `CARGO_HOME`), then `$CARGO_HOME/registry/src/*/rustface-*`.

use std::path::{Path, PathBuf};
use std::process::Command;

const MODEL: &str = "model/seeta_fd_frontal_v1.0.bin";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SHINSEI_SEETA_MODEL");
    let path = explicit()
        .or_else(from_metadata)
        .or_else(from_cargo_home)
        .unwrap_or_else(|| {
            // A build script has no other way to report a fatal error.
            #[allow(clippy::panic)]
            {
                panic!(
                    "cannot find rustface's {MODEL}: set SHINSEI_SEETA_MODEL to its path \
                     (it ships inside the rustface crate source)"
                )
            }
        });
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rustc-env=SHINSEI_SEETA_MODEL={}", path.display());
}

fn explicit() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("SHINSEI_SEETA_MODEL")?);
    p.is_file().then_some(p)
}

/// `cargo metadata` lists every package's `manifest_path`; pick rustface's.
fn from_metadata() -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--offline"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let json = String::from_utf8(out.stdout).ok()?;
    // Minimal scan (no JSON dependency in the build script): every package object has
    // "manifest_path":"…/rustface-X.Y.Z/Cargo.toml".
    for piece in json.split("\"manifest_path\":\"").skip(1) {
        let end = piece.find('"')?;
        let manifest = Path::new(&piece[..end]);
        let dir = manifest.parent()?;
        let name = dir.file_name()?.to_str()?;
        if name.starts_with("rustface-") || name == "rustface" {
            let model = dir.join(MODEL);
            if model.is_file() {
                return Some(model);
            }
        }
    }
    None
}

fn from_cargo_home() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let src = home.join("registry").join("src");
    let mut found = Vec::new();
    for index in std::fs::read_dir(src).ok()?.flatten() {
        for pkg in std::fs::read_dir(index.path()).ok()?.flatten() {
            let name = pkg.file_name();
            if name.to_string_lossy().starts_with("rustface-0.1.") {
                let model = pkg.path().join(MODEL);
                if model.is_file() {
                    found.push(model);
                }
            }
        }
    }
    found.sort();
    found.pop()
}
