//! Photos as evidence (留痕): a phone's JPEG or PNG is kept as it came, for those who answer for
//! it, and turned into a public copy and a thumbnail that carry no metadata. Decoding is where
//! a hostile file hurts, so the size in bytes and in pixels is checked before any pixel is
//! decoded, and the decoder's allocations are capped. This is CPU work: callers run it off the
//! async workers (`App`'s CPU pool).

pub mod camera;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The largest photo accepted, in bytes: a 12-megapixel phone JPEG is 3–6 MB.
pub const MAX_PHOTO_BYTES: usize = 12 * 1024 * 1024;
/// The most pixels a photo may have: 50 megapixels (a 12-megapixel phone photo fits four times).
pub const MAX_PHOTO_PIXELS: u64 = 50_000_000;
/// The longer side of the public copy, in pixels: enough to see the problem, smaller to send.
pub const PUBLIC_SIDE: u32 = 2_048;
/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// JPEG quality of the public copy and the thumbnail.
const QUALITY: u8 = 82;

/// Why a photo was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    /// Larger than [`MAX_PHOTO_BYTES`].
    #[error("a photo may have at most {MAX_PHOTO_BYTES} bytes, this one has {0}")]
    TooLarge(usize),
    /// Neither JPEG nor PNG.
    #[error("a photo is a JPEG or a PNG; this is {0}")]
    Unsupported(String),
    /// More pixels than [`MAX_PHOTO_PIXELS`].
    #[error("a photo may have at most {MAX_PHOTO_PIXELS} pixels, this one is {width}×{height}")]
    TooManyPixels {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// It says it is a JPEG or PNG but cannot be read as one.
    #[error("the photo cannot be read: {0}")]
    Unreadable(String),
}

/// A photo made ready to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// `image/jpeg` or `image/png`: what the original is.
    pub media_type: &'static str,
    /// Width of the upright image, in pixels.
    pub width: u32,
    /// Height of the upright image, in pixels.
    pub height: u32,
    /// The public copy: upright, at most [`PUBLIC_SIDE`] a side, a JPEG without metadata.
    pub public: Vec<u8>,
    /// The thumbnail: at most [`THUMBNAIL_SIDE`] a side, a JPEG without metadata.
    pub thumbnail: Vec<u8>,
}

fn unreadable(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Unreadable(e.to_string())
}

/// Checks and decodes `bytes`, turns the image upright by its EXIF orientation, and encodes
/// the public copy and the thumbnail afresh, so that neither keeps the original's EXIF (the
/// phone's position and time, its serial number).
///
/// ```
/// use image::{ImageFormat, RgbImage};
/// let mut png = std::io::Cursor::new(Vec::new());
/// RgbImage::new(640, 480).write_to(&mut png, ImageFormat::Png).unwrap();
/// let photo = wangge::photos::process(png.get_ref()).unwrap();
/// assert_eq!((photo.media_type, photo.width, photo.height), ("image/png", 640, 480));
/// let thumbnail = image::load_from_memory(&photo.thumbnail).unwrap();
/// assert_eq!((thumbnail.width(), thumbnail.height()), (320, 240));
/// assert!(wangge::photos::process(b"GIF89a").is_err());
/// ```
pub fn process(bytes: &[u8]) -> Result<ProcessedPhoto, PhotoError> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge(bytes.len()));
    }
    let format = image::guess_format(bytes)
        .map_err(|_| PhotoError::Unsupported("not an image format we know".into()))?;
    let media_type = match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        other => return Err(PhotoError::Unsupported(format!("{other:?}"))),
    };
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    let (width, height) = reader().into_dimensions().map_err(unreadable)?;
    if u64::from(width) * u64::from(height) > MAX_PHOTO_PIXELS {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    let mut limits = Limits::default();
    // Four bytes a pixel, with room for the decoder's own buffers.
    limits.max_alloc = Some(MAX_PHOTO_PIXELS * 4 + 64 * 1024 * 1024);
    let mut reader = reader();
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let public = if image.width().max(image.height()) > PUBLIC_SIDE {
        image.resize(
            PUBLIC_SIDE,
            PUBLIC_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        image.clone()
    };
    Ok(ProcessedPhoto {
        media_type,
        width: image.width(),
        height: image.height(),
        public: jpeg(&public)?,
        thumbnail: jpeg(&image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE))?,
    })
}

