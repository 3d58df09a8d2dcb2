//! `ExpressPins`: the PINs an applicant sets for express issuance (特急発行).
//!
//! - Signature password (署名用電子証明書の暗証番号): 6–16 characters of `A`–`Z` and
//!   `0`–`9`, with at least one letter and at least one digit. Lower-case letters are
//!   folded to upper case (the card's rule is upper case only).
//! - User-certificate PIN (利用者証明用電子証明書の暗証番号), resident-registry PIN
//!   (住民基本台帳用の暗証番号) and card-info PIN (券面事項入力補助用の暗証番号): 4 digits each.
//!
//! Every buffer is fixed-size, zeroized on drop; there is no `Debug` that shows a digit,
//! no `Clone`, no `Display`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

pub const SIGNATURE_PASSWORD_MIN: usize = 6;
pub const SIGNATURE_PASSWORD_MAX: usize = 16;
pub const PIN_LEN: usize = 4;

/// Which 4-digit PIN a rule refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    UserCertificate,
    ResidentRegistry,
    CardInfo,
}

impl fmt::Display for PinKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinKind::UserCertificate => "利用者証明用 / user-certificate PIN",
            PinKind::ResidentRegistry => "住民基本台帳用 / resident-registry PIN",
            PinKind::CardInfo => "券面事項入力補助用 / card-info PIN",
        })
    }
}

/// Why a PIN was refused. Never contains the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("signature password must be {SIGNATURE_PASSWORD_MIN}–{SIGNATURE_PASSWORD_MAX} characters / 署名用パスワードは6～16文字です")]
    SignatureLength,
    #[error("signature password may use only A–Z and 0–9 / 署名用パスワードに使えるのは英大文字と数字だけです")]
    SignatureCharset,
    #[error("signature password needs at least one letter / 署名用パスワードには英字が1文字以上必要です")]
    SignatureNeedsLetter,
    #[error(
        "signature password needs at least one digit / 署名用パスワードには数字が1文字以上必要です"
    )]
    SignatureNeedsDigit,
    #[error("{0}: exactly 4 digits / 暗証番号は数字4桁です")]
    Pin(PinKind),
}

/// The signature password, normalised to upper case.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SignaturePassword {
    buf: [u8; SIGNATURE_PASSWORD_MAX],
    len: u8,
}

