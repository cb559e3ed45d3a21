//! Splitting a place along a line and merging neighbours: the change sets of these edits, made
//! from the places in memory and stored as one [`App::edit`].

use super::App;
use super::edit::{EditError, EditOutcome};
use crate::model::edit::{EditAction, PlaceChange, PlaceFields};
use crate::model::{Id, Place, PlaceKind};
use crate::spatial::reshape::{merge as merge_shapes, split_by_line};
use geo::{InteriorPoint, Intersects, LineString, MultiPolygon};
use std::sync::Arc;

/// The id the new piece of a split has until the store gives it one.
const NEW_PIECE: Id = -1;

/// The most places one merge unites: far more than neighbours ever merged at once, few enough
/// that the ids are checked quickly.
pub const MAX_MERGE: usize = 100;

/// Why a split or a merge was refused before anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum ReshapeError {
    #[error("no {kind} with id {id}")]
    /// No place of the expected kind has this id.
    NoSuchPlace {
        /// The kind of place asked for.
        kind: PlaceKind,
        /// The id that names none.
        id: Id,
    },
    #[error("{0}")]
    /// The split cannot be done (the line does not cut the place in two, the new piece lacks a code or a name); the text says why.
    BadSplit(String),
    #[error("{0}")]
    /// The merge cannot be done (fewer than two ids, not one version per id, an id given twice, places of different parents, …); the text says why.
    BadMerge(String),
    #[error("one merge unites at most {MAX_MERGE} places")]
    /// More than [`MAX_MERGE`] places were given to one merge.
    TooManyPlaces,
    #[error(transparent)]
    /// The resulting edit was refused (invalid geometry, a version mismatch, busy, …).
    Edit(#[from] EditError),
}

impl From<super::cpu::Busy> for ReshapeError {
    fn from(busy: super::cpu::Busy) -> Self {
        ReshapeError::Edit(busy.into())
    }
}

impl App {
    /// The current place of `kind` with this id, from memory.
    pub fn current_place(&self, kind: PlaceKind, id: Id) -> Result<Place, ReshapeError> {
        self.map_data()
            .places
            .iter()
            .find(|p| p.id == id && p.kind == kind)
            .cloned()
            .ok_or(ReshapeError::NoSuchPlace { kind, id })
    }

    /// Cuts place `id` (at version `expected`) in two along `line` (WGS84): the larger piece
    /// keeps the id, the smaller becomes a new place with `code` and `name` and takes the
    /// children that lie in it. The cut runs off the async workers.
    #[allow(clippy::too_many_arguments)]
    pub async fn split_place(
        self: &Arc<Self>,
        kind: PlaceKind,
        id: Id,
        expected: i64,
        line: LineString<f64>,
        code: &str,
        name: &str,
        user_id: Id,
    ) -> Result<EditOutcome, ReshapeError> {
        let map = self.map_data();
        let stored = self.current_place(kind, id)?;
        let shape = stored.geometry.clone();
        let (larger, smaller) = self
            .compute(move || split_by_line(&shape, &line))
            .await?
            .map_err(ReshapeError::BadSplit)?;
        let (code, name) = (code.trim(), name.trim());
        if code.is_empty() || name.is_empty() {
            return Err(ReshapeError::BadSplit(
                "the new piece needs a non-empty code and name".into(),
            ));
        }
        // Children whose interior lies in the smaller piece move to it; one that straddles the
        // line is then outside its parent either way, and validation says so.
        let moving = map
            .places
            .iter()
            .filter(|child| child.parent_id == Some(id))
            .filter(|child| {
                child
                    .geometry
                    .interior_point()
                    .is_some_and(|p| smaller.intersects(&p))
            })
            .map(|child| PlaceChange::Update {
                id: child.id,
                expected_version: child.version,
                place: PlaceFields {
                    parent_id: Some(NEW_PIECE),
                    ..PlaceFields::of(child)
                },
            })
            .collect::<Vec<_>>();
        let kept = PlaceFields {
            geometry: MultiPolygon(vec![larger]),
            ..PlaceFields::of(&stored)
        };
        let created = PlaceFields {
            code: code.to_string(),
            name: name.to_string(),
            geometry: MultiPolygon(vec![smaller]),
            ..PlaceFields::of(&stored)
        };
        let changes = [
            PlaceChange::Update {
                id,
                expected_version: expected,
                place: kept,
            },
            PlaceChange::Insert {
                temp_id: NEW_PIECE,
                place: created,
            },
        ]
        .into_iter()
        .chain(moving)
        .collect();
        Ok(self.edit(EditAction::Split, Some(user_id), changes).await?)
    }

    /// The places of `kind` a merge of `ids` (expected at `versions`) would unite, checked: at
    /// least two, one version each, at most [`MAX_MERGE`], none twice, all current and of one
    /// parent.
    pub fn places_to_merge(
        &self,
        kind: PlaceKind,
        ids: &[Id],
        versions: &[i64],
    ) -> Result<Vec<Place>, ReshapeError> {
        if ids.len() < 2 || ids.len() != versions.len() {
            return Err(ReshapeError::BadMerge(
                "give at least two ids and one version per id".into(),
            ));
        }
        if ids.len() > MAX_MERGE {
            return Err(ReshapeError::TooManyPlaces);
        }
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != ids.len() {
            return Err(ReshapeError::BadMerge("an id is given twice".into()));
        }
        let places = ids
            .iter()
            .map(|id| self.current_place(kind, *id))
            .collect::<Result<Vec<Place>, _>>()?;
        if places.iter().any(|p| p.parent_id != places[0].parent_id) {
            return Err(ReshapeError::BadMerge(
                "only places of the same parent can be merged".into(),
            ));
        }
        Ok(places)
    }

    /// Unites `places` (from [`App::places_to_merge`], each expected at the version of the
    /// same position in `versions`): the first survives and takes the children of the others.
    /// The union runs off the async workers.
    pub async fn merge_places(
        self: &Arc<Self>,
        places: Vec<Place>,
        versions: &[i64],
        user_id: Id,
    ) -> Result<EditOutcome, ReshapeError> {
        let map = self.map_data();
        let shapes: Vec<MultiPolygon<f64>> = places.iter().map(|p| p.geometry.clone()).collect();
        let united = self
            .compute(move || merge_shapes(&shapes.iter().collect::<Vec<_>>()))
            .await?
            .map_err(ReshapeError::BadMerge)?;
        let survivor = &places[0];
        let merged: Vec<Id> = places[1..].iter().map(|p| p.id).collect();
        let mut changes = vec![PlaceChange::Update {
            id: survivor.id,
            expected_version: versions[0],
            place: PlaceFields {
                geometry: united,
                ..PlaceFields::of(survivor)
            },
        }];
        // The children of the merged places move to the one that survives.
        changes.extend(
            map.places
                .iter()
                .filter(|child| child.parent_id.is_some_and(|p| merged.contains(&p)))
                .map(|child| PlaceChange::Update {
                    id: child.id,
                    expected_version: child.version,
                    place: PlaceFields {
                        parent_id: Some(survivor.id),
                        ..PlaceFields::of(child)
                    },
                }),
        );
        changes.extend(merged.iter().zip(&versions[1..]).map(|(id, version)| {
            PlaceChange::Delete {
                id: *id,
                expected_version: *version,
            }
        }));
        Ok(self.edit(EditAction::Merge, Some(user_id), changes).await?)
    }
}