/// `image` as a baseline JPEG with nothing but pixels (JPEG has no alpha: it is dropped).
fn jpeg(image: &DynamicImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&image.to_rgb8())
        .map_err(unreadable)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A JPEG whose pixels are `image`, with an EXIF segment (APP1) after the SOI marker that
    /// says `orientation` and carries `marker` as a text the public copy must not keep.
    fn jpeg_with_exif(image: &RgbImage, orientation: u16, marker: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        JpegEncoder::new_with_quality(&mut plain, 95)
            .encode_image(image)
            .unwrap();
        // TIFF header (little endian), one IFD with Orientation (0x0112) and ImageDescription
        // (0x010E) pointing at `marker`.
        let mut tiff = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes());
        tiff.extend(2u16.to_le_bytes());
        tiff.extend(0x0112u16.to_le_bytes());
        tiff.extend(3u16.to_le_bytes()); // SHORT
        tiff.extend(1u32.to_le_bytes());
        tiff.extend(u32::from(orientation).to_le_bytes());
        tiff.extend(0x010Eu16.to_le_bytes());
        tiff.extend(2u16.to_le_bytes()); // ASCII
        tiff.extend((marker.len() as u32 + 1).to_le_bytes());
        tiff.extend((8 + 2 + 2 * 12 + 4u32).to_le_bytes());
        tiff.extend(0u32.to_le_bytes()); // no next IFD
        tiff.extend(marker);
        tiff.push(0);
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = plain[..2].to_vec();
        out.extend([0xFF, 0xE1]);
        out.extend((app1.len() as u16 + 2).to_be_bytes());
        out.extend(app1);
        out.extend(&plain[2..]);
        out
    }

    #[test]
    fn the_public_copy_is_upright_and_keeps_no_exif() {
        // Wider than tall as stored; orientation 6 says "turn 90° clockwise to view".
        let mut stored = RgbImage::from_pixel(200, 100, Rgb([0, 0, 255]));
        for y in 0..100 {
            stored.put_pixel(0, y, Rgb([255, 0, 0]));
        }
        let bytes = jpeg_with_exif(&stored, 6, b"GPS 36.0667N 120.3797E serial 12345");
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (200, 100),
            "a real EXIF JPEG"
        );
        let photo = process(&bytes).unwrap();
        assert_eq!(
            (photo.media_type, photo.width, photo.height),
            ("image/jpeg", 100, 200)
        );
        let public = image::load_from_memory(&photo.public).unwrap();
        assert_eq!((public.width(), public.height()), (100, 200), "upright");
        for copy in [&photo.public, &photo.thumbnail] {
            let text = String::from_utf8_lossy(copy);
            assert!(!text.contains("Exif") && !text.contains("serial 12345"));
        }
    }

    #[test]
    fn oversized_and_foreign_files_are_refused_before_decoding() {
        assert_eq!(
            process(&vec![0xFF; MAX_PHOTO_BYTES + 1]),
            Err(PhotoError::TooLarge(MAX_PHOTO_BYTES + 1))
        );
        assert!(matches!(
            process(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(PhotoError::Unsupported(_))
        ));
        // A PNG header that claims 100,000 × 100,000 pixels: refused from its header alone.
        let mut png = Vec::new();
        RgbImage::new(1, 1)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(
            process(&png),
            Err(PhotoError::TooManyPixels { .. }) | Err(PhotoError::Unreadable(_))
        ));
        let mut truncated = jpeg_with_exif(&RgbImage::new(64, 64), 1, b"x");
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            process(&truncated),
            Err(PhotoError::Unreadable(_))
        ));
    }
}
