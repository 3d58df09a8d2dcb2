//! The application: permitted fields only, and its plaintext encoding (v1).
//!
//! [`Application`] holds exactly: the application ID (申請書ID), the face photo, the
//! e-certificate wish, the braille wish and, for express issuance, the PINs. There is no
//! field, map or extension slot that could carry a name, address, birth date or sex, and
//! the encoding has none either: every byte of it is accounted for below and anything
//! more is refused.
//!
//! # Plaintext encoding v1 (sealed inside the envelope; never stored or sent in clear)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | format, `0x01` |
//! | 1 | 1 | profile: `0x00` standard, `0x01` express |
//! | 2 | 23 | application ID, ASCII digits |
//! | 25 | 1 | wishes: bit 0 e-certificates, bit 1 braille; bits 2–7 must be 0 |
//! | 26 | 1+L+12 | express only: `L` (6–16), signature password (`A`–`Z0`–`9`), then the user-certificate, resident-registry and card-info PINs, 4 ASCII digits each |
//! | … | 4 | photo length `N`, big-endian u32, within the `FacePhoto` size limits |
//! | … | N | the photo, a JPEG accepted by [`FacePhoto::from_jpeg`] |
//!
//! Nothing may follow the photo. Decoding re-validates every field.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::photo::{FacePhoto, PhotoError, MAX_PHOTO_BYTES, MAX_SIDE, MIN_PHOTO_BYTES};
use crate::pins::{ExpressPins, PinError, SIGNATURE_PASSWORD_MAX, SIGNATURE_PASSWORD_MIN};

/// Digits in an application ID.
pub const APPLICATION_ID_LEN: usize = 23;
/// Longest QR payload / text examined for an application ID.
pub const MAX_ID_INPUT: usize = 1024;
/// Plaintext format byte of v1.
pub const PLAINTEXT_FORMAT_V1: u8 = 0x01;
/// Longest encoded application, bytes.
pub const MAX_ENCODED_LEN: usize = 26 + 1 + SIGNATURE_PASSWORD_MAX + 12 + 4 + MAX_PHOTO_BYTES;

/// The 23-digit application ID printed as a QR code on the paper form.
///
/// Zeroized on drop. `Debug` and [`ApplicationId::masked`] show only the last four
/// digits; the full ID is reachable only through [`ApplicationId::as_str`].
#[derive(Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct ApplicationId([u8; APPLICATION_ID_LEN]);

/// Why a text did not yield an application ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicationIdError {
    #[error("no input / 入力がありません")]
    Empty,
    #[error("input is longer than {MAX_ID_INPUT} bytes / 入力が長すぎます")]
    TooLong,
    #[error("application ID must be 23 digits, got {0} / 申請書IDは23桁です（{0}桁でした）")]
    WrongLength(usize),
    #[error(
        "application ID has a non-digit at position {0} / 申請書IDの{0}文字目が数字ではありません"
    )]
    NonDigit(usize),
    #[error("{0} different 23-digit numbers found; cannot tell which is the ID / 23桁の番号が複数あります")]
    Ambiguous(usize),
    #[error("no 23-digit application ID found / 申請書IDが見つかりません")]
    NotFound,
}

