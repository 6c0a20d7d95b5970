//! The photo pipeline: prove the bytes are the image they claim to be, under
//! limits on dimensions and memory, turn it upright, and make a display copy
//! and a thumbnail without any of the original's metadata (GPS!).
//!
//! Memory is planned before anything is decoded: the header gives the size and
//! the decoded colour type, [`memory_needed`] adds what the decoder and the
//! copies need, and a photo needing more than [`IMAGE_MEMORY_BUDGET`] is
//! refused unread. The server admits concurrent photos by that same figure
//! against [`MEMORY_BUDGET`] (see `AppState::media_memory`).

use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Long edge of the display copy and the thumbnail.
pub const DISPLAY_EDGE: u32 = 2048;
pub const THUMB_EDGE: u32 = 320;
/// Larger than any phone camera; a file claiming more is refused unread.
pub const MAX_EDGE: u32 = 12_000;
/// What one photo may need while it is processed: decoded pixels, the
/// decoder's own buffers, the copies.
pub const IMAGE_MEMORY_BUDGET: u64 = 512 * MIB;
/// What all photos processed at once may need together.
pub const MEMORY_BUDGET: u64 = 512 * MIB;
pub const MIB: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("the file is not a JPEG, PNG or WebP image")]
    NotAnImage,
    #[error("the photo is HEIC/HEIF")]
    Heic,
    #[error("the file is a {actual} image but was sent as {claimed}")]
    Mismatch { claimed: String, actual: String },
    #[error("the image claims {width}×{height} pixels; at most {MAX_EDGE} per side is accepted")]
    TooLarge { width: u32, height: u32 },
    #[error("the image of {width}×{height} pixels needs {needed} bytes to process; at most {IMAGE_MEMORY_BUDGET} are allowed")]
    OverMemoryBudget {
        width: u32,
        height: u32,
        needed: u64,
    },
    #[error("the image is damaged or incomplete: {0}")]
    Corrupt(String),
}

/// What a photo will need, read from its header only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub color: ColorType,
    /// Peak bytes the pipeline allocates for it.
    pub memory: u64,
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

/// A HEIC/HEIF content type: an iPhone's default photo format.
pub fn is_heic_type(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or_default().trim();
    [
        "image/heic",
        "image/heif",
        "image/heic-sequence",
        "image/heif-sequence",
    ]
    .iter()
    .any(|h| t.eq_ignore_ascii_case(h))
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

/// Checks the bytes are the image they claim to be and plans its memory,
/// without decoding a pixel. Over [`IMAGE_MEMORY_BUDGET`]: refused.
pub fn plan(bytes: &[u8], claimed: Option<ImageFormat>) -> Result<Plan, MediaError> {
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
    let decoder = decoder(bytes, actual)?;
    let (width, height) = decoder.dimensions();
    let color = decoder.color_type();
    let memory = memory_needed(width, height, color, decoder_extra(bytes, actual));
    if memory > IMAGE_MEMORY_BUDGET {
        return Err(MediaError::OverMemoryBudget {
            width,
            height,
            needed: memory,
        });
    }
    Ok(Plan {
        format: actual,
        width,
        height,
        color,
        memory,
    })
}

fn decoder(bytes: &[u8], format: ImageFormat) -> Result<Box<dyn ImageDecoder + '_>, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    // A second line behind the plan: no decoder allocation beyond the budget.
    limits.max_alloc = Some(IMAGE_MEMORY_BUDGET);
    reader.limits(limits);
    reader
        .into_decoder()
        .map(|d| Box::new(d) as Box<dyn ImageDecoder>)
        .map_err(|e| classify(e, bytes))
}

/// What a format's decoder holds besides the decoded pixels, per pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderExtra {
    /// Rows and the inflate window only (PNG, baseline JPEG).
    Streaming,
    /// A progressive JPEG keeps every coefficient: 2 bytes per component.
    Coefficients { components: u8 },
    /// WebP decodes into a frame of its own (YUV, ARGB) and copies it over.
    Frame { bytes_per_pixel: u8 },
}

