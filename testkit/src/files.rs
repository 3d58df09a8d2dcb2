//! Raw-file scans: every byte below a directory, substring search.

use std::path::{Path, PathBuf};

/// Every file below `dir` (recursively) with its bytes; unreadable entries are skipped.
pub fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_below(dir)
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// Every regular file below `dir` (recursively).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return v;
    };
    for e in rd.flatten() {
        let path = e.path();
        if path.is_dir() {
            v.extend(files_below(&path));
        } else if path.is_file() {
            v.push(path);
        }
    }
    v
}

/// The names of the entries of `dir`, sorted (panics if it cannot be read).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Does `hay` contain `needle`? (An empty needle is never found.)
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(hay, needle).is_some()
}

/// Every offset at which `needle` starts in `hay` (overlapping ones too).
pub fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    // (memmem's own iterator skips overlapping occurrences.)
    let finder = memchr::memmem::Finder::new(needle);
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = hay.get(at..).and_then(|rest| finder.find(rest)) {
        found.push(at + i);
        at += i + 1;
    }
    found
}

/// The subdirectories of `dir` whose names do not start with a dot, sorted (the
/// envelope directories of a spool).
pub fn visible_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