impl ApplicationId {
    /// Extracts the application ID from what the form's QR code (or a clerk) supplies.
    ///
    /// Accepted, after trimming ASCII white space:
    /// 1. exactly 23 ASCII digits (`0`–`9`); or
    /// 2. any text (e.g. a URL) of at most 1,024 bytes that contains exactly one maximal
    ///    run of exactly 23 ASCII digits. Runs of other lengths are ignored; full-width
    ///    digits are not digits.
    ///
    /// Refused: empty input; input over 1,024 bytes; 23 characters with a non-digit
    /// (`NonDigit`, a typing slip); input made only of digits but not 23 of them, or with
    /// no 23-digit run but a run of 16 or more digits (`WrongLength`, the longest run);
    /// two or more 23-digit runs (`Ambiguous`); otherwise `NotFound`.
    pub fn parse(input: &[u8]) -> Result<Self, ApplicationIdError> {
        if input.len() > MAX_ID_INPUT {
            return Err(ApplicationIdError::TooLong);
        }
        let t = input.trim_ascii();
        if t.is_empty() {
            return Err(ApplicationIdError::Empty);
        }
        if t.iter().all(u8::is_ascii_digit) {
            return Self::from_digits(t).ok_or(ApplicationIdError::WrongLength(t.len()));
        }
        if t.len() == APPLICATION_ID_LEN {
            if let Some(pos) = t.iter().position(|b| !b.is_ascii_digit()) {
                return Err(ApplicationIdError::NonDigit(pos + 1));
            }
        }
        let mut found: Option<&[u8]> = None;
        let mut count = 0usize;
        let mut longest = 0usize;
        for run in t.split(|b| !b.is_ascii_digit()) {
            longest = longest.max(run.len());
            if run.len() == APPLICATION_ID_LEN {
                count += 1;
                found = Some(run);
            }
        }
        match (count, found) {
            (1, Some(run)) => Self::from_digits(run).ok_or(ApplicationIdError::NotFound),
            (0, _) if longest >= 16 => Err(ApplicationIdError::WrongLength(longest)),
            (0, _) => Err(ApplicationIdError::NotFound),
            (n, _) => Err(ApplicationIdError::Ambiguous(n)),
        }
    }

    fn from_digits(d: &[u8]) -> Option<Self> {
        let arr: [u8; APPLICATION_ID_LEN] = d.try_into().ok()?;
        arr.iter().all(u8::is_ascii_digit).then_some(Self(arr))
    }

    /// The 23 digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 23 digits as bytes.
    pub fn as_bytes(&self) -> &[u8; APPLICATION_ID_LEN] {
        &self.0
    }

    /// All digits but the last four replaced by `*`, for confirmation screens.
    pub fn masked(&self) -> String {
        let mut s = "*".repeat(APPLICATION_ID_LEN - 4);
        s.push_str(&self.as_str()[APPLICATION_ID_LEN - 4..]);
        s
    }

    /// Copies the ID. Explicit, because every copy is one more buffer to zeroize.
    pub fn duplicate(&self) -> Self {
        Self(self.0)
    }
}

impl fmt::Debug for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApplicationId({})", self.masked())
    }
}

/// Does the applicant want electronic certificates (電子証明書)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateWish {
    Yes,
    No,
}

/// Does the applicant want a braille label (点字)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrailleWish {
    Yes,
    No,
}

/// The two application profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Ordinary issuance: no PINs.
    Standard,
    /// Express issuance (特急発行): PINs required.
    Express,
}

impl Profile {
    pub fn to_byte(self) -> u8 {
        match self {
            Profile::Standard => 0,
            Profile::Express => 1,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Profile::Standard),
            1 => Some(Profile::Express),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::Express => "express",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = ApplicationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(Profile::Standard),
            "express" => Ok(Profile::Express),
            _ => Err(ApplicationError::BadProfile),
        }
    }
}

