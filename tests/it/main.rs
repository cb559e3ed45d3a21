//! The integration tests, as one test binary: real stores (a temporary SQLite file, a private
//! schema in a real PostGIS) and the real `wangge` binary over HTTP. One module per subject.
//!
//! One binary rather than one per file: each test binary links the whole dependency tree again,
//! and linking some thirty of them was a large share of CI's build. `tests/bounds.rs` stays apart
//! because it times `/health` while it loads every core itself, which other tests running beside
//! it in the same process would disturb.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

#[path = "../../benches/shapes/mod.rs"]
#[allow(dead_code)] // the jagged star is for the bench, the comb for tests/bounds.rs
mod shapes;

mod auth;
mod branches;
mod claims;
mod cli;
mod config;
mod demo_data;
mod demo_diary;
mod editing;
mod hardening;
mod hostile;
mod hostile_parsers;
mod households;
mod http_api;
mod instances;
mod login_flood;
mod memory;
mod metrics;
mod ogc;
mod requests;
mod store_branches;
mod store_claims;
mod store_contract;
mod store_requests;
mod store_visits;
mod tile_invalidation;
mod tiles;
mod visit_maps;
mod visits;
