//! Party branches (党支部), their members and their activities (三会一课 and themed days). A
//! branch belongs to a community and serves some of its grids; an activity leaves a trace
//! (留痕) of a theme, a time, a place, the roll and three photos, and counts only once the three
//! photos are in.

use super::Id;
use serde::Serialize;

/// A party branch: public, without its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Branch {
    /// Its database id.
    pub id: Id,
    /// Its code, unique.
    pub code: String,
    /// Its name, e.g. 香港花园社区第一网格党支部.
    pub name: String,
    /// The community whose party committee it belongs to.
    pub community_id: Id,
    /// The grids it serves, ascending.
    pub grid_ids: Vec<Id>,
}

/// A branch to create or update, matched by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBranch {
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its community.
    pub community_id: Id,
    /// The grids it serves: all in its community.
    pub grid_ids: Vec<Id>,
}

named_enum! {
    /// Where a member stands with their branch.
    pub enum MemberStatus("a member's status") {
        /// Lives and takes part here.
        Active = "active",
        /// 流动党员: works in another city and takes part online.
        Mobile = "mobile",
        /// Moved to another branch's roll: kept for the past, off the roll now.
        Transferred = "transferred",
    }
}

/// A party member: personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Its database id.
    pub id: Id,
    /// The branch whose roll they are on.
    pub branch_id: Id,
    /// Their name.
    pub name: String,
    /// Their phone: how imports know them, and where lessons reach them.
    pub phone: String,
    /// The day they joined the party, `YYYY-MM-DD`.
    pub joined_on: String,
    /// Where they stand.
    pub status: MemberStatus,
    /// The city a mobile member is in.
    pub city: Option<String>,
}

/// A member as an import or a form gives them; matched by phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    /// Their name.
    pub name: String,
    /// Their phone.
    pub phone: String,
    /// `YYYY-MM-DD`.
    pub joined_on: String,
    /// Where they stand.
    pub status: MemberStatus,
    /// The city, for a mobile member only.
    pub city: Option<String>,
}

named_enum! {
    /// The kinds of activity of 三会一课 and the themed party day.
    pub enum ActivityType("an activity's type") {
        /// 支部党员大会.
        GeneralMeeting = "general_meeting",
        /// 支委会.
        CommitteeMeeting = "committee_meeting",
        /// 党小组会.
        GroupMeeting = "group_meeting",
        /// 党课.
        PartyLecture = "party_lecture",
        /// 主题党日.
        ThemeDay = "theme_day",
    }
}

impl ActivityType {
    /// Its Chinese name.
    pub fn name(self) -> &'static str {
        match self {
            ActivityType::GeneralMeeting => "支部党员大会",
            ActivityType::CommitteeMeeting => "支委会",
            ActivityType::GroupMeeting => "党小组会",
            ActivityType::PartyLecture => "党课",
            ActivityType::ThemeDay => "主题党日",
        }
    }
}

named_enum! {
    /// How a member on the roll took part.
    pub enum AttendanceStatus("an attendance") {
        /// Was there.
        Present = "present",
        /// Took part online (a mobile member, often).
        Online = "online",
        /// Was not, with a reason.
        Absent = "absent",
    }
}

/// One line of an activity's roll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attendance {
    /// The member.
    pub member_id: Id,
    /// How they took part.
    pub status: AttendanceStatus,
    /// Why they were absent.
    pub reason: Option<String>,
}

named_enum! {
    /// The three photos every activity needs.
    pub enum ActivityPhotoKind("an activity photo's kind") {
        /// The group photo (合影).
        Group = "group",
        /// The signed attendance sheet (签到表).
        SignIn = "sign_in",
        /// The minutes (会议记录).
        Minutes = "minutes",
    }
}

named_enum! {
    /// What looked wrong about a photo against its activity: flagged for review, not refused.
    pub enum PhotoFlag("a photo flag") {
        /// The camera's time is more than [`FLAG_HOURS`] from the activity's.
        TimeFar = "time_far",
        /// The camera's position is more than [`FLAG_METRES`] from the activity's place.
        PlaceFar = "place_far",
        /// The photo says nothing of when it was taken.
        NoTime = "no_time",
        /// The photo says nothing of where it was taken.
        NoPlace = "no_place",
    }
}

/// A photo taken this many hours from the activity's time is flagged.
pub const FLAG_HOURS: i64 = 12;
/// A photo taken this many metres from the activity's place is flagged.
pub const FLAG_METRES: f64 = 1_000.0;

/// A photo of an activity, without its bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityPhoto {
    /// Its database id.
    pub id: Id,
    /// Which of the three.
    pub kind: ActivityPhotoKind,
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    /// Width, upright, in pixels.
    pub width: u32,
    /// Height, upright, in pixels.
    pub height: u32,
    /// When the camera says it was taken (RFC 3339), if it says.
    pub taken_at: Option<String>,
    /// What looked wrong, for review.
    pub flags: Vec<PhotoFlag>,
    /// When it was uploaded.
    pub at: String,
}

