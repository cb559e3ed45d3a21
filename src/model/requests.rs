//! Residents' requests (社情民意): a report at a spot, routed to whoever answers for it, and moved
//! through the steps of 数字城管 (上报 → 立案 → 派遣 → 处置 → 核查 → 结案) by the people allowed
//! to take each step. Every step is kept forever (留痕).

use super::Id;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// 上报: posted, waiting for whoever answers for the spot.
    Reported,
    /// 立案: taken on by the responsible cadre, a secretary or an admin.
    Accepted,
    /// 派遣: passed to a named person or unit to do the work.
    Dispatched,
    /// 处置: the assignee says it is done, with a note.
    Handled,
    /// 核查: someone other than the handler checked the work and it holds.
    Verified,
    /// 结案: closed, fixed or not ([`Request::fixed`] says which).
    Closed,
    /// Not ours to do; the note says why and the event says who decided.
    Rejected,
    /// The same as another request ([`Request::duplicate_of`]), whose reporter it now follows.
    Duplicate,
    /// Opened again after it was closed or rejected; waits as a new report does.
    Reopened,
}

impl RequestState {
    /// Every state, in the order of the workflow.
    pub const ALL: [RequestState; 9] = [
        RequestState::Reported,
        RequestState::Accepted,
        RequestState::Dispatched,
        RequestState::Handled,
        RequestState::Verified,
        RequestState::Closed,
        RequestState::Rejected,
        RequestState::Duplicate,
        RequestState::Reopened,
    ];

    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Reported => "reported",
            RequestState::Accepted => "accepted",
            RequestState::Dispatched => "dispatched",
            RequestState::Handled => "handled",
            RequestState::Verified => "verified",
            RequestState::Closed => "closed",
            RequestState::Rejected => "rejected",
            RequestState::Duplicate => "duplicate",
            RequestState::Reopened => "reopened",
        }
    }

    /// Whether work on it is still to do: Open311's `status` is `open` unless it is closed,
    /// rejected or a duplicate.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            RequestState::Closed | RequestState::Rejected | RequestState::Duplicate
        )
    }

    /// Whether a request in this state may move to `to`. From `handled`, `dispatched` is the
    /// check that failed (the work goes back, which the rework rate counts); from `dispatched`,
    /// `dispatched` passes the work to someone else.
    ///
    /// ```
    /// use wangge::model::requests::RequestState::*;
    /// assert!(Reported.may_become(Accepted));
    /// assert!(Handled.may_become(Dispatched));
    /// assert!(!Reported.may_become(Closed));
    /// assert!(!Closed.may_become(Accepted));
    /// ```
    pub fn may_become(self, to: RequestState) -> bool {
        use RequestState::*;
        matches!(
            (self, to),
            (Reported | Reopened, Accepted | Rejected | Duplicate)
                | (Accepted, Dispatched | Rejected | Duplicate | Closed)
                | (Dispatched, Dispatched | Handled | Rejected | Closed)
                | (Handled, Verified | Dispatched)
                | (Verified, Closed)
                | (Closed | Rejected | Duplicate, Reopened)
        )
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RequestState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = RequestState::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown request state {s:?}; one of {}", names.join(", "))
            })
    }
}

/// Which link of the responsible chain answers for a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// The cadre who holds the responsibility area of the spot.
    Area,
    /// The secretary who answers for the spot's grid (bound to its community).
    Grid,
    /// The community (社区) of the spot: its secretaries and the admins.
    Community,
    /// The street (街道): the admins.
    Street,
}

impl Link {
    /// Every link, nearest first: the order of escalation.
    pub const ALL: [Link; 4] = [Link::Area, Link::Grid, Link::Community, Link::Street];

    /// The name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Area => "area",
            Link::Grid => "grid",
            Link::Community => "community",
            Link::Street => "street",
        }
    }
}

impl FromStr for Link {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Link::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown link {s:?}"))
    }
}

/// Who reported, as they chose to say: personal data, shown only to those who answer for the
/// request, never in Open311's public answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    /// Their name.
    pub name: Option<String>,
    /// A phone number to call back.
    pub phone: Option<String>,
    /// An email address.
    pub email: Option<String>,
}

/// Where a request is, as memory's index placed it: the places of the chain above the spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spot {
    /// The grid the point lies in.
    pub grid_id: Id,
    /// The responsibility area the point lies in, if any.
    pub area_id: Option<Id>,
    /// The grid's community.
    pub community_id: Id,
    /// The community's street.
    pub street_id: Option<Id>,
}