fn decoder_extra(bytes: &[u8], format: ImageFormat) -> DecoderExtra {
    match format {
        ImageFormat::Jpeg => match jpeg_frame(bytes) {
            Some((true, components)) => DecoderExtra::Coefficients { components },
            _ => DecoderExtra::Streaming,
        },
        // Lossless and lossy frames take at most 4 bytes a pixel; an
        // animation's canvas and frame, 8.
        ImageFormat::WebP => {
            let animated = bytes.len() > 20 && &bytes[12..16] == b"VP8X" && bytes[20] & 0x02 != 0;
            DecoderExtra::Frame {
                bytes_per_pixel: if animated { 8 } else { 4 },
            }
        }
        _ => DecoderExtra::Streaming,
    }
}

/// The JPEG's frame header: (progressive, components).
fn jpeg_frame(bytes: &[u8]) -> Option<(bool, u8)> {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let components = *bytes.get(i + 9)?;
            let progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
            return Some((progressive, components));
        }
        if marker == 0xDA {
            return None;
        }
        i += 2 + len;
    }
    None
}

/// Peak bytes the pipeline needs for one photo: the decoded pixels, the
/// decoder's own buffers, then the display copy and the thumbnail (each
/// turned upright in a copy and converted to RGB for the encoder), and a
/// mebibyte of rows, tables and encoder output.
pub fn memory_needed(width: u32, height: u32, color: ColorType, extra: DecoderExtra) -> u64 {
    let px = |w: u32, h: u32| w as u64 * h as u64;
    let bpp = color.bytes_per_pixel() as u64;
    let decoded = px(width, height) * bpp;
    // Macroblocks and MCUs pad the frame to 16 pixels.
    let padded = px(width.div_ceil(16) * 16, height.div_ceil(16) * 16);
    let decoder = match extra {
        DecoderExtra::Streaming => 0,
        DecoderExtra::Coefficients { components } => padded * 2 * components as u64,
        DecoderExtra::Frame { bytes_per_pixel } => padded * bytes_per_pixel as u64,
    };
    let rows = 4 * width as u64 * bpp;
    let copy = |edge: u32| {
        let (w, h) = fit(width, height, edge);
        px(w, h) * (2 * bpp + 3)
    };
    decoded + decoder + rows + copy(DISPLAY_EDGE) + copy(THUMB_EDGE) + MIB
}

/// The size within `edge` × `edge`, aspect kept; never enlarged.
fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= edge {
        return (width, height);
    }
    let scale = |v: u32| ((v as u64 * edge as u64).div_ceil(long as u64) as u32).max(1);
    (scale(width), scale(height))
}

/// Photos processed by this process and the time it took, for the metrics.
pub static PROCESSED: Processing = Processing {
    photos: std::sync::atomic::AtomicU64::new(0),
    micros: std::sync::atomic::AtomicU64::new(0),
};

pub struct Processing {
    pub photos: std::sync::atomic::AtomicU64,
    pub micros: std::sync::atomic::AtomicU64,
}

/// Decodes and makes the two copies. Call [`plan`] first and admit the
/// photo by its `memory`; this checks the plan again, so it is never unsafe.
pub fn process(bytes: &[u8], claimed: Option<ImageFormat>) -> Result<Processed, MediaError> {
    use std::sync::atomic::Ordering;
    let started = std::time::Instant::now();
    let result = process_timed(bytes, claimed);
    PROCESSED.photos.fetch_add(1, Ordering::Relaxed);
    PROCESSED
        .micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    result
}

