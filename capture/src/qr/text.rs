//! A QR payload's bytes as text, for the raw reader ([`super::read_text_file`]).
//!
//! QR byte mode carries no character set unless an ECI says so (rqrr skips ECIs), and
//! kanji mode is Shift_JIS. As other readers do, the text is UTF-8 when the bytes are
//! valid UTF-8, else Shift_JIS when they are valid Shift_JIS (the QR code's home
//! encoding, and what kanji mode gives), else ISO-8859-1 (every byte a character).
//! The decoding itself is `encoding_rs`'s.

use zeroize::Zeroizing;

/// The payload as text (see the module documentation for the character set).
pub fn payload_text(bytes: &[u8]) -> Zeroizing<String> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Zeroizing::new(s.to_owned());
    }
    if let Some(s) =
        encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
    {
        return Zeroizing::new(s.into_owned());
    }
    Zeroizing::new(bytes.iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_shift_jis_and_latin1() {
        assert_eq!(payload_text("測試 ok".as_bytes()).as_str(), "測試 ok");
        // 「ﾃﾞｻﾞｲﾝQR」 and 「モバイル」 in Shift_JIS.
        assert_eq!(
            payload_text(&[0xc3, 0xde, 0xbb, 0xde, 0xb2, 0xdd, b'Q', b'R']).as_str(),
            "ﾃﾞｻﾞｲﾝQR"
        );
        assert_eq!(
            payload_text(&[0x83, 0x82, 0x83, 0x6f, 0x83, 0x43, 0x83, 0x8b]).as_str(),
            "モバイル"
        );
        // Not Shift_JIS either (0x80 alone): one character per byte.
        assert_eq!(payload_text(&[b'a', 0x80, 0xff]).as_str(), "a\u{80}\u{ff}");
        assert_eq!(payload_text(b"").as_str(), "");
    }
}