/// A request as it is posted, placed and ready to store; the store finds who answers for it
/// in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// Its category ([`Category::code`]).
    pub category: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Where, in words.
    pub address: String,
    /// What is wrong.
    pub description: String,
    /// A photo somewhere else, as Open311 lets a client send one.
    pub media_url: Option<String>,
    /// The category's extra answers, as JSON object text.
    pub attributes: String,
    /// Who reported.
    pub reporter: Reporter,
    /// The household it concerns, when staff report on a resident's behalf.
    pub household_id: Option<Id>,
    /// The account that posted it (staff), if any.
    pub posted_by: Option<Id>,
    /// The places above the spot.
    pub spot: Spot,
    /// When it was posted (stored instant form).
    pub requested_at: String,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// Its id: Open311's `service_request_id` and the resident's ticket number.
    pub id: Id,
    /// Its category.
    pub category: String,
    /// Where it stands.
    pub state: RequestState,
    /// Once closed: whether the problem was fixed (结案 with or without a fix); `None` before.
    pub fixed: Option<bool>,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Where, in words.
    pub address: String,
    /// What is wrong.
    pub description: String,
    /// A photo somewhere else.
    pub media_url: Option<String>,
    /// The category's extra answers (a JSON object).
    pub attributes: serde_json::Value,
    /// Who reported (personal data).
    pub reporter: Reporter,
    /// The household it concerns (personal data).
    pub household_id: Option<Id>,
    /// The staff account that posted it.
    pub posted_by: Option<Id>,
    /// The places above the spot.
    pub spot: Spot,
    /// The link of the chain that answers for it now.
    pub link: Link,
    /// The person who answers for it now, when the link has one.
    pub responsible_id: Option<Id>,
    /// Who it was dispatched to: a person.
    pub assignee_id: Option<Id>,
    /// Who it was dispatched to: a unit (物业, 水务公司 …).
    pub assignee_unit: Option<String>,
    /// Who recorded it handled last; they may not verify it.
    pub handled_by: Option<Id>,
    /// The request this one repeats.
    pub duplicate_of: Option<Id>,
    /// How many times it was passed up the chain for being late since its current time limit
    /// began (acceptance, then the work).
    pub escalations: i32,
    /// When it was posted.
    pub requested_at: String,
    /// When it was posted or last reopened: its time limits count from here.
    pub opened_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// Grows by one with every step: what a step is decided on.
    pub version: i64,
    /// How many photos it has (`GET /api/v1/requests/{id}/photos` lists them).
    pub photos: i64,
}

/// A step to take, written whole: the request's new columns and the event that says why. The
/// store writes it only if the request is still at `expected_version` (someone else may have
/// moved it meanwhile).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestUpdate {
    /// The request's id.
    pub request_id: Id,
    /// The version the step was decided on.
    pub expected_version: i64,
    /// The new state.
    pub state: RequestState,
    /// See [`Request::fixed`].
    pub fixed: Option<bool>,
    /// See [`Request::link`].
    pub link: Link,
    /// See [`Request::responsible_id`].
    pub responsible_id: Option<Id>,
    /// See [`Request::assignee_id`].
    pub assignee_id: Option<Id>,
    /// See [`Request::assignee_unit`].
    pub assignee_unit: Option<String>,
    /// See [`Request::handled_by`].
    pub handled_by: Option<Id>,
    /// See [`Request::duplicate_of`].
    pub duplicate_of: Option<Id>,
    /// See [`Request::escalations`].
    pub escalations: i32,
    /// See [`Request::category`].
    pub category: String,
    /// See [`Request::opened_at`].
    pub opened_at: String,
    /// The state before, for the trace.
    pub from: RequestState,
    /// Who took the step; `None` for the clock.
    pub actor_id: Option<Id>,
    /// Why, or what was done.
    pub note: String,
    /// When (stored instant form).
    pub at: String,
}

/// A step taken, as the trace keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestEvent {
    /// Its id.
    pub id: Id,
    /// The request.
    pub request_id: Id,
    /// The state before; `None` for the report itself.
    pub from: Option<RequestState>,
    /// The state after.
    pub to: RequestState,
    /// Who took it; `None` for a resident's report and for the clock's escalations.
    pub actor_id: Option<Id>,
    /// Why, or what was done.
    pub note: String,
    /// Who was responsible after the step (on a report or an escalation).
    pub link: Link,
    /// The dispatched person, on dispatch.
    pub assignee_id: Option<Id>,
    /// The dispatched unit, on dispatch.
    pub assignee_unit: Option<String>,
    /// When.
    pub at: String,
}

/// When a request reached the milestones its response times count, as the request carries
/// them: one row per request, the instants read as such (no text to parse for 100,000 rows).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTiming {
    /// The request.
    pub id: Id,
    /// Its category now.
    pub category: String,
    /// Its state now.
    pub state: RequestState,
    /// Whether it closed fixed, once closed.
    pub fixed: Option<bool>,
    /// Where it was reported.
    pub spot: Spot,
    /// When it was reported.
    pub requested_at: OffsetDateTime,
    /// When it was opened last (reported or reopened): its time limits count from here.
    pub opened_at: OffsetDateTime,
    /// When it was first taken on: accepted (立案), or dispatched straight to its category's unit.
    pub accepted_at: Option<OffsetDateTime>,
    /// Its first handling (处置: someone was at the door).
    pub handled_at: Option<OffsetDateTime>,
    /// Its last closing.
    pub closed_at: Option<OffsetDateTime>,
    /// How often a check failed and the work went back (handled → dispatched).
    pub reworks: i64,
}