fn process_timed(bytes: &[u8], claimed: Option<ImageFormat>) -> Result<Processed, MediaError> {
    let plan = plan(bytes, claimed)?;
    let mut decoder = decoder(bytes, plan.format)?;
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
    let mut display = shrink(img, DISPLAY_EDGE);
    let mut thumb = smaller_copy(&display, THUMB_EDGE);
    display.apply_orientation(orientation);
    thumb.apply_orientation(orientation);
    Ok(Processed {
        width,
        height,
        format: plan.format,
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

/// An area average straight into the small copy: no intermediate buffer
/// (the filtered resize keeps a floating-point copy of width × new height,
/// 375 MiB for a 12,000-pixel photo), and text on paper stays crisp.
fn shrink(img: DynamicImage, edge: u32) -> DynamicImage {
    let (w, h) = fit(img.width(), img.height(), edge);
    if (w, h) == (img.width(), img.height()) {
        return img;
    }
    img.thumbnail_exact(w, h)
}

fn smaller_copy(img: &DynamicImage, edge: u32) -> DynamicImage {
    let (w, h) = fit(img.width(), img.height(), edge);
    img.thumbnail_exact(w, h)
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
    fn the_estimate_counts_decoded_pixels_the_decoder_and_the_copies() {
        let rgb = memory_needed(12_000, 12_000, ColorType::Rgb8, DecoderExtra::Streaming);
        let pixels = 12_000u64 * 12_000 * 3;
        let display = 2048u64 * 2048 * (2 * 3 + 3);
        let thumb = 320u64 * 320 * (2 * 3 + 3);
        assert_eq!(rgb, pixels + 4 * 12_000 * 3 + display + thumb + MIB);
        assert!(rgb <= IMAGE_MEMORY_BUDGET, "a 12,000² RGB photo fits");
        // With alpha, or kept as coefficients, it does not.
        let rgba = memory_needed(12_000, 12_000, ColorType::Rgba8, DecoderExtra::Streaming);
        assert!(rgba > IMAGE_MEMORY_BUDGET);
        let progressive = memory_needed(
            12_000,
            12_000,
            ColorType::Rgb8,
            DecoderExtra::Coefficients { components: 3 },
        );
        assert_eq!(progressive - rgb, 12_000 * 12_000 * 2 * 3);
        // A photo smaller than the display copy is not shrunk: copies of its size.
        let small = memory_needed(1000, 500, ColorType::L8, DecoderExtra::Streaming);
        assert_eq!(small, 500_000 + 4000 + 500_000 * 5 + 320 * 160 * 5 + MIB);
    }

    #[test]
    fn fit_keeps_the_aspect_and_never_enlarges() {
        assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit(3000, 4000, 320), (240, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
        assert_eq!(fit(12_000, 1, 2048), (2048, 1));
    }

    #[test]
    fn the_plan_refuses_what_would_not_fit_before_decoding() {
        // 12,000² with alpha: 576 MB of pixels alone. The header says so.
        let mut png = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut png);
        let header_only = image::ImageEncoder::write_image(
            encoder,
            &[0; 4],
            1,
            1,
            image::ExtendedColorType::Rgba8,
        );
        header_only.unwrap();
        // Patch the IHDR size (and its CRC) to 12,000 × 12,000.
        png[16..20].copy_from_slice(&12_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&12_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        match plan(&png, Some(ImageFormat::Png)) {
            Err(MediaError::OverMemoryBudget {
                width: 12_000,
                height: 12_000,
                needed,
            }) => assert!(needed > IMAGE_MEMORY_BUDGET),
            other => panic!("{other:?}"),
        }
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn the_measured_peak_stays_within_the_estimate_for_every_format() {
        let (w, h) = (4000, 3000);
        let photo = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
        });
        let mut files = Vec::new();
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP] {
            let mut out = Cursor::new(Vec::new());
            photo.write_to(&mut out, format).unwrap();
            files.push((format, out.into_inner()));
        }
        drop(photo);
        for (format, bytes) in files {
            let planned = plan(&bytes, Some(format)).unwrap();
            let Some(peak) = crate::media::measure_peak_memory() else {
                eprintln!("SKIPPED: /proc/self/clear_refs is not writable");
                return;
            };
            let done = process(&bytes, Some(format)).unwrap();
            let used = peak();
            eprintln!(
                "{format:?} {w}×{h}: estimated {} MiB, measured peak {} MiB",
                planned.memory / MIB,
                used / MIB
            );
            assert_eq!((done.width, done.height), (w, h));
            assert!(
                used <= planned.memory,
                "{format:?}: used {used} bytes, estimated {}",
                planned.memory
            );
        }
    }

    #[test]
    fn claimed_formats() {
        assert_eq!(claimed_format("image/jpeg"), Some(ImageFormat::Jpeg));
        assert_eq!(claimed_format("image/webp; q=1"), Some(ImageFormat::WebP));
        assert_eq!(claimed_format("application/pdf"), None);
    }
}
