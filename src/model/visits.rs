//! The visit diary (民情日记): a cadre's record of each visit to a household, made on a phone at
//! the door, and the needs (诉求) a visit finds, each open until someone meets it.

use super::Id;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a visit found a household needs; the street reads from these what to buy and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedKind {
    /// A smart wristband (智能手环) for someone who lives alone.
    Wristband,
    /// A fire extinguisher (灭火器).
    Extinguisher,
    /// Anti-climb spikes (防爬刺) on a drainpipe.
    AntiClimb,
    /// A door bolt (推拉栓).
    DoorBolt,
    /// Something in the home to repair.
    Repair,
    /// Medical help.
    Medical,
    /// Anything else; the note says what.
    Other,
}

impl NeedKind {
    /// Every kind, in the order of the statistics.
    pub const ALL: [NeedKind; 7] = [
        NeedKind::Wristband,
        NeedKind::Extinguisher,
        NeedKind::AntiClimb,
        NeedKind::DoorBolt,
        NeedKind::Repair,
        NeedKind::Medical,
        NeedKind::Other,
    ];

    /// Its place in [`NeedKind::ALL`].
    fn index(self) -> usize {
        self as usize
    }

    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            NeedKind::Wristband => "wristband",
            NeedKind::Extinguisher => "extinguisher",
            NeedKind::AntiClimb => "anti_climb",
            NeedKind::DoorBolt => "door_bolt",
            NeedKind::Repair => "repair",
            NeedKind::Medical => "medical",
            NeedKind::Other => "other",
        }
    }
}

impl fmt::Display for NeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NeedKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NeedKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = NeedKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown need type {s:?}; one of {}", names.join(", "))
            })
    }
}

/// Open needs of one household (or grid) by kind: what the `needs` tile layer sums per grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeedCounts([u32; NeedKind::ALL.len()]);

impl NeedCounts {
    /// The open needs among `needs` (met ones are not counted).
    ///
    /// ```
    /// use wangge::model::visits::NeedCounts;
    /// assert_eq!(NeedCounts::open_of(&[]).total(), 0);
    /// ```
    pub fn open_of<'a>(needs: impl IntoIterator<Item = &'a Need>) -> NeedCounts {
        let mut counts = NeedCounts::default();
        for need in needs.into_iter().filter(|n| n.met_at.is_none()) {
            counts.0[need.kind.index()] += 1;
        }
        counts
    }

    /// How many of `kind` are open.
    pub fn get(&self, kind: NeedKind) -> u32 {
        self.0[kind.index()]
    }

    /// How many are open, of every kind.
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &NeedCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// A need as a visit records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewNeed {
    /// What is needed.
    #[serde(rename = "type")]
    pub kind: NeedKind,
    /// In the cadre's words.
    pub note: String,
}

/// A visit to be stored; the application layer has checked who records it, where and when.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVisit {
    /// The household visited.
    pub household_id: Id,
    /// The cadre (or admin) who records it.
    pub user_id: Id,
    /// The phone's own id for the record (its `Idempotency-Key`): unique per user, so that a
    /// resend after a lost answer stores nothing new.
    pub key: String,
    /// A digest of what was sent, to tell a resend (same digest) from a reused key.
    pub digest: String,
    /// When the visit happened, in the stored instant form ([`crate::timestamp`]).
    pub visited_at: String,
    /// Where the phone was, WGS84 longitude.
    pub lon: f64,
    /// Where the phone was, WGS84 latitude.
    pub lat: f64,
    /// The accuracy the phone stated, in metres, if it did.
    pub accuracy_m: Option<f64>,
    /// Metres on the ground from the household (0 inside its building's footprint).
    pub distance_m: f64,
    /// Whether the position counts as at the door (see `app::visits::on_site`).
    pub on_site: bool,
    /// What the cadre wrote.
    pub notes: String,
    /// What the visit found the household needs.
    pub needs: Vec<NewNeed>,
    /// The visit this one corrects, which is kept as it was and marked corrected.
    pub corrects: Option<Id>,
}

/// A need as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Need {
    /// The database id.
    pub id: Id,
    /// The visit that found it.
    pub visit_id: Id,
    /// The household that needs it.
    pub household_id: Id,
    /// What is needed.
    #[serde(rename = "type")]
    pub kind: NeedKind,
    /// In the cadre's words.
    pub note: String,
    /// When someone marked it met; `None` while it is open.
    pub met_at: Option<String>,
    /// Who marked it met.
    pub met_by: Option<Id>,
}

/// A visit as stored, with the needs it found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visit {
    /// The database id.
    pub id: Id,
    /// The household visited.
    pub household_id: Id,
    /// Who recorded it.
    pub user_id: Id,
    /// When it happened (stored instant form).
    pub visited_at: String,
    /// When the server stored it.
    pub recorded_at: String,
    /// Where the phone was, WGS84.
    pub lon: f64,
    /// Where the phone was, WGS84.
    pub lat: f64,
    /// The accuracy the phone stated, in metres.
    pub accuracy_m: Option<f64>,
    /// Metres on the ground from the household.
    pub distance_m: f64,
    /// Whether it counts as a visit at the door.
    pub on_site: bool,
    /// What the cadre wrote.
    pub notes: String,
    /// The visit this one corrects.
    pub corrects: Option<Id>,
    /// The visit that corrects this one; a corrected visit counts no more.
    pub corrected_by: Option<Id>,
    /// What it found.
    pub needs: Vec<Need>,
}

/// The latest visits of one household, which is all the plans and the coverage need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastVisits {
    /// The household.
    pub household_id: Id,
    /// Its latest visit of any kind (stored instant form).
    pub any: String,
    /// Its latest on-site visit, if it had one.
    pub on_site: Option<String>,
}

/// One cadre's work over a period: what the 先锋榜 ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadreWork {
    /// The cadre.
    pub user_id: Id,
    /// The name people know them by, if given.
    pub display_name: Option<String>,
    /// Their visits at the door in the period.
    pub on_site_visits: i64,
    /// The needs they marked met in the period.
    pub needs_met: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_counts_in_its_own_slot() {
        for (i, kind) in NeedKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind}");
        }
        let need = |kind, met: bool| Need {
            id: 1,
            visit_id: 1,
            household_id: 1,
            kind,
            note: String::new(),
            met_at: met.then(|| "2026-11-30T08:00:00.000Z".to_string()),
            met_by: met.then_some(2),
        };
        let needs = [
            need(NeedKind::Wristband, false),
            need(NeedKind::Wristband, false),
            need(NeedKind::DoorBolt, true),
            need(NeedKind::Other, false),
        ];
        let counts = NeedCounts::open_of(&needs);
        assert_eq!(counts.get(NeedKind::Wristband), 2);
        assert_eq!(counts.get(NeedKind::DoorBolt), 0);
        assert_eq!(counts.total(), 3);
        let mut sum = counts;
        sum.add(&counts);
        assert_eq!(sum.get(NeedKind::Other), 2);
    }
}
