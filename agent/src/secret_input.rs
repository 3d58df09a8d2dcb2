//! Line input for passwords and PINs without leaving copies behind.
//!
//! `std::io::stdin()` reads through an 8 KiB buffer that lives for the whole process:
//! a password typed into it stays there. [`SecretLines`] instead reads byte by byte from
//! an unbuffered handle (a duplicate of file descriptor 0 for the real standard input)
//! straight into a [`LockedBuf`] (locked in RAM, cleared on drop). Nothing reads ahead,
//! so no later line is ever held by anyone else.
#![forbid(unsafe_code)]

use std::io::Read;

use zeroize::Zeroize;

use crate::memguard::LockedBuf;

/// Longest accepted line (a signature password is at most 16 characters; staff IDs
/// and passwords are far shorter than this).
pub const MAX_LINE: usize = 256;

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretInputError {
    /// End of input before a line.
    Missing,
    /// A line longer than [`MAX_LINE`] bytes.
    TooLong,
    /// The line is not UTF-8.
    NotUtf8,
    Io(String),
}

impl std::fmt::Display for SecretInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("入力がありません / no input"),
            Self::TooLong => write!(f, "入力が長すぎます / line longer than {MAX_LINE} bytes"),
            Self::NotUtf8 => f.write_str("文字コードが不正です / input is not UTF-8"),
            Self::Io(e) => write!(f, "入力エラー / input error: {e}"),
        }
    }
}

/// One line, without its line ending, in locked memory.
pub struct SecretLine(LockedBuf);

impl SecretLine {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    pub fn as_str(&self) -> Result<&str, SecretInputError> {
        std::str::from_utf8(self.0.as_slice()).map_err(|_| SecretInputError::NotUtf8)
    }
}

/// Reads lines one byte at a time from an unbuffered reader.
pub struct SecretLines<R> {
    inner: R,
}

impl SecretLines<std::fs::File> {
    /// The process's standard input, unbuffered (a duplicate of descriptor 0).
    pub fn stdin() -> Result<Self, SecretInputError> {
        use std::os::fd::AsFd;
        let fd = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| SecretInputError::Io(e.to_string()))?;
        Ok(Self {
            inner: std::fs::File::from(fd),
        })
    }
}

impl<R: Read> SecretLines<R> {
    pub fn new(inner: R) -> Self {
        Self { inner }
    }

    /// The next line (`\n` or `\r\n` ended, or the last line without an ending).
    pub fn next_line(&mut self) -> Result<SecretLine, SecretInputError> {
        let mut buf = LockedBuf::new(MAX_LINE + 2);
        let mut byte = [0u8; 1];
        let mut any = false;
        loop {
            match self.inner.read(&mut byte) {
                Ok(0) => {
                    if !any {
                        return Err(SecretInputError::Missing);
                    }
                    break;
                }
                Ok(_) => {
                    any = true;
                    if byte[0] == b'\n' {
                        break;
                    }
                    if buf.len() > MAX_LINE || buf.push(byte[0]).is_err() {
                        byte.zeroize();
                        return Err(SecretInputError::TooLong);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SecretInputError::Io(e.to_string())),
            }
        }
        byte.zeroize();
        if buf.as_slice().last() == Some(&b'\r') {
            buf.truncate(buf.len() - 1);
        }
        if buf.len() > MAX_LINE {
            return Err(SecretInputError::TooLong);
        }
        Ok(SecretLine(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_endings_and_limits() {
        let mut l = SecretLines::new(&b"S0001\r\npass word\nlast"[..]);
        assert_eq!(l.next_line().unwrap().as_str().unwrap(), "S0001");
        assert_eq!(l.next_line().unwrap().as_bytes(), b"pass word");
        assert_eq!(l.next_line().unwrap().as_bytes(), b"last");
        assert_eq!(l.next_line().err(), Some(SecretInputError::Missing));

        let mut l = SecretLines::new(&b"\n"[..]);
        assert_eq!(l.next_line().unwrap().as_bytes(), b"");

        let long = vec![b'1'; MAX_LINE + 1];
        assert_eq!(
            SecretLines::new(&long[..]).next_line().err(),
            Some(SecretInputError::TooLong)
        );
        let ok = vec![b'1'; MAX_LINE];
        assert_eq!(
            SecretLines::new(&ok[..])
                .next_line()
                .unwrap()
                .as_bytes()
                .len(),
            MAX_LINE
        );
        let bad = [0xffu8, b'\n'];
        assert_eq!(
            SecretLines::new(&bad[..])
                .next_line()
                .unwrap()
                .as_str()
                .err(),
            Some(SecretInputError::NotUtf8)
        );
    }

    #[test]
    fn nothing_is_read_past_the_line() {
        let data = b"one\ntwo\n";
        let mut cur = std::io::Cursor::new(&data[..]);
        {
            let mut l = SecretLines::new(&mut cur);
            assert_eq!(l.next_line().unwrap().as_bytes(), b"one");
        }
        assert_eq!(cur.position(), 4);
    }
}
