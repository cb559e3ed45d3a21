//! Claims (认领) of responsibility areas (民情责任田): a cadre answers for an area until the
//! claim ends by release, by an admin's reassignment or by the area's deletion.
//!
//! Timestamps are RFC 3339 in UTC with milliseconds (`2026-11-28T08:00:00.000Z`), the same text
//! on both backends, so that they sort and compare as the instants they name.

use super::Id;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Who holds an area, as the map and the lookup show them: a name to call and a number to ring.
///
/// Serialized as `{"id","display_name","phone"}`: residents call a holder by the name people
/// know them by, and the login name, half of what a password guesser needs, is never part of
/// an answer (only of the admins' trace, see [`crate::store`]'s claim audit records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The user's id.
    pub id: Id,
    /// The login name; kept for the trace, never serialized.
    #[serde(skip_serializing)]
    pub name: String,
    /// The name people know them by (张伟), if given.
    pub display_name: Option<String>,
    /// A contact number to ring, if given.
    pub phone: Option<String>,
}

impl Holder {
    /// How a holder is named in messages: `张伟 (user 7)`, or `user 7` without a display name.
    /// Never the login name: these messages reach any signed-in cadre, and login names are half
    /// of a password guess.
    pub fn label(&self) -> String {
        match &self.display_name {
            Some(shown) => format!("{shown} (user {})", self.id),
            None => format!("user {}", self.id),
        }
    }
}

/// How a claim ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimEnd {
    /// The holder (or an admin for them) let the area go.
    Release,
    /// An admin gave the area to another cadre.
    Reassign,
    /// The area was deleted.
    Delete,
}

impl ClaimEnd {
    /// The name stored in the database and used in the API (`"release"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimEnd::Release => "release",
            ClaimEnd::Reassign => "reassign",
            ClaimEnd::Delete => "delete",
        }
    }
}

impl fmt::Display for ClaimEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClaimEnd {
    type Err = super::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [ClaimEnd::Release, ClaimEnd::Reassign, ClaimEnd::Delete]
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| super::UnknownName(s.to_string()))
    }
}

/// One claim of an area, current (`released_at` `None`) or ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The claim's database id.
    pub id: Id,
    /// The responsibility area (民情责任田) claimed.
    pub area_id: Id,
    /// The cadre who holds or held the area.
    pub holder: Holder,
    /// When the claim began, RFC 3339 UTC with milliseconds.
    pub claimed_at: String,
    /// When the claim ended, RFC 3339 UTC with milliseconds; `None` while it is current.
    pub released_at: Option<String>,
    /// How the claim ended; `None` while it is current.
    pub ended_by: Option<ClaimEnd>,
    /// Who ended it (the holder, an admin, the planner who deleted the area).
    pub ended_by_user: Option<Id>,
}

/// An area a user holds now, with the number of households in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldArea {
    /// The area's database id.
    pub id: Id,
    /// The area's code.
    pub code: String,
    /// The area's Chinese name.
    pub name: String,
    /// When the user claimed it, RFC 3339 UTC with milliseconds.
    pub claimed_at: String,
    /// Households whose responsibility areas include this one.
    pub households: i64,
}