/// An activity with its roll and its photos.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    /// Its database id.
    pub id: Id,
    /// The branch that held it.
    pub branch_id: Id,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// Its theme.
    pub theme: String,
    /// When it was held, RFC 3339.
    pub held_at: String,
    /// WGS84 longitude of where.
    pub lon: f64,
    /// WGS84 latitude of where.
    pub lat: f64,
    /// Who recorded it.
    pub recorded_by: Id,
    /// When.
    pub recorded_at: String,
    /// The roll.
    pub attendance: Vec<Attendance>,
    /// Its photos, at most one of each kind.
    pub photos: Vec<ActivityPhoto>,
}

impl Activity {
    /// Whether its three photos are in: only then does it count.
    pub fn complete(&self) -> bool {
        ActivityPhotoKind::ALL
            .iter()
            .all(|k| self.photos.iter().any(|p| p.kind == *k))
    }

    /// Those present or online over the roll, from 0 to 1; `None` for an empty roll.
    ///
    /// ```
    /// use wangge::model::branches::*;
    /// let line = |member_id, status| Attendance { member_id, status, reason: None };
    /// let activity = Activity {
    ///     id: 1, branch_id: 1, kind: ActivityType::ThemeDay, theme: "学习".into(),
    ///     held_at: "2026-12-01T01:00:00.000Z".into(), lon: 120.37, lat: 36.05,
    ///     recorded_by: 1, recorded_at: "2026-12-01T02:00:00.000Z".into(),
    ///     attendance: vec![
    ///         line(1, AttendanceStatus::Present),
    ///         line(2, AttendanceStatus::Online),
    ///         line(3, AttendanceStatus::Absent),
    ///         line(4, AttendanceStatus::Present),
    ///     ],
    ///     photos: vec![],
    /// };
    /// assert_eq!(activity.attendance_rate(), Some(0.75));
    /// assert!(!activity.complete());
    /// ```
    pub fn attendance_rate(&self) -> Option<f64> {
        let took_part = self
            .attendance
            .iter()
            .filter(|a| a.status != AttendanceStatus::Absent)
            .count();
        (!self.attendance.is_empty()).then(|| took_part as f64 / self.attendance.len() as f64)
    }
}

/// An activity as a secretary records it, its place in WGS84 already.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// The branch.
    pub branch_id: Id,
    /// Its type.
    pub kind: ActivityType,
    /// Its theme.
    pub theme: String,
    /// When it was held, RFC 3339 UTC with milliseconds.
    pub held_at: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Who records it.
    pub recorded_by: Id,
    /// When, RFC 3339 UTC with milliseconds.
    pub recorded_at: String,
    /// The roll: every member of the branch not transferred.
    pub attendance: Vec<Attendance>,
}

/// A photo of an activity to keep, processed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivityPhoto {
    /// The activity.
    pub activity_id: Id,
    /// Which of the three.
    pub kind: ActivityPhotoKind,
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    /// Upright width.
    pub width: u32,
    /// Upright height.
    pub height: u32,
    /// As uploaded.
    pub original: Vec<u8>,
    /// Re-encoded without metadata.
    pub public: Vec<u8>,
    /// Small, without metadata.
    pub thumbnail: Vec<u8>,
    /// The camera's time, RFC 3339 UTC.
    pub taken_at: Option<String>,
    /// The camera's position, WGS84 (lon, lat).
    pub taken_position: Option<(f64, f64)>,
    /// What looked wrong.
    pub flags: Vec<PhotoFlag>,
    /// Who uploaded it.
    pub uploaded_by: Id,
    /// When.
    pub at: String,
}

/// Which activities to read, newest first (by the time they were held, then by id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityFilter {
    /// Only these activities.
    pub ids: Option<Vec<Id>>,
    /// Only these branches' activities.
    pub branch_ids: Option<Vec<Id>>,
    /// Only activities after this one in the order (held earlier, or at the same instant with a
    /// smaller id): the held time (RFC 3339 UTC with milliseconds) and the id of the last
    /// activity of the previous page.
    pub after: Option<(String, Id)>,
    /// At most this many.
    pub limit: usize,
}

/// One copy of an activity's photo, with what decides who may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPhotoBytes {
    /// The activity.
    pub activity_id: Id,
    /// Its branch.
    pub branch_id: Id,
    /// Which of the three.
    pub kind: ActivityPhotoKind,
    /// Its media type.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// One line of the roll of a complete activity, for attendance rates over time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceLine {
    /// The activity.
    pub activity_id: Id,
    /// The branch that held the activity.
    pub branch_id: Id,
    /// The member on its roll.
    pub member_id: Id,
    /// When the activity was held, RFC 3339 UTC with milliseconds.
    pub held_at: String,
    /// How they took part.
    pub status: AttendanceStatus,
}
