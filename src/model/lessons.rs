//! 微课堂: short lessons a secretary or an admin pushes to the members of some branches (or all),
//! mobile members included. Members have no accounts: each gets a link of their own, and opening
//! it counts as reading.

use super::Id;
use serde::Serialize;

/// A lesson with how far it reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lesson {
    /// Its database id.
    pub id: Id,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// A video or page to watch, if any.
    pub link: Option<String>,
    /// Who sent it.
    pub sent_by: Id,
    /// When, RFC 3339 UTC with milliseconds.
    pub sent_at: String,
    /// The branches it went to, ascending.
    pub branch_ids: Vec<Id>,
    /// How many members it went to.
    pub recipients: u64,
    /// How many of them opened it.
    pub reads: u64,
}

/// A lesson to send, with the link token of each recipient (only their hashes are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLesson {
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// A video or page, http(s).
    pub link: Option<String>,
    /// The branches it goes to: every member on their rolls (not transferred) gets it.
    pub branch_ids: Vec<Id>,
    /// Who sends it.
    pub sent_by: Id,
    /// When, RFC 3339 UTC with milliseconds.
    pub sent_at: String,
}

/// A member a lesson went to, with the hash of their link's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonRecipient {
    /// The member.
    pub member_id: Id,
    /// Their branch.
    pub branch_id: Id,
    /// SHA-256 of their token, hex.
    pub token_hash: String,
}