/// Which requests to read: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestFilter {
    /// Of these ids (Open311's comma-separated `service_request_id`).
    pub ids: Option<Vec<Id>>,
    /// Of this category.
    pub category: Option<String>,
    /// Open (`true`) or not (`false`), as Open311's `status` says.
    pub open: Option<bool>,
    /// Posted at or after this instant (stored form).
    pub since: Option<String>,
    /// Posted before this instant (stored form).
    pub until: Option<String>,
    /// In this community.
    pub community_id: Option<Id>,
    /// Waiting on this person: they answer for it or it was dispatched to them.
    pub involving: Option<Id>,
    /// Inside this box (west, south, east, north), WGS84.
    pub bbox: Option<[f64; 4]>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// An extra question a category asks (Open311's service `attributes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    /// Its key in the posted `attribute[code]`.
    pub code: &'static str,
    /// The question, for people.
    pub description: &'static str,
    /// Whether a report must answer it.
    pub required: bool,
    /// The answers allowed, as (key, name) pairs; empty for free text.
    pub values: &'static [(&'static str, &'static str)],
}

/// A kind of problem residents report, with its time limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Open311's `service_code`.
    pub code: &'static str,
    /// Its name, in Chinese.
    pub name: &'static str,
    /// What belongs here.
    pub description: &'static str,
    /// Open311's `group`.
    pub group: &'static str,
    /// Working hours to accept (立案) a report.
    pub accept_hours: u32,
    /// Working days from the report to the work done (处置).
    pub handle_days: u32,
    /// Extra questions.
    pub attributes: &'static [Attribute],
}

const YES_NO: &[(&str, &str)] = &[("yes", "是"), ("no", "否")];

/// The categories a street starts with.
pub const CATEGORIES: &[Category] = &[
    Category {
        code: "repair",
        name: "家庭维修",
        description: "水、电、燃气、热水器等入户维修求助",
        group: "民生服务",
        accept_hours: 2,
        handle_days: 1,
        attributes: &[Attribute {
            code: "appliance",
            description: "需要维修的是什么",
            required: true,
            values: &[
                ("water_heater", "热水器"),
                ("plumbing", "水管"),
                ("electric", "电路"),
                ("gas", "燃气"),
                ("door_window", "门窗"),
                ("other", "其他"),
            ],
        }],
    },
    Category {
        code: "elderly_care",
        name: "养老助残",
        description: "独居老人、残疾人的生活照料和紧急求助",
        group: "民生服务",
        accept_hours: 1,
        handle_days: 1,
        attributes: &[Attribute {
            code: "urgent",
            description: "是否紧急（有人身安全风险）",
            required: false,
            values: YES_NO,
        }],
    },
    Category {
        code: "sanitation",
        name: "环境卫生",
        description: "垃圾堆放、污水、楼道杂物",
        group: "城市管理",
        accept_hours: 4,
        handle_days: 2,
        attributes: &[],
    },
    Category {
        code: "safety",
        name: "安全隐患",
        description: "消防通道堵塞、电动车楼道充电、危险建筑",
        group: "平安建设",
        accept_hours: 2,
        handle_days: 1,
        attributes: &[],
    },
    Category {
        code: "facilities",
        name: "公共设施",
        description: "路灯、井盖、健身器材、楼道灯损坏",
        group: "城市管理",
        accept_hours: 4,
        handle_days: 3,
        attributes: &[],
    },
    Category {
        code: "dispute",
        name: "邻里纠纷",
        description: "噪音、漏水、占用公共空间等邻里矛盾",
        group: "平安建设",
        accept_hours: 8,
        handle_days: 5,
        attributes: &[],
    },
    Category {
        code: "other",
        name: "其他",
        description: "其他社情民意",
        group: "其他",
        accept_hours: 8,
        handle_days: 5,
        attributes: &[],
    },
];

/// The category with this code.
pub fn category(code: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_every_open_state_can_end() {
        for state in RequestState::ALL {
            assert_eq!(state.as_str().parse::<RequestState>().unwrap(), state);
            // No state is a dead end but the three that are not open, and those reopen.
            let next: Vec<_> = RequestState::ALL
                .into_iter()
                .filter(|&to| state.may_become(to))
                .collect();
            assert!(!next.is_empty(), "{state} leads nowhere");
            if !state.is_open() {
                assert_eq!(next, [RequestState::Reopened], "{state}");
            }
        }
        assert!("lost".parse::<RequestState>().is_err());
        for link in Link::ALL {
            assert_eq!(link.as_str().parse::<Link>().unwrap(), link);
        }
    }

    #[test]
    fn category_codes_are_unique_and_found() {
        for (i, c) in CATEGORIES.iter().enumerate() {
            assert!(CATEGORIES[i + 1..].iter().all(|o| o.code != c.code));
            assert_eq!(category(c.code), Some(c));
            assert!(c.accept_hours > 0 && c.handle_days > 0);
        }
        assert!(category("weather").is_none());
    }
}
