//! Memory measurements, in a test binary of their own: the peak read from
//! `/proc/self/status` is the whole process's, so no other test may allocate
//! while one is measured. (In the `api` binary, dozens of tests run beside it
//! and their allocations were counted as the photo's.) The two backends are
//! measured one after the other.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "../api/papers.rs"]
mod papers;

use helpers::{Backend, TestApp};
use papers::{assert_problem, detail, new_id, put, snapshot, visible, Paper};

/// A solid-colour PNG of `edge`² pixels: half a megabyte for 432 MB of pixels.
fn solid_png(edge: u32, rgba: Option<[u8; 4]>, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    match rgba {
        Some(px) => image::RgbaImage::from_pixel(edge, edge, image::Rgba(px))
            .write_to(&mut out, image::ImageFormat::Png),
        None => image::RgbImage::from_pixel(edge, edge, image::Rgb(rgb))
            .write_to(&mut out, image::ImageFormat::Png),
    }
    .unwrap();
    out.into_inner()
}

// One measurement at a time in this process, the app started under the lock.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn a_12000_pixel_png_is_processed_within_the_memory_budget(app: TestApp) {
    use larmkoll::media::pipeline::{plan, IMAGE_MEMORY_BUDGET, MEMORY_BUDGET, MIB};
    let installer = app.login("installator").await;
    let customer = visible(&app, &installer).await[0].clone();
    let paper = Paper::of(&customer);
    let edge = larmkoll::media::pipeline::MAX_EDGE;
    let photos: Vec<Vec<u8>> = (0..3u8)
        .map(|i| solid_png(edge, None, [200, 40 * i, 10]))
        .collect();
    let with_alpha = solid_png(edge, Some([200, 10, 10, 255]), [0; 3]);
    let planned = plan(&photos[0], None).unwrap().memory;
    eprintln!(
        "{edge}² RGB PNG: {} KiB sent, {} MiB planned",
        photos[0].len() / 1024,
        planned / MIB
    );
    let Some(peak) = larmkoll::media::measure_peak_memory() else {
        eprintln!("SKIPPED: /proc/self/clear_refs is not writable; memory not measured");
        return;
    };

    // One photo: within the budget (it was +787 MB with the filtered resize).
    let res = put(
        &app,
        &installer,
        &new_id(),
        &paper,
        "image/png",
        photos[0].clone(),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(
        (res.body["width"].as_u64(), res.body["height"].as_u64()),
        (Some(12_000), Some(12_000))
    );
    let one = peak();
    eprintln!(
        "one {edge}² PNG: peak +{} MiB (budget {} MiB)",
        one / MIB,
        MEMORY_BUDGET / MIB
    );
    assert!(
        one <= IMAGE_MEMORY_BUDGET,
        "one photo took {} MiB",
        one / MIB
    );

    // Three at once with four photo workers: admitted by memory, one by one.
    let peak = larmkoll::media::measure_peak_memory().unwrap();
    let answers = futures_util::future::join_all(photos[1..].iter().chain([&photos[0]]).map(|p| {
        let (app, installer, paper) = (&app, &installer, &paper);
        async move { put(app, installer, &new_id(), paper, "image/png", p.clone()).await }
    }))
    .await;
    for a in &answers {
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let three = peak();
    eprintln!(
        "three {edge}² PNGs at once: peak +{} MiB (budget {} MiB)",
        three / MIB,
        MEMORY_BUDGET / MIB
    );
    assert!(
        three <= MEMORY_BUDGET,
        "three photos at once took {} MiB",
        three / MIB
    );

    // With alpha it would need more than one photo may have: refused unread.
    let before = snapshot(&app).await;
    let peak = larmkoll::media::measure_peak_memory().unwrap();
    let res = put(&app, &installer, &new_id(), &paper, "image/png", with_alpha).await;
    assert_problem(&res, 422, "image_too_large");
    let (en, sv) = detail(&res);
    assert!(en.contains("at most 512 MB per photo"), "{en}");
    assert!(sv.contains("högst 512 MB per bild"), "{sv}");
    let refused = peak();
    eprintln!("{edge}² RGBA PNG refused: peak +{} MiB", refused / MIB);
    assert!(
        refused < 64 * MIB,
        "the refused photo was decoded: {} MiB",
        refused / MIB
    );
    assert_eq!(snapshot(&app).await, before, "nothing stored");
}

mod a_12000_pixel_png_is_processed_within_the_memory_budget {
    use super::*;

    async fn start(backend: Backend) -> Option<TestApp> {
        // More workers than this machine's cores: only memory holds them back.
        TestApp::start_configured(backend, true, |s| s.photo_workers = 4).await
    }

    #[actix_web::test]
    async fn sqlite() {
        let _alone = MEASURING.lock().await;
        let app = start(Backend::Sqlite).await.expect("sqlite");
        super::a_12000_pixel_png_is_processed_within_the_memory_budget(app).await;
    }

    #[actix_web::test]
    async fn postgres() {
        let _alone = MEASURING.lock().await;
        if let Some(app) = start(Backend::Postgres).await {
            super::a_12000_pixel_png_is_processed_within_the_memory_budget(app).await;
        }
    }
}