/// Why an encoded application was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplicationError {
    #[error("truncated application")]
    Truncated,
    #[error("unknown plaintext format {0}")]
    UnknownFormat(u8),
    #[error("unknown profile")]
    BadProfile,
    #[error("profile {found:?} where {expected:?} was expected")]
    ProfileMismatch { expected: Profile, found: Profile },
    #[error("application ID is not 23 digits")]
    BadApplicationId,
    #[error("reserved wish bits set: 0x{0:02x}")]
    ReservedBits(u8),
    #[error("signature password length out of range")]
    BadPasswordLength,
    #[error("PIN rule: {0}")]
    Pin(#[from] PinError),
    #[error("photo length {0} outside the allowed range")]
    PhotoLength(u64),
    #[error("photo: {0}")]
    Photo(#[from] PhotoError),
    #[error("{0} unexpected bytes after the photo")]
    TrailingBytes(usize),
    #[error("the photo ({pixels} pixels) was not decoded: the decoder's pixel budget is full; retry later")]
    DecodeNotAdmitted { pixels: u64 },
    #[error("the PINs do not match the e-certificate wish (with e-certificates: signature password and user-certificate PIN; without: neither)")]
    PinsDoNotMatchWishes,
}

/// An application: the permitted fields and nothing else. Zeroized on drop (every
/// field zeroizes itself); no `Clone`.
pub struct Application {
    id: ApplicationId,
    photo: FacePhoto,
    certificate: CertificateWish,
    braille: BrailleWish,
    pins: Option<ExpressPins>,
}

impl Application {
    /// A standard application (no PINs).
    pub fn standard(
        id: ApplicationId,
        photo: FacePhoto,
        certificate: CertificateWish,
        braille: BrailleWish,
    ) -> Self {
        Self {
            id,
            photo,
            certificate,
            braille,
            pins: None,
        }
    }

    /// An express application: the PINs must be exactly those the wishes need (the
    /// e-certificates' two secrets if and only if the applicant wants them).
    pub fn express(
        id: ApplicationId,
        photo: FacePhoto,
        certificate: CertificateWish,
        braille: BrailleWish,
        pins: ExpressPins,
    ) -> Result<Self, ApplicationError> {
        if pins.has_certificates() != (certificate == CertificateWish::Yes) {
            return Err(ApplicationError::PinsDoNotMatchWishes);
        }
        Ok(Self {
            id,
            photo,
            certificate,
            braille,
            pins: Some(pins),
        })
    }

    pub fn profile(&self) -> Profile {
        if self.pins.is_some() {
            Profile::Express
        } else {
            Profile::Standard
        }
    }

    pub fn id(&self) -> &ApplicationId {
        &self.id
    }

    pub fn photo(&self) -> &FacePhoto {
        &self.photo
    }

    pub fn certificate_wish(&self) -> CertificateWish {
        self.certificate
    }

    pub fn braille_wish(&self) -> BrailleWish {
        self.braille
    }

    pub fn pins(&self) -> Option<&ExpressPins> {
        self.pins.as_ref()
    }

    /// Encodes as plaintext v1 into a zeroizing buffer.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let photo = self.photo.as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(26 + 29 + 4 + photo.len()));
        out.push(PLAINTEXT_FORMAT_V1);
        out.push(self.profile().to_byte());
        out.extend_from_slice(self.id.as_bytes());
        let mut wishes = 0u8;
        if self.certificate == CertificateWish::Yes {
            wishes |= 1;
        }
        if self.braille == BrailleWish::Yes {
            wishes |= 2;
        }
        out.push(wishes);
        if let Some(p) = &self.pins {
            if let (Some(pw), Some(user)) = (p.signature_password(), p.user_certificate()) {
                let pw = pw.as_bytes();
                out.push(pw.len() as u8);
                out.extend_from_slice(pw);
                out.extend_from_slice(user.as_bytes());
            }
            out.extend_from_slice(p.resident_registry().as_bytes());
            out.extend_from_slice(p.card_info().as_bytes());
        }
        out.extend_from_slice(&(photo.len() as u32).to_be_bytes());
        out.extend_from_slice(photo);
        out
    }

    /// Decodes plaintext v1 and re-validates every field. `expected` is the profile the
    /// envelope header declares; a mismatch is refused.
    pub fn decode(bytes: &[u8], expected: Profile) -> Result<Self, ApplicationError> {
        Self::decode_admitted(bytes, expected, |_| Some(()))
    }

    /// [`Application::decode`], with the photo's decoding admitted by `admit` first: it
    /// gets the photo's pixel count (width × height read from the JPEG frame header
    /// before anything is decoded; [`crate::photo::MAX_SIDE`]² if the header cannot be
    /// read, the decoder then refuses the photo anyway) and returns a guard held while
    /// the pixels are decoded, or `None` to refuse
    /// ([`ApplicationError::DecodeNotAdmitted`]). A relay bounds the memory of
    /// concurrent decodes this way.
    pub fn decode_admitted<G>(
        bytes: &[u8],
        expected: Profile,
        admit: impl FnOnce(u64) -> Option<G>,
    ) -> Result<Self, ApplicationError> {
        Self::decode_with(bytes, expected, PhotoCheck::Decode(admit))
    }

    /// [`Application::decode`] for plaintext this process validated with `decode`
    /// before and kept under authenticated encryption since (the relay's storage record,
    /// opened for forwarding): every field is parsed and checked again, the photo from
    /// its headers ([`FacePhoto::from_own_record`]) without decoding its pixels a second
    /// time. Never for bytes from outside.
    pub fn decode_own_record(bytes: &[u8], expected: Profile) -> Result<Self, ApplicationError> {
        Self::decode_with(
            bytes,
            expected,
            PhotoCheck::<fn(u64) -> Option<()>>::HeadersOnly,
        )
    }

    fn decode_with<G, A: FnOnce(u64) -> Option<G>>(
        bytes: &[u8],
        expected: Profile,
        check: PhotoCheck<A>,
    ) -> Result<Self, ApplicationError> {
        let mut r = Reader(bytes);
        let format = r.byte()?;
        if format != PLAINTEXT_FORMAT_V1 {
            return Err(ApplicationError::UnknownFormat(format));
        }
        let profile = Profile::from_byte(r.byte()?).ok_or(ApplicationError::BadProfile)?;
        if profile != expected {
            return Err(ApplicationError::ProfileMismatch {
                expected,
                found: profile,
            });
        }
        let id = ApplicationId::from_digits(r.take(APPLICATION_ID_LEN)?)
            .ok_or(ApplicationError::BadApplicationId)?;
        let wishes = r.byte()?;
        if wishes & !0b11 != 0 {
            return Err(ApplicationError::ReservedBits(wishes));
        }
        let certificate = if wishes & 1 != 0 {
            CertificateWish::Yes
        } else {
            CertificateWish::No
        };
        let braille = if wishes & 2 != 0 {
            BrailleWish::Yes
        } else {
            BrailleWish::No
        };
        let pins = match profile {
            Profile::Standard => None,
            Profile::Express if certificate == CertificateWish::Yes => {
                let len = usize::from(r.byte()?);
                if !(SIGNATURE_PASSWORD_MIN..=SIGNATURE_PASSWORD_MAX).contains(&len) {
                    return Err(ApplicationError::BadPasswordLength);
                }
                let pw = r.take(len)?;
                let a = r.take(4)?;
                let b = r.take(4)?;
                let c = r.take(4)?;
                Some(ExpressPins::new(pw, a, b, c)?)
            }
            Profile::Express => {
                let b = r.take(4)?;
                let c = r.take(4)?;
                Some(ExpressPins::without_certificates(b, c)?)
            }
        };
        let n = u32::from_be_bytes(r.array::<4>()?);
        let n_usize = usize::try_from(n).map_err(|_| ApplicationError::PhotoLength(n.into()))?;
        if !(MIN_PHOTO_BYTES..=MAX_PHOTO_BYTES).contains(&n_usize) {
            return Err(ApplicationError::PhotoLength(n.into()));
        }
        let photo_bytes = Zeroizing::new(r.take(n_usize)?.to_vec());
        if !r.0.is_empty() {
            return Err(ApplicationError::TrailingBytes(r.0.len()));
        }
        let photo = match check {
            PhotoCheck::Decode(admit) => {
                let pixels = crate::photo::frame_size(&photo_bytes)
                    .map_or(u64::from(MAX_SIDE) * u64::from(MAX_SIDE), |(w, h)| {
                        u64::from(w) * u64::from(h)
                    });
                let guard = admit(pixels).ok_or(ApplicationError::DecodeNotAdmitted { pixels })?;
                let photo = FacePhoto::from_jpeg(photo_bytes)?;
                drop(guard);
                photo
            }
            PhotoCheck::HeadersOnly => FacePhoto::from_own_record(photo_bytes)?,
        };
        Ok(Self {
            id,
            photo,
            certificate,
            braille,
            pins,
        })
    }
}

