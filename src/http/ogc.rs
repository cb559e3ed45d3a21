//! Placeholder: filled in by the map-layers work (issue 3).

use super::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
