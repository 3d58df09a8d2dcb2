//! Typed images (as in imageproc): a greyscale or RGB8 image is its width, its height
//! and exactly `w·h` (or `3·w·h`) bytes, row-major, checked once when it is made. The
//! owned kinds keep their pixels in a zeroizing buffer (a frame shows the form's code,
//! so the application ID, and the applicant's face); the `*Ref` kinds borrow.
//! `Debug` prints the size only, never pixels.

use zeroize::Zeroizing;

/// Why bytes do not make an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RasterError {
    #[error("empty image ({0}×{1})")]
    Empty(usize, usize),
    #[error("buffer smaller than the image: {have} bytes, {need} needed")]
    Short { have: usize, need: usize },
}

fn check(w: usize, h: usize, len: usize, channels: usize) -> Result<usize, RasterError> {
    if w == 0 || h == 0 {
        return Err(RasterError::Empty(w, h));
    }
    let need = w
        .checked_mul(h)
        .and_then(|n| n.checked_mul(channels))
        .ok_or(RasterError::Short {
            have: len,
            need: usize::MAX,
        })?;
    if len < need {
        return Err(RasterError::Short { have: len, need });
    }
    Ok(need)
}

macro_rules! raster {
    ($owned:ident, $borrowed:ident, $channels:expr, $what:literal) => {
        #[doc = concat!("A borrowed ", $what, " image.")]
        #[derive(Clone, Copy)]
        pub struct $borrowed<'a> {
            w: usize,
            h: usize,
            px: &'a [u8],
        }

        impl<'a> $borrowed<'a> {
            /// Bytes per pixel.
            pub const CHANNELS: usize = $channels;

            /// For sizes the caller already checked (a `Frame`'s): debug builds assert.
            #[allow(dead_code)] // used for RGB frames only
            pub(crate) fn from_checked(w: usize, h: usize, px: &'a [u8]) -> Self {
                debug_assert_eq!(px.len(), w * h * $channels);
                Self { w, h, px }
            }

            /// `px` must hold at least the image (extra bytes are ignored).
            pub fn new(w: usize, h: usize, px: &'a [u8]) -> Result<Self, RasterError> {
                let need = check(w, h, px.len(), $channels)?;
                Ok(Self {
                    w,
                    h,
                    px: &px[..need],
                })
            }
            pub fn width(&self) -> usize {
                self.w
            }
            pub fn height(&self) -> usize {
                self.h
            }
            /// Exactly the image's bytes.
            pub fn pixels(&self) -> &'a [u8] {
                self.px
            }
            /// A zeroizing copy.
            pub fn to_owned(&self) -> $owned {
                $owned {
                    w: self.w,
                    h: self.h,
                    px: Zeroizing::new(self.px.to_vec()),
                }
            }
        }

        impl std::fmt::Debug for $borrowed<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({}×{})", stringify!($borrowed), self.w, self.h)
            }
        }

        #[doc = concat!("An owned ", $what, " image; its pixels are zeroized on drop.")]
        pub struct $owned {
            w: usize,
            h: usize,
            px: Zeroizing<Vec<u8>>,
        }

        impl $owned {
            /// For sizes the caller already checked (a `Frame`'s): debug builds assert.
            pub(crate) fn from_checked(w: usize, h: usize, px: Zeroizing<Vec<u8>>) -> Self {
                debug_assert_eq!(px.len(), w * h * $channels);
                Self { w, h, px }
            }

            /// `px` must hold the image exactly or more (extra bytes are dropped).
            pub fn new(
                w: usize,
                h: usize,
                mut px: Zeroizing<Vec<u8>>,
            ) -> Result<Self, RasterError> {
                let need = check(w, h, px.len(), $channels)?;
                px.truncate(need);
                Ok(Self { w, h, px })
            }
            pub fn width(&self) -> usize {
                self.w
            }
            pub fn height(&self) -> usize {
                self.h
            }
            pub fn pixels(&self) -> &[u8] {
                &self.px
            }
            pub fn view(&self) -> $borrowed<'_> {
                $borrowed {
                    w: self.w,
                    h: self.h,
                    px: &self.px,
                }
            }
            /// The pixels, still in their zeroizing buffer.
            pub fn into_pixels(self) -> Zeroizing<Vec<u8>> {
                self.px
            }
        }

        impl std::fmt::Debug for $owned {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({}×{})", stringify!($owned), self.w, self.h)
            }
        }
    };
}

raster!(Luma, LumaRef, 1, "8-bit greyscale");
raster!(Rgb, RgbRef, 3, "RGB8");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_once_and_extra_bytes_dropped() {
        assert_eq!(
            LumaRef::new(0, 3, &[]).unwrap_err(),
            RasterError::Empty(0, 3)
        );
        assert_eq!(
            LumaRef::new(10, 10, &[0; 50]).unwrap_err(),
            RasterError::Short {
                have: 50,
                need: 100
            }
        );
        assert!(RgbRef::new(usize::MAX, 2, &[0; 4]).is_err());
        let img = RgbRef::new(2, 2, &[7; 13]).unwrap();
        assert_eq!(img.pixels().len(), 12);
        let owned = Luma::new(3, 2, Zeroizing::new(vec![1; 8])).unwrap();
        assert_eq!(owned.pixels().len(), 6);
        assert_eq!(format!("{owned:?}"), "Luma(3×2)");
        assert_eq!(owned.view().to_owned().pixels(), owned.pixels());
    }
}
