//! wangge (网格): a GIS service for community grid management.
//!
//! Districts split into streets, communities and grids; street cadres answer for responsibility
//! areas; every household knows its grid. This crate stores those polygons (SQLite or PostGIS),
//! answers "which grid am I in" from an in-memory index, and serves it all over HTTP.
//!
//! Layout, with dependencies pointing downwards only:
//! - [`http`]: the axum API;
//! - [`app`]: the store and the spatial index kept in step;
//! - [`geodata`]: GeoJSON import and export; [`demo`]: the built-in demo street;
//! - [`tiles`]: the vector tile layers, their cache and the service that keeps it fresh;
//! - [`spatial`]: the spatial core, pure Rust (index, ownership rule, CRS, validation);
//! - [`auth`]: accounts, roles, password hashing and bearer tokens;
//! - [`calendar`]: working days (holidays and make-up days) for the time limits of requests;
//! - [`config`]: the settings file of `wangge serve`;
//! - [`store`]: persistence behind one trait;
//! - [`model`]: the domain types.

pub mod app;
pub mod auth;
pub mod calendar;
pub mod config;
pub mod demo;
pub mod geodata;
pub mod http;
pub mod model;
pub mod photos;
pub mod spatial;
pub mod store;
pub mod tiles;
pub mod timestamp;
pub mod webhooks;
