//! The visit diary at city scale: coverage of a million households, a cadre's due walk through
//! two thousand doors (the ordering alone, and end to end through the `App` with its store read),
//! and recording visits (with their latency distribution) on SQLite, and on PostGIS when
//! `WANGGE_BENCH_POSTGRES` names a database with the extension.
//!
//! Coverage reads memory only: one entry of latest visits per household (the diary), however
//! many visits the store holds; the number of visits costs once, when the diary is read at
//! start (`Store::last_visits`).
//!
//! ```sh
//! cargo bench --bench visits
//! WANGGE_BENCH_POSTGRES=postgres://wangge:wangge@127.0.0.1/wangge_test cargo bench --bench visits
//! ```
#![allow(missing_docs)] // `criterion_group!` defines a public function that cannot carry a doc comment.

mod common;

use common::{SplitMix64, bench_mode, demo_places};
use criterion::{Criterion, criterion_group, criterion_main};
use geo::{Coord, MultiPoint, Point};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wangge::app::{App, HouseholdPoint, MapData, NewAccount, VisitInput, VisitPolicy, VisitTimes};
use wangge::auth::Role;
use wangge::model::visits::NeedCounts;
use wangge::model::{Id, PlaceKind};
use wangge::spatial::route::WalkingOrder;

const DAY_MS: i64 = 86_400_000;
const NOW: i64 = 1_796_000_000_000;

/// `n` households spread over the demo street's grids and areas, a tenth of them tagged, and
/// their latest visits: two in three visited in the last four months.
fn city(n: usize) -> (MapData, HashMap<Id, VisitTimes>) {
    let places = demo_places();
    let grids: Vec<Id> = places
        .iter()
        .filter(|p| p.kind == PlaceKind::Grid)
        .map(|p| p.id)
        .collect();
    let areas: Vec<Id> = places
        .iter()
        .filter(|p| p.kind == PlaceKind::Area)
        .map(|p| p.id)
        .collect();
    let mut rng = SplitMix64::new(13);
    let tags = ["elderly_alone", "party_member", "low_income", "disabled"];
    let mut times = HashMap::with_capacity(n);
    let households = (0..n)
        .map(|i| {
            let id = i as Id + 1;
            if rng.unit() < 0.66 {
                let at = NOW - (rng.unit() * 120.0 * DAY_MS as f64) as i64;
                let on_site = (rng.unit() < 0.9).then_some(at);
                times.insert(
                    id,
                    VisitTimes {
                        any: Some(at),
                        on_site,
                    },
                );
            }
            HouseholdPoint {
                id,
                location: Coord {
                    x: rng.range(120.36, 120.40),
                    y: rng.range(36.05, 36.08),
                },
                grid_id: Some(grids[i % grids.len()]),
                area_ids: vec![areas[(i / 7) % areas.len()]],
                building_code: None,
                tags: if rng.unit() < 0.1 {
                    vec![tags[i % tags.len()].to_string()]
                } else {
                    Vec::new()
                },
                open_needs: NeedCounts::default(),
            }
        })
        .collect();
    let map = MapData {
        places: Arc::new(places),
        households: Arc::new(households),
        ..MapData::default()
    };
    (map, times)
}

/// Through the `App`, as a phone would, for a cadre who holds free areas of the demo street
/// until they answer for at least 2,000 households: `walks` times their due walk (every one of
/// them is due), then `visits` visits one after the other. The latencies of each, sorted, and
/// how many households the walks ordered.
fn phone_latencies(
    url: &str,
    walks: usize,
    visits: usize,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = wangge::store::open(url).await.expect("store");
        let app = Arc::new(App::open(store).await.expect("app"));
        app.load_demo_if_empty().await.expect("demo");
        let suffix = std::process::id();
        let cadre = app
            .create_user(
                NewAccount {
                    name: format!("bench-{suffix}"),
                    role: Role::Cadre,
                    password: "bench password".into(),
                    display_name: None,
                    phone: None,
                    community: None,
                    branch: None,
                },
                None,
            )
            .await
            .expect("user");
        let map = app.map_data();
        let free: Vec<Id> = map
            .places
            .iter()
            .filter(|p| p.kind == PlaceKind::Area && !map.holders.contains_key(&p.id))
            .map(|p| p.id)
            .collect();
        let mut doors: Vec<HouseholdPoint> = Vec::new();
        for area in free {
            app.claim_area(area, cadre.id).await.expect("claim");
            doors.extend(
                app.map_data()
                    .households
                    .iter()
                    .filter(|h| h.area_ids.contains(&area))
                    .cloned(),
            );
            if doors.len() >= 2_000 {
                break;
            }
        }
        let start = doors[0].location;
        let mut walked = Vec::with_capacity(walks);
        let mut ordered = 0;
        for _ in 0..walks {
            let started = Instant::now();
            let walk = app.due_walk(&cadre, start).await.expect("walk");
            walked.push(started.elapsed());
            ordered = walk.households.len();
        }
        let mut recorded = Vec::with_capacity(visits);
        for i in 0..visits {
            let door = &doors[i % doors.len()];
            let input = VisitInput {
                household_id: door.id,
                key: format!("bench-{suffix}-{i}"),
                visited_at: "2026-11-30T10:30:00+08:00".into(),
                position: door.location,
                accuracy_m: Some(10.0),
                notes: "走访".into(),
                needs: Vec::new(),
                corrects: None,
            };
            let started = Instant::now();
            app.record_visit(&cadre, input).await.expect("visit");
            recorded.push(started.elapsed());
        }
        walked.sort();
        recorded.sort();
        (walked, recorded, ordered)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn bench(c: &mut Criterion) {
    let n = if bench_mode() { 1_000_000 } else { 10_000 };
    let (map, times) = city(n);
    let policy = VisitPolicy::default();
    let mut group = c.benchmark_group("visits");
    group.sample_size(10);
    for level in [PlaceKind::Street, PlaceKind::Grid, PlaceKind::Area] {
        group.bench_function(format!("coverage_{level}_{n}_households"), |b| {
            b.iter(|| wangge::app::coverage(&map, &times, &policy, level, 30, NOW))
        });
    }
    let mut rng = SplitMix64::new(7);
    let doors = MultiPoint::new(
        (0..2_000)
            .map(|_| Point::new(rng.range(120.370, 120.385), rng.range(36.055, 36.068)))
            .collect(),
    );
    group.bench_function("due_walk_2000_doors", |b| {
        b.iter(|| doors.walking_order(Point::new(120.372, 36.056)))
    });
    group.finish();

    let (walks, visits) = if bench_mode() { (50, 2_000) } else { (2, 20) };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut backends = vec![(
        "sqlite",
        format!("sqlite://{}/wangge.db", dir.path().display()),
    )];
    if let Some(url) = common::postgres_url() {
        backends.push(("postgres", url));
    }
    for (name, url) in backends {
        let (walked, recorded, ordered) = phone_latencies(&url, walks, visits);
        eprintln!(
            "visits/due_walk on {name}, {ordered} households in walking order, {walks} walks: \
             p50 {:?}, max {:?}",
            percentile(&walked, 0.5),
            walked.last().expect("latencies"),
        );
        eprintln!(
            "visits/record_visit on {name}, {visits} in a row: p50 {:?}, p99 {:?}, max {:?}",
            percentile(&recorded, 0.5),
            percentile(&recorded, 0.99),
            recorded.last().expect("latencies"),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
