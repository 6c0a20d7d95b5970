//! The photo pipeline: prove the bytes are the image they claim to be, under
//! limits on dimensions and memory, turn it upright, and make a display copy
//! and a thumbnail without any of the original's metadata (GPS!).

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Long edge of the display copy and the thumbnail.
pub const DISPLAY_EDGE: u32 = 2048;
pub const THUMB_EDGE: u32 = 320;
/// Larger than any phone camera; a file claiming more is refused unread.
pub const MAX_EDGE: u32 = 12_000;
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("HEIC/HEIF photos are not accepted; set the phone to save JPEG (\"Most compatible\")")]
    Heic,
    #[error("the file is a {actual} image but was sent as {claimed}")]
    Mismatch { claimed: String, actual: String },
    #[error("the image claims {width}×{height} pixels; at most {MAX_EDGE} per side is accepted")]
    TooLarge { width: u32, height: u32 },
    #[error("the image is damaged or incomplete: {0}")]
    Corrupt(String),
}

#[derive(Debug)]
pub struct Processed {
    /// Upright size of the original.
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub display_jpeg: Vec<u8>,
    pub thumb_jpeg: Vec<u8>,
}

/// The formats accepted, by the MIME type a client sends.
pub fn claimed_format(content_type: &str) -> Option<ImageFormat> {
    match content_type.split(';').next().unwrap_or_default().trim() {
        "image/jpeg" | "image/jpg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

pub fn mime(format: ImageFormat) -> &'static str {
    format.to_mime_type()
}

fn is_heic(bytes: &[u8]) -> bool {
    bytes.len() > 12
        && &bytes[4..8] == b"ftyp"
        && [b"heic", b"heix", b"mif1", b"heif", b"hevc"]
            .iter()
            .any(|b| &bytes[8..12] == *b)
}

pub fn process(bytes: &[u8], claimed: Option<ImageFormat>) -> Result<Processed, MediaError> {
    if is_heic(bytes) {
        return Err(MediaError::Heic);
    }
    let actual = image::guess_format(bytes).map_err(|_| MediaError::NotAnImage)?;
    if !matches!(
        actual,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(MediaError::NotAnImage);
    }
    if let Some(claimed) = claimed {
        if claimed != actual {
            return Err(MediaError::Mismatch {
                claimed: mime(claimed).into(),
                actual: mime(actual).into(),
            });
        }
    }
    if actual == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(MediaError::Corrupt(
            "the JPEG ends before its end-of-image marker (a truncated upload?)".into(),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), actual);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| classify(e, bytes))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(|e| classify(e, bytes))?;
    let rotated = matches!(
        orientation,
        image::metadata::Orientation::Rotate90
            | image::metadata::Orientation::Rotate270
            | image::metadata::Orientation::Rotate90FlipH
            | image::metadata::Orientation::Rotate270FlipH
    );
    let (width, height) = if rotated {
        (img.height(), img.width())
    } else {
        (img.width(), img.height())
    };
    // Shrink first, then turn: rotating the small copies is far cheaper, and
    // the thumbnail is made from the display copy, not the full photo.
    let mut display = shrink(&img, DISPLAY_EDGE);
    drop(img);
    let mut thumb = shrink(&display, THUMB_EDGE);
    display.apply_orientation(orientation);
    thumb.apply_orientation(orientation);
    Ok(Processed {
        width,
        height,
        format: actual,
        display_jpeg: encode(&display, 85)?,
        thumb_jpeg: encode(&thumb, 80)?,
    })
}

/// JPEG decoders fill in a truncated scan with grey; refuse it instead. In the
/// entropy-coded data a 0xFF is always followed by 0x00 or a restart marker,
/// so 0xFF 0xD9 after the start of scan can only be the end-of-image marker.
/// (Data after it, as in motion photos, is allowed.)
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn classify(e: image::ImageError, bytes: &[u8]) -> MediaError {
    match e {
        image::ImageError::Limits(_) => {
            let (w, h) = header_size(bytes).unwrap_or((0, 0));
            MediaError::TooLarge {
                width: w,
                height: h,
            }
        }
        other => MediaError::Corrupt(other.to_string()),
    }
}

/// The dimensions a file claims, read from its header only.
fn header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

fn shrink(img: &DynamicImage, edge: u32) -> DynamicImage {
    if img.width().max(img.height()) <= edge {
        return img.clone();
    }
    img.resize(edge, edge, image::imageops::FilterType::Triangle)
}

/// JPEG without any metadata: the encoder writes none.
fn encode(img: &DynamicImage, quality: u8) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| MediaError::Corrupt(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_heic_are_refused_before_decoding() {
        assert_eq!(
            process(b"hello, I am a text file", Some(ImageFormat::Jpeg)).unwrap_err(),
            MediaError::NotAnImage
        );
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        assert_eq!(process(&heic, None).unwrap_err(), MediaError::Heic);
    }

    #[test]
    fn a_jpeg_without_its_end_marker_is_incomplete() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 0x12, 0xFF, 0x00, 0x34];
        assert!(!jpeg_is_complete(&jpeg));
        jpeg.extend_from_slice(&[0xFF, 0xD9, b'm', b'p', b'4']);
        assert!(jpeg_is_complete(&jpeg));
    }

    #[test]
    fn claimed_formats() {
        assert_eq!(claimed_format("image/jpeg"), Some(ImageFormat::Jpeg));
        assert_eq!(claimed_format("image/webp; q=1"), Some(ImageFormat::WebP));
        assert_eq!(claimed_format("application/pdf"), None);
    }
}