/// How the photo of a plaintext is checked.
enum PhotoCheck<A> {
    /// Fully decoded, admitted by the closure first.
    Decode(A),
    /// From its headers only (a record this process validated before).
    HeadersOnly,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Application")
            .field("id", &self.id)
            .field("photo", &self.photo)
            .field("certificate", &self.certificate)
            .field("braille", &self.braille)
            .field("pins", &self.pins.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ApplicationError> {
        if self.0.len() < n {
            return Err(ApplicationError::Truncated);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, ApplicationError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ApplicationError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "12345678901234567890123";

    #[test]
    fn id_examples() {
        let id = ApplicationId::parse(ID.as_bytes()).unwrap();
        assert_eq!(id.as_str(), ID);
        assert_eq!(id.masked(), "*******************0123");
        assert_eq!(format!("{id:?}"), "ApplicationId(*******************0123)");
        let url = format!("https://example.jp/apply?id={ID}&x=1");
        assert_eq!(ApplicationId::parse(url.as_bytes()).unwrap().as_str(), ID);
        let spaced = format!("  {ID}\n");
        assert!(ApplicationId::parse(spaced.as_bytes()).is_ok());
        use ApplicationIdError as E;
        assert_eq!(ApplicationId::parse(b""), Err(E::Empty));
        assert_eq!(ApplicationId::parse(b"   "), Err(E::Empty));
        assert_eq!(ApplicationId::parse(&[b'1'; 1025]), Err(E::TooLong));
        assert_eq!(ApplicationId::parse(b"1234"), Err(E::WrongLength(4)));
        assert_eq!(ApplicationId::parse(&[b'1'; 24]), Err(E::WrongLength(24)));
        assert_eq!(
            ApplicationId::parse(b"1234567890123456789012A"),
            Err(E::NonDigit(23))
        );
        let two = format!("{ID} {}", "9".repeat(23));
        assert_eq!(ApplicationId::parse(two.as_bytes()), Err(E::Ambiguous(2)));
        assert_eq!(ApplicationId::parse(b"hello world"), Err(E::NotFound));
        let long_run = format!("id={}", "1".repeat(24));
        assert_eq!(
            ApplicationId::parse(long_run.as_bytes()),
            Err(E::WrongLength(24))
        );
        assert_eq!(
            ApplicationId::parse("１２３４５６７８９０１２３４５６７８９０１２３".as_bytes()),
            Err(E::NotFound)
        );
    }

    proptest! {
        #[test]
        fn any_23_digits_round_trip(d in "[0-9]{23}") {
            let id = ApplicationId::parse(d.as_bytes()).unwrap();
            prop_assert_eq!(id.as_str(), d.as_str());
        }

        #[test]
        fn embedded_in_text(pre in "[a-z:/?=&. ]{0,40}", d in "[0-9]{23}", post in "[a-z/&=. ]{0,40}") {
            let s = format!("{pre}{d}{post}");
            let id = ApplicationId::parse(s.as_bytes()).unwrap();
            prop_assert_eq!(id.as_str(), d.as_str());
        }

        #[test]
        fn wrong_digit_counts_refused(d in "[0-9]{1,40}") {
            prop_assume!(d.len() != 23);
            prop_assert_eq!(ApplicationId::parse(d.as_bytes()), Err(ApplicationIdError::WrongLength(d.len())));
        }

        #[test]
        fn never_panics_and_accepts_only_ids(s in proptest::collection::vec(any::<u8>(), 0..1100)) {
            if let Ok(id) = ApplicationId::parse(&s) {
                prop_assert!(id.as_bytes().iter().all(u8::is_ascii_digit));
            }
        }
    }
}
