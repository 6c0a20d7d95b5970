//! Benchmark: a 12-megapixel phone JPEG through the whole document pipeline
//! (decode under limits, orientation, display copy and thumbnail, JPEG
//! encoding, SHA-256), next to `vipsthumbnail` doing the same two outputs.
//!
//! Run: `cargo bench --bench photo_pipeline` (optionally PHOTO=path/to/photo.jpg).
//! Each tool runs in its own process under `/usr/bin/time`, so the peak memory
//! is that tool's alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--once") {
        // The measured child: one pass of the pipeline over the file.
        let bytes = std::fs::read(&args[2]).expect("photo");
        let start = Instant::now();
        let sha = larmkoll::media::sha256_hex(&bytes);
        let p = larmkoll::media::pipeline::process(&bytes, None).expect("pipeline");
        println!(
            "{} {} {}x{} {} {}",
            start.elapsed().as_millis(),
            &sha[..8],
            p.width,
            p.height,
            p.display_jpeg.len(),
            p.thumb_jpeg.len()
        );
        return;
    }
    if args
        .iter()
        .any(|a| a == "--list" || a.starts_with("--test"))
    {
        return; // `cargo test --benches` lists; nothing to run there
    }
    let dir = tempfile::tempdir().unwrap();
    let photo = match std::env::var("PHOTO") {
        Ok(p) => PathBuf::from(p),
        Err(_) => synthetic(dir.path()),
    };
    let me = std::env::current_exe().unwrap();
    println!(
        "photo: {} ({} bytes)",
        photo.display(),
        std::fs::metadata(&photo).unwrap().len()
    );
    let (ms, kb) = measure(RUNS, || {
        let mut c = Command::new(&me);
        c.arg("--once").arg(&photo);
        c
    });
    println!("larmkoll pipeline: median {ms} ms, peak {} MB", kb / 1024);
    if Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_ok()
    {
        let out = dir.path().join("vips");
        std::fs::create_dir_all(&out).unwrap();
        let (ms, kb) = measure(RUNS, || {
            // Both outputs, as the pipeline makes them: 2048 px display and 320 px thumbnail.
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!(
                "vipsthumbnail {p} --size 2048 --rotate -o {o}/display.jpg[Q=85,strip] && vipsthumbnail {p} --size 320 --rotate -o {o}/thumb.jpg[Q=80,strip]",
                p = photo.display(),
                o = out.display()
            ));
            c
        });
        println!(
            "vipsthumbnail (both sizes): median {ms} ms, peak {} MB",
            kb / 1024
        );
    } else {
        println!("vipsthumbnail: not installed (apt-get install libvips-tools) — skipped");
    }
}

/// Runs the command `runs` times under /usr/bin/time; median wall ms and max peak RSS in KB.
fn measure(runs: usize, cmd: impl Fn() -> Command) -> (u128, u64) {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let c = cmd();
        let mut timed = Command::new("/usr/bin/time");
        timed
            .arg("-f")
            .arg("%M")
            .arg(c.get_program())
            .args(c.get_args());
        let start = Instant::now();
        let out = timed.output().expect("run under /usr/bin/time");
        times.push(start.elapsed().as_millis());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kb: u64 = String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        peak = peak.max(kb);
    }
    times.sort();
    (times[times.len() / 2], peak)
}

/// A 4000×3000 photo-like JPEG (gradients and texture, so it does not compress
/// to nothing) with EXIF orientation 6, as a phone stores a portrait shot.
fn synthetic(dir: &Path) -> PathBuf {
    let (w, h) = (4000u32, 3000u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) % 37;
        image::Rgb([
            ((x * 255 / w) as u8).wrapping_add(n as u8),
            ((y * 255 / h) as u8).wrapping_add(n as u8),
            (((x + y) % 255) as u8),
        ])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&img)
        .unwrap();
    // APP1 Exif with a single IFD entry: Orientation = 6 (big-endian TIFF).
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    let path = dir.join("phone-12mp.jpg");
    std::fs::write(&path, out).unwrap();
    path
}
