//! The figures of one unit (a street, a community or a grid) that the screen (党建信息屏) shows,
//! as the database counts them.

use super::Id;
use serde::Serialize;

/// What to count: the grids of the unit and the branches that belong to it, with the windows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryScope {
    /// The unit's grids.
    pub grid_ids: Vec<Id>,
    /// The branches of the unit (of its communities, or serving its grid).
    pub branch_ids: Vec<Id>,
    /// Households visited at the door at or after this instant count as covered.
    pub visited_since: String,
    /// Complete activities held at or after this instant (the quarter's start) count.
    pub activities_since: String,
}

/// Counts of rows, as the database returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SummaryCounts {
    /// Households in the unit's grids.
    pub households: u64,
    /// Of those, visited at the door since `visited_since`.
    pub visited: u64,
    /// Members on the rolls of the unit's branches (transferred ones not).
    pub members: u64,
    /// Of those, mobile members (流动党员).
    pub mobile_members: u64,
    /// Requests in the unit's grids that are open now.
    pub open_requests: u64,
    /// Complete activities of the unit's branches since `activities_since`.
    pub activities: u64,
    /// Lines of their rolls that were present or online.
    pub took_part: u64,
    /// Lines of their rolls.
    pub roll_lines: u64,
}
