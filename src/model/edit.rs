//! Edits of places and the versions they leave behind.
//!
//! An edit ([`PlaceEdit`]) is everything one planner action changes, written by the store in one
//! transaction: the places inserted, updated and deleted (each update and delete guarded by the
//! version the planner saw), the households and buildings the change moves, a version row per
//! changed place and an audit record per changed place.

use super::{BuildingAssignment, HouseholdAssignment, Id, Place, PlaceKind};
use geo::MultiPolygon;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Why a place got a new version; named so in history and in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditAction {
    /// Loaded from a file at the command line (also every version that existed before history).
    Import,
    /// Drawn as a new place by a planner.
    Create,
    /// Changed by a planner (name, code, parent or geometry).
    Update,
    /// Made or changed by splitting a place along a line.
    Split,
    /// Made, changed or removed by merging places into one.
    Merge,
    /// Deleted; the version is the last one.
    Delete,
}

impl EditAction {
    /// Every action, in the order a place usually meets them.
    pub const ALL: [EditAction; 6] = [
        EditAction::Import,
        EditAction::Create,
        EditAction::Update,
        EditAction::Split,
        EditAction::Merge,
        EditAction::Delete,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EditAction::Import => "import",
            EditAction::Create => "create",
            EditAction::Update => "update",
            EditAction::Split => "split",
            EditAction::Merge => "merge",
            EditAction::Delete => "delete",
        }
    }
}

impl fmt::Display for EditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown edit action {s:?}"))
    }
}

/// The stored fields of a place, without its id and version.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceFields {
    /// Which level of the hierarchy, or a responsibility area.
    pub kind: PlaceKind,
    /// Unique across all places, e.g. `370202010001003`.
    pub code: String,
    /// The Chinese name, e.g. `香港花园社区`.
    pub name: String,
    /// The containing place, of the kind [`PlaceKind::parent_kind`] asks for; `None` for a district.
    pub parent_id: Option<Id>,
    /// The outline, in WGS84 longitude/latitude degrees.
    pub geometry: MultiPolygon<f64>,
}

impl PlaceFields {
    /// The fields of a stored place.
    pub fn of(place: &Place) -> Self {
        PlaceFields {
            kind: place.kind,
            code: place.code.clone(),
            name: place.name.clone(),
            parent_id: place.parent_id,
            geometry: place.geometry.clone(),
        }
    }

    /// These fields as a place with an id and a version.
    pub fn into_place(self, id: Id, version: i64) -> Place {
        Place {
            id,
            kind: self.kind,
            code: self.code,
            name: self.name,
            parent_id: self.parent_id,
            geometry: self.geometry,
            version,
        }
    }
}

/// One place changed by an edit.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceChange {
    /// A new place. `temp_id` is negative and stands for the id the store will give it wherever
    /// the same edit names it later: as the parent of a later insert or update, and in the
    /// household and building assignments.
    Insert {
        /// A negative stand-in for the id the store will give.
        temp_id: Id,
        /// The new place's fields.
        place: PlaceFields,
    },
    /// New fields for a place whose stored version must still be `expected_version`.
    Update {
        /// The place to change.
        id: Id,
        /// The version the editor started from.
        expected_version: i64,
        /// The place's new fields.
        place: PlaceFields,
    },
    /// Removes a place whose stored version must still be `expected_version`.
    Delete {
        /// The place to delete.
        id: Id,
        /// The version the editor started from.
        expected_version: i64,
    },
}

/// Everything one planner action changes, stored in one transaction or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceEdit {
    /// What kind of edit it is, as history and the trace name it.
    pub action: EditAction,
    /// Who did it; `None` is the operator at the command line.
    pub user_id: Option<Id>,
    /// The places inserted, updated and deleted, in order.
    pub changes: Vec<PlaceChange>,
    /// Households whose grid or areas change; ids may be the negative `temp_id`s of inserts.
    pub households: Vec<HouseholdAssignment>,
    /// Buildings whose grid changes; ids may be the negative `temp_id`s of inserts.
    pub buildings: Vec<BuildingAssignment>,
}

/// What a committed edit stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommittedEdit {
    /// The inserted and updated places as stored (real ids, new versions), in the edit's order.
    pub places: Vec<Place>,
    /// The ids of the deleted places.
    pub deleted: Vec<Id>,
    /// The id each insert's `temp_id` became.
    pub ids: Vec<(Id, Id)>,
    /// When the new versions start, RFC 3339 UTC with milliseconds.
    pub at: String,
    /// Where the edit's commit stands in the database's order of changes of area holders
    /// ([`crate::store::Seq`]; a deleted area's claim ends with it).
    pub seq: i64,
}

impl CommittedEdit {
    /// The real id for an id of the edit (a negative `temp_id` or an existing id).
    pub fn real_id(&self, id: Id) -> Id {
        self.ids
            .iter()
            .find(|(temp, _)| *temp == id)
            .map_or(id, |(_, real)| *real)
    }

    /// `place` with a parent named by a `temp_id` of this edit replaced by its real id.
    pub fn resolve(&self, place: &PlaceFields) -> PlaceFields {
        PlaceFields {
            parent_id: place.parent_id.map(|id| self.real_id(id)),
            ..place.clone()
        }
    }
}

/// Who made a version, as history names them: `{"id","display_name"}`. The history is public,
/// so the login name (half of a password guess) is kept for the store's callers but never
/// serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRef {
    /// The user's database id.
    pub id: Id,
    /// The login name; never serialized.
    #[serde(skip_serializing)]
    pub name: String,
    /// The name people know them by, if given.
    pub display_name: Option<String>,
}

/// One version of a place, valid from `valid_from` (inclusive) until `valid_to` (exclusive;
/// `None` = still current).
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceVersion {
    /// The place as it was in this version (`version` is the version number).
    pub place: Place,
    /// Why this version was made.
    pub action: EditAction,
    /// RFC 3339 UTC with milliseconds.
    pub valid_from: String,
    /// When the next version replaced it (exclusive), RFC 3339 UTC with milliseconds; `None` while current.
    pub valid_to: Option<String>,
    /// Who made this version; `None` for the operator at the command line or when unknown.
    pub user: Option<UserRef>,
}
