//! What can go wrong in a store, as data: each variant carries the ids, codes and states that
//! explain it, and its `Display` is the sentence people read, written once here for the
//! command line and the HTTP answers alike. The HTTP layer (`http/error.rs`) decides only the
//! status and the machine-readable code.

use crate::auth::Role;
use crate::model::{Claim, Id, PlaceKind};

/// A failed store operation, sorted by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No place has this id (any more).
    #[error("no place with id {0}")]
    NoSuchPlace(Id),
    /// No responsibility area has this id (nor any other place).
    #[error("there is no area with id {0}")]
    NoSuchArea(Id),
    /// The id names a place of another kind where a responsibility area was asked for.
    #[error("place {id} is a {kind}, not a responsibility area; only areas can be claimed")]
    NotAnArea {
        /// The id given.
        id: Id,
        /// The kind of place it names.
        kind: PlaceKind,
    },
    /// No account has this id.
    #[error("there is no user with id {0}")]
    NoSuchUser(Id),
    /// No household has this id.
    #[error("there is no household with id {0}")]
    NoSuchHousehold(Id),
    /// Another household has this code (constraint `households_code_key`).
    #[error("the code {0:?} is already used by another household")]
    HouseholdCodeTaken(String),
    /// An edit expected a version of a household that is no longer the stored one.
    #[error("household {id} is at version {stored}, not {expected}: reload it and edit again")]
    HouseholdVersionMismatch {
        /// The household edited.
        id: Id,
        /// The version the edit started from.
        expected: i64,
        /// The version stored now.
        stored: i64,
    },
    /// No visit has this id.
    #[error("there is no visit with id {0}")]
    NoSuchVisit(Id),
    /// The visit was corrected already (constraint `visits_one_correction`): correct the
    /// correction.
    #[error("visit {visit_id} was corrected already by visit {by}: correct that one")]
    AlreadyCorrected {
        /// The visit named.
        visit_id: Id,
        /// The visit that corrected it.
        by: Id,
    },
    /// A correction names a visit of another household.
    #[error("visit {visit_id} is of household {household_id}, not of this one")]
    CorrectsAnotherHousehold {
        /// The visit named.
        visit_id: Id,
        /// Its household.
        household_id: Id,
    },
    /// No need has this id.
    #[error("there is no need with id {0}")]
    NoSuchNeed(Id),
    /// No request has this id.
    #[error("there is no request with id {0}")]
    NoSuchRequest(Id),
    /// No photo has this id.
    #[error("there is no photo with id {0}")]
    NoSuchPhoto(Id),
    /// No category unit has this id.
    #[error("there is no category unit with id {0}")]
    NoSuchCategoryUnit(Id),
    /// Another admin set a unit for the same category and community at the same moment
    /// (constraint `category_units_one`); nothing was written.
    #[error("a unit for category {0:?} there was set meanwhile: read the units and try again")]
    UnitSetMeanwhile(String),
    /// No party branch has this id.
    #[error("there is no branch with id {0}")]
    NoSuchBranch(Id),
    /// No activity has this id.
    #[error("there is no activity with id {0}")]
    NoSuchActivity(Id),
    /// An activity's attendance is not its branch's roll: every member not transferred, once.
    #[error(
        "the attendance must list every member of branch {branch_id} on its roll once{}{}",
        ids_note("; missing members", missing),
        ids_note("; not on the roll", strangers)
    )]
    RollMismatch {
        /// The branch.
        branch_id: Id,
        /// Members on the roll the attendance leaves out.
        missing: Vec<Id>,
        /// Ids in the attendance that are not on the roll (or are there twice).
        strangers: Vec<Id>,
    },
    /// The activity has its three photos: it is part of the trace now and stays as it is.
    #[error("activity {0} has its three photos already: a complete activity is not changed")]
    ActivityComplete(Id),
    /// A request holds as many photos of a kind as it may.
    #[error("request {request_id} already has {max} photos of this kind")]
    TooManyPhotos {
        /// The request.
        request_id: Id,
        /// How many it may have of the kind.
        max: usize,
    },
    /// A step was decided on a version of the request that is no longer the stored one:
    /// someone else moved it meanwhile; nothing was written.
    #[error("request {id} changed meanwhile (now version {stored}, state {state}): reload it")]
    RequestChanged {
        /// The request.
        id: Id,
        /// Its version now.
        stored: i64,
        /// Its state now.
        state: crate::model::requests::RequestState,
    },
    /// A visit was sent again under the key of a stored one but with other content (constraint
    /// `visits_key`): a phone that reuses ids, or two records mixed up; nothing was stored.
    #[error(
        "the Idempotency-Key {key:?} was used for visit {visit_id} with other content; \
         send a new record under a new key"
    )]
    KeyReused {
        /// The key sent.
        key: String,
        /// The visit stored under it.
        visit_id: Id,
    },
    /// Another place has this code (constraint `places_code_key`).
    #[error("the code {0:?} is already used by another place")]
    CodeTaken(String),
    /// Another account has this name (constraint `users_name_key`).
    #[error("a user named {0:?} already exists")]
    NameTaken(String),
    /// Other places still name this one as their parent (`places.parent_id` restricts);
    /// `child` is one of them (kind and code) where the caller knows it.
    #[error(
        "place {id} still has child places{}: delete or move them first",
        one_child(child)
    )]
    HasChildren {
        /// The place still referenced as a parent.
        id: Id,
        /// One of its children, by kind and code, if known.
        child: Option<(PlaceKind, String)>,
    },
    /// An edit expected a version of a place that is no longer the stored one; nothing was
    /// written.
    #[error("place {id} is at version {stored}, not {expected}: reload it and edit again")]
    VersionMismatch {
        /// The place edited.
        id: Id,
        /// The version the edit started from.
        expected: i64,
        /// The version stored now.
        stored: i64,
    },
    /// Someone holds the area already (constraint `area_claims_one_holder`); `current` is the
    /// claim that won, if it could still be read.
    #[error("area {area_id} is already claimed{}", claimed_by(current))]
    AlreadyClaimed {
        /// The area claimed.
        area_id: Id,
        /// The current claim, if it could be read.
        current: Option<Box<Claim>>,
    },
    /// A release by someone who does not hold the area (any more); `current` is who does.
    #[error("area {area_id} is {}", held_by(current, *holder_id))]
    NotHeld {
        /// The area to release.
        area_id: Id,
        /// Who the release says holds it.
        holder_id: Id,
        /// The current claim, if any.
        current: Option<Box<Claim>>,
    },
    /// Only cadres hold areas.
    #[error("{name} is a {role}; only a cadre can hold an area")]
    NotACadre {
        /// The account's login name.
        name: String,
        /// The account's role.
        role: Role,
    },
    /// One item of a bulk write was refused; nothing of the write was stored.
    #[error("item {position} ({code}): {problem}")]
    Item {
        /// Position of the item in the write, from 0.
        position: usize,
        /// The item's code.
        code: String,
        /// Why it was refused.
        problem: ItemProblem,
    },
    /// An instant that is not in the stored form `2026-11-28T15:59:59.999Z`.
    #[error("instant {0:?} is not RFC 3339 UTC with milliseconds, like 2026-11-28T15:59:59.999Z")]
    BadInstant(String),
    /// A constraint of the schema that has no variant of its own refused the write.
    /// `clash`: the write clashed with stored rows (a unique or foreign key constraint), 409;
    /// otherwise it broke a rule of the data (a check), 422.
    #[error("{}{detail}", if *clash { "still referenced or taken: " } else { "" })]
    Refused {
        /// The constraint's name in the schema.
        name: String,
        /// Whether it clashed with stored rows (409) rather than broke a rule of the data (422).
        clash: bool,
        /// What the database says.
        detail: String,
    },
    /// What the database holds cannot be read back (a row written by something else).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The database lacks something the store needs (PostGIS, a folder for the file).
    #[error("the database cannot be set up: {0}")]
    Setup(String),
    /// The database URL names no supported backend.
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    /// Any other database failure (connection lost, database down, …).
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    /// A schema migration could not be applied when the store was opened.
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Why one item of a bulk write (an import) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemProblem {
    #[error("a {kind} has no parent, but parent_code {code:?} was given")]
    /// A district item names a parent.
    UnexpectedParent {
        /// The item's kind.
        kind: PlaceKind,
        /// The `parent_code` given.
        code: String,
    },
    #[error("a {kind} needs a parent_code naming its {want}")]
    /// An item below a district names no parent.
    MissingParent {
        /// The item's kind.
        kind: PlaceKind,
        /// The kind its parent must have.
        want: PlaceKind,
    },
    #[error("parent_code {0:?} names no stored place")]
    /// The `parent_code` names no place, neither stored nor earlier in the write.
    UnknownParent(String),
    #[error("parent_code {code:?} is a {found}, but a {kind}'s parent must be a {want}")]
    /// The `parent_code` names a place of the wrong kind.
    WrongParent {
        /// The `parent_code` given.
        code: String,
        /// The kind of place it names.
        found: PlaceKind,
        /// The item's kind.
        kind: PlaceKind,
        /// The kind its parent must have.
        want: PlaceKind,
    },
    #[error("the code is already used by a {0}")]
    /// The item's code is already used by a place of another kind (named here).
    CodeOfAnotherKind(PlaceKind),
    #[error("tag {tag:?} is not one of the configured tags: {known}")]
    /// A household carries a tag the visit plans do not know (`--visit-interval`).
    UnknownTag {
        /// The tag given.
        tag: String,
        /// The tags that are configured, comma-separated.
        known: String,
    },
    #[error("community_id {0} names no community")]
    /// A branch names a place that is not a community.
    NotACommunity(Id),
    #[error("grid {grid_id} is not a grid of community {community_id}")]
    /// A branch names a grid outside its community (or a place that is no grid).
    GridElsewhere {
        /// The grid named.
        grid_id: Id,
        /// The branch's community.
        community_id: Id,
    },
    #[error("the same code or phone is item {0} too")]
    /// Two items of one write name the same row.
    Repeated(usize),
    #[error("building_code {0:?} names no stored building")]
    /// A household's `building_code` names no building.
    UnknownBuilding(String),
    /// A constraint of the schema refused the item; `clash`: a unique or foreign key one.
    #[error("{detail}")]
    Refused {
        /// Whether it clashed with stored rows rather than broke a rule of the data.
        clash: bool,
        /// What the database says.
        detail: String,
    },
}