impl SignaturePassword {
    /// Checks the rules and folds lower case to upper case.
    pub fn new(input: &[u8]) -> Result<Self, PinError> {
        if !(SIGNATURE_PASSWORD_MIN..=SIGNATURE_PASSWORD_MAX).contains(&input.len()) {
            return Err(PinError::SignatureLength);
        }
        let mut out = Self {
            buf: [0; SIGNATURE_PASSWORD_MAX],
            len: 0,
        };
        let (mut letter, mut digit) = (false, false);
        for (i, &b) in input.iter().enumerate() {
            let c = b.to_ascii_uppercase();
            if c.is_ascii_uppercase() {
                letter = true;
            } else if c.is_ascii_digit() {
                digit = true;
            } else {
                return Err(PinError::SignatureCharset);
            }
            out.buf[i] = c;
        }
        if !letter {
            return Err(PinError::SignatureNeedsLetter);
        }
        if !digit {
            return Err(PinError::SignatureNeedsDigit);
        }
        out.len = input.len() as u8;
        Ok(out)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

/// A 4-digit PIN.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Pin4([u8; PIN_LEN]);

impl Pin4 {
    pub fn new(input: &[u8], kind: PinKind) -> Result<Self, PinError> {
        let arr: [u8; PIN_LEN] = input.try_into().map_err(|_| PinError::Pin(kind))?;
        if !arr.iter().all(u8::is_ascii_digit) {
            return Err(PinError::Pin(kind));
        }
        Ok(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8; PIN_LEN] {
        &self.0
    }
}

/// The PINs of express issuance: exactly those the applicant's choices need. The
/// resident-registry and card-info PINs always; the signature password and the
/// user-certificate PIN only when the applicant wants the e-certificates (without them
/// there is nothing those two would protect, so they are not asked for or sent).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ExpressPins {
    certificates: Option<CertificatePins>,
    resident_registry: Pin4,
    card_info: Pin4,
}

/// The two secrets of the e-certificates.
#[derive(Zeroize, ZeroizeOnDrop)]
struct CertificatePins {
    signature_password: SignaturePassword,
    user_certificate: Pin4,
}

impl ExpressPins {
    /// With e-certificates: validates all four values.
    pub fn new(
        signature_password: &[u8],
        user_certificate: &[u8],
        resident_registry: &[u8],
        card_info: &[u8],
    ) -> Result<Self, PinError> {
        Ok(Self {
            certificates: Some(CertificatePins {
                signature_password: SignaturePassword::new(signature_password)?,
                user_certificate: Pin4::new(user_certificate, PinKind::UserCertificate)?,
            }),
            resident_registry: Pin4::new(resident_registry, PinKind::ResidentRegistry)?,
            card_info: Pin4::new(card_info, PinKind::CardInfo)?,
        })
    }

    /// Without e-certificates: the resident-registry and card-info PINs only.
    pub fn without_certificates(
        resident_registry: &[u8],
        card_info: &[u8],
    ) -> Result<Self, PinError> {
        Ok(Self {
            certificates: None,
            resident_registry: Pin4::new(resident_registry, PinKind::ResidentRegistry)?,
            card_info: Pin4::new(card_info, PinKind::CardInfo)?,
        })
    }

    /// Whether the e-certificates' two secrets are here.
    pub fn has_certificates(&self) -> bool {
        self.certificates.is_some()
    }

    /// The signature password (with e-certificates only).
    pub fn signature_password(&self) -> Option<&SignaturePassword> {
        self.certificates.as_ref().map(|c| &c.signature_password)
    }

    /// The user-certificate PIN (with e-certificates only).
    pub fn user_certificate(&self) -> Option<&Pin4> {
        self.certificates.as_ref().map(|c| &c.user_certificate)
    }

    pub fn resident_registry(&self) -> &Pin4 {
        &self.resident_registry
    }

    pub fn card_info(&self) -> &Pin4 {
        &self.card_info
    }
}

impl fmt::Debug for ExpressPins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExpressPins(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        let p = SignaturePassword::new(b"abc123").unwrap();
        assert_eq!(p.as_bytes(), b"ABC123");
        assert_eq!(
            SignaturePassword::new(b"ab12").err(),
            Some(PinError::SignatureLength)
        );
        assert_eq!(
            SignaturePassword::new(&[b'A'; 17]).err(),
            Some(PinError::SignatureLength)
        );
        assert_eq!(
            SignaturePassword::new(b"ABCDEF").err(),
            Some(PinError::SignatureNeedsDigit)
        );
        assert_eq!(
            SignaturePassword::new(b"123456").err(),
            Some(PinError::SignatureNeedsLetter)
        );
        assert_eq!(
            SignaturePassword::new(b"ABC-123").err(),
            Some(PinError::SignatureCharset)
        );
        assert_eq!(
            SignaturePassword::new("ＡＢＣ123".as_bytes()).err(),
            Some(PinError::SignatureCharset)
        );
        assert!(Pin4::new(b"0000", PinKind::CardInfo).is_ok());
        assert_eq!(
            Pin4::new(b"12a4", PinKind::CardInfo).err(),
            Some(PinError::Pin(PinKind::CardInfo))
        );
        assert_eq!(
            ExpressPins::new(b"ABC123", b"1234", b"123", b"1234").err(),
            Some(PinError::Pin(PinKind::ResidentRegistry))
        );
        let pins = ExpressPins::new(b"ABC123", b"1234", b"5678", b"9012").unwrap();
        assert_eq!(format!("{pins:?}"), "ExpressPins(<redacted>)");
        assert_eq!(pins.card_info().as_bytes(), b"9012");
        let two = ExpressPins::without_certificates(b"5678", b"9012").unwrap();
        assert!(!two.has_certificates() && two.signature_password().is_none());
        assert_eq!(
            ExpressPins::without_certificates(b"5678", b"90").err(),
            Some(PinError::Pin(PinKind::CardInfo))
        );
    }

    fn reference_rule(s: &[u8]) -> bool {
        let up: Vec<u8> = s.iter().map(u8::to_ascii_uppercase).collect();
        (6..=16).contains(&up.len())
            && up
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && up.iter().any(u8::is_ascii_uppercase)
            && up.iter().any(u8::is_ascii_digit)
    }

    proptest! {
        #[test]
        fn signature_password_matches_the_rule(s in proptest::collection::vec(any::<u8>(), 0..20)) {
            prop_assert_eq!(SignaturePassword::new(&s).is_ok(), reference_rule(&s));
        }

        #[test]
        fn signature_password_from_alphabet(s in "[a-zA-Z0-9]{0,18}") {
            let r = SignaturePassword::new(s.as_bytes());
            prop_assert_eq!(r.is_ok(), reference_rule(s.as_bytes()));
            if let Ok(p) = r {
                let up = s.to_ascii_uppercase();
                prop_assert_eq!(p.as_bytes(), up.as_bytes());
            }
        }

        #[test]
        fn pin4_is_exactly_four_digits(s in proptest::collection::vec(any::<u8>(), 0..6)) {
            let expect = s.len() == 4 && s.iter().all(u8::is_ascii_digit);
            prop_assert_eq!(Pin4::new(&s, PinKind::UserCertificate).is_ok(), expect);
        }
    }
}
