//! A branch secretary's photo of an activity, as a phone takes it: a 12-megapixel JPEG
//! (4000 × 3000) checked, turned upright, re-encoded without metadata as the public copy and a
//! thumbnail, and its EXIF read (`photos::process` and `photos::camera::camera`, the CPU work);
//! and end to end through `App::put_activity_photo` on SQLite (that work on the CPU pool, the
//! comparison with the activity and the write of the three copies). Target: at most 1 s.
//!
//! ```sh
//! cargo bench --bench photos
//! ```
#![allow(missing_docs)] // `criterion_group!` defines a public function that cannot carry a doc comment.

mod common;

use common::bench_mode;
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;
use wangge::app::{ActivityInput, App, NewAccount};
use wangge::auth::Role;
use wangge::model::branches::{ActivityPhotoKind, ActivityType, Attendance, AttendanceStatus};

/// A JPEG of `width` × `height` with detail everywhere (smooth images compress to nothing and
/// would flatter the decoder), at a phone's quality.
fn phone_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut rng = common::SplitMix64::new(12);
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let noise = (rng.next_u64() & 0x1f) as u8;
        image::Rgb([
            ((x / 7) as u8).wrapping_add(noise),
            ((y / 5) as u8).wrapping_add(noise),
            ((x + y) / 11) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&image)
        .expect("encode");
    out
}

/// An `App` over the demo street on SQLite, an admin, and a draft activity of the first branch.
async fn draft(dir: &std::path::Path) -> (Arc<App>, wangge::auth::User, i64) {
    let url = format!("sqlite://{}/wangge.db", dir.display());
    let app = Arc::new(
        App::open(wangge::store::open(&url).await.expect("store"))
            .await
            .expect("app"),
    );
    app.load_demo_if_empty().await.expect("demo");
    let admin = app
        .create_user(
            NewAccount {
                name: "admin".into(),
                role: Role::Admin,
                password: "bench".into(),
                display_name: None,
                phone: None,
                community: None,
                branch: None,
            },
            None,
        )
        .await
        .expect("admin");
    let branch = app.branches()[0].clone();
    let roll = app.members(&admin, branch.id).await.expect("roll");
    let attendance = roll
        .iter()
        .filter(|m| m.status != wangge::model::branches::MemberStatus::Transferred)
        .map(|m| Attendance {
            member_id: m.id,
            status: AttendanceStatus::Present,
            reason: None,
        })
        .collect();
    let activity = app
        .record_activity(
            &admin,
            ActivityInput {
                branch_id: Some(branch.id),
                kind: ActivityType::ThemeDay,
                theme: "主题党日".into(),
                held_at: "2026-12-01T01:30:00.000Z".into(),
                place: (120.37, 36.06),
                attendance,
            },
        )
        .await
        .expect("activity");
    (app, admin, activity.activity.id)
}

fn bench(c: &mut Criterion) {
    let (width, height) = if bench_mode() {
        (4000, 3000)
    } else {
        (400, 300)
    };
    let jpeg = phone_jpeg(width, height);
    eprintln!(
        "a {width} × {height} JPEG of {:.1} MB",
        jpeg.len() as f64 / 1e6
    );
    let mut group = c.benchmark_group("photos");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if bench_mode() { 30 } else { 1 }));
    group.bench_function("process_and_camera", |b| {
        b.iter(|| {
            let processed = wangge::photos::process(&jpeg).expect("a photo");
            let seen = wangge::photos::camera::camera(&jpeg);
            (processed, seen)
        })
    });
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (app, admin, activity) = runtime.block_on(draft(dir.path()));
    // The same kind again replaces the draft's photo: every iteration is one whole upload.
    group.bench_function("put_activity_photo_sqlite", |b| {
        b.iter(|| {
            runtime
                .block_on(app.put_activity_photo(
                    &admin,
                    activity,
                    ActivityPhotoKind::Group,
                    jpeg.clone(),
                ))
                .expect("kept")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