impl StoreError {
    /// The constraint a database error violated, by its name in the schema, and whether it was
    /// a unique one. SQLite does not name constraints in its errors: it names the columns of a
    /// unique one (`UNIQUE constraint failed: places.code`), which [`SQLITE_UNIQUE`] maps to
    /// the index's name.
    fn violation(e: &sqlx::Error) -> Option<Violation> {
        let sqlx::Error::Database(db) = e else {
            return None;
        };
        let kind = match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => Kind::Unique,
            sqlx::error::ErrorKind::ForeignKeyViolation => Kind::ForeignKey,
            sqlx::error::ErrorKind::CheckViolation | sqlx::error::ErrorKind::NotNullViolation => {
                Kind::Check
            }
            // SQLite reports a restricting foreign key as a constraint of its own kind.
            _ if db.message().contains("FOREIGN KEY constraint failed") => Kind::ForeignKey,
            _ => return None,
        };
        let name = db.constraint().map(str::to_string).or_else(|| {
            SQLITE_UNIQUE
                .iter()
                .find(|(columns, _)| db.message().ends_with(columns))
                .map(|(_, name)| name.to_string())
        });
        Some(Violation {
            kind,
            name: name.unwrap_or_else(|| "unnamed".into()),
            detail: db.message().to_string(),
        })
    }

    /// The error for an update or delete that expected place `id` at version `expected`, when
    /// it is at `stored` (`None`: gone).
    pub(crate) fn version_mismatch(id: Id, expected: i64, stored: Option<i64>) -> StoreError {
        match stored {
            None => StoreError::NoSuchPlace(id),
            Some(stored) => StoreError::VersionMismatch {
                id,
                expected,
                stored,
            },
        }
    }

    /// Whether a database error is the violation of the named constraint.
    pub(crate) fn violates(e: &sqlx::Error, constraint: &str) -> bool {
        Self::violation(e).is_some_and(|v| v.name == constraint)
    }
}

