//! The spatial core: pure Rust on georust, no HTTP and no SQL.
//!
//! - [`crs`]: coordinate systems (PROJ for EPSG codes, GCJ-02 and BD-09 by hand).
//! - [`owner`]: the point-in-polygon rule that decides which polygon owns a point, boundaries included.
//! - [`index`]: the in-memory index answering "which grid am I in".
//! - [`assign`]: households and buildings to grids and areas, in bulk.
//! - [`validate`]: the rules a polygon passes before it is stored (validity and topology).
//! - [`validity`]: OGC validity of polygons by one sweep over their segments.
//! - [`reshape`]: splitting a polygon along a line, merging neighbours.
//! - [`tiles`]: the XYZ tile grid and the making of Mapbox Vector Tile layers.

pub mod assign;
pub mod crs;
pub mod index;
pub mod owner;
pub mod reshape;
pub mod route;
pub mod tiles;
pub mod validate;
pub mod validity;