/// `; what: 1, 2` for a list of ids that is not empty.
fn ids_note(what: &str, ids: &[Id]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let ids: Vec<String> = ids.iter().map(Id::to_string).collect();
    format!("{what}: {}", ids.join(", "))
}

/// ` (kind code)` of a child place, if known.
fn one_child(child: &Option<(PlaceKind, String)>) -> String {
    child
        .as_ref()
        .map(|(kind, code)| format!(" ({kind} {code})"))
        .unwrap_or_default()
}

/// ` by 张伟 (user 7) since …` for the claim that holds an area, if known.
fn claimed_by(current: &Option<Box<Claim>>) -> String {
    current
        .as_ref()
        .map(|c| format!(" by {} since {}", c.holder.label(), c.claimed_at))
        .unwrap_or_default()
}

/// Who holds an area that `holder_id` tried to release.
fn held_by(current: &Option<Box<Claim>>, holder_id: Id) -> String {
    match current {
        None => "not claimed by anyone".into(),
        Some(c) => format!("held by {}, not by user {holder_id}", c.holder.label()),
    }
}

/// The unique indexes by the columns SQLite names when one refuses a row.
const SQLITE_UNIQUE: &[(&str, &str)] = &[
    ("places.code", "places_code_key"),
    ("users.name", "users_name_key"),
    ("area_claims.area_id", "area_claims_one_holder"),
    ("buildings.code", "buildings_code_key"),
    ("households.code", "households_code_key"),
    ("visits.user_id, visits.idempotency_key", "visits_key"),
    ("visits.corrects", "visits_one_correction"),
];

/// The constraint that refused a row: which kind and its name in the schema.
struct Violation {
    kind: Kind,
    name: String,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    ForeignKey,
    Check,
}

impl From<sqlx::Error> for StoreError {
    /// A violated constraint becomes [`StoreError::Refused`] with its name, so that the HTTP
    /// layer answers 409 or 422 instead of 500; the callers that know what a constraint means
    /// (a taken code, a second holder) test for it by name first.
    fn from(e: sqlx::Error) -> Self {
        match Self::violation(&e) {
            Some(v) => StoreError::Refused {
                name: v.name,
                clash: v.kind != Kind::Check,
                detail: v.detail,
            },
            None => StoreError::Database(e),
        }
    }
}

/// The error for a database error on one item of a bulk write.
pub(crate) fn item_error(position: usize, code: &str, e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Refused { clash, detail, .. } => StoreError::Item {
            position,
            code: code.to_string(),
            problem: ItemProblem::Refused { clash, detail },
        },
        other => other,
    }
}

/// The parent of an imported place, checked: `parent` is what its `parent_code` names.
pub(crate) fn check_parent(
    position: usize,
    place: &crate::model::NewPlace,
    parent: Option<(Id, PlaceKind)>,
) -> Result<Option<Id>, StoreError> {
    let problem = match (place.kind.parent_kind(), &place.parent_code, parent) {
        (None, None, _) => return Ok(None),
        (Some(want), Some(_), Some((id, found))) if found == want => return Ok(Some(id)),
        (None, Some(code), _) => ItemProblem::UnexpectedParent {
            kind: place.kind,
            code: code.clone(),
        },
        (Some(want), None, _) => ItemProblem::MissingParent {
            kind: place.kind,
            want,
        },
        (Some(_), Some(code), None) => ItemProblem::UnknownParent(code.clone()),
        (Some(want), Some(code), Some((_, found))) => ItemProblem::WrongParent {
            code: code.clone(),
            found,
            kind: place.kind,
            want,
        },
    };
    Err(StoreError::Item {
        position,
        code: place.code.clone(),
        problem,
    })
}
