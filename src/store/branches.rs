//! The part of the storage contract about party branches: their members, their activities with
//! roll and photos, the lessons sent to their members, and the counts of the screen that shows
//! their work with the rest. [`super::Store`] includes it, so a
//! store is one contract; it is written apart only to keep each file about one thing.

use super::{Result, WriteSummary};
use crate::model::Id;
use crate::model::branches::{
    Activity, ActivityFilter, ActivityPhoto, ActivityPhotoBytes, AttendanceLine, Branch, Member,
    NewActivity, NewActivityPhoto, NewBranch, NewMember,
};
use crate::model::lessons::{Lesson, LessonRecipient, NewLesson};
use crate::model::photos::PhotoCopy;
use crate::model::summary::{SummaryCounts, SummaryScope};
use async_trait::async_trait;

/// Branches, members, activities and lessons. Every method is one transaction.
#[async_trait]
pub trait BranchStore: Send + Sync {
    /// Every branch with its grids, ordered by code.
    async fn branches(&self) -> Result<Vec<Branch>>;

    /// Creates branches and updates those whose code exists (name, community, and grids, which
    /// are replaced), with an audit record each (entity `branch`): all or, on the first error,
    /// none. A community that is none is [`super::ItemProblem::NotACommunity`], a grid that is
    /// not one of the community's [`super::ItemProblem::GridElsewhere`].
    async fn upsert_branches(&self, branches: &[NewBranch], by: Option<Id>)
    -> Result<WriteSummary>;

    /// The members of a branch, ordered by id, transferred ones included.
    async fn members(&self, branch_id: Id) -> Result<Vec<Member>>;

    /// Puts members on a branch's roll, matched by phone: a phone stored already updates that
    /// member (and moves them here from another branch), another is a new member. All or, on the
    /// first error, none; one audit record (entity `branch`, action `import_members`) with the
    /// counts. An unknown branch is [`super::StoreError::NoSuchBranch`].
    async fn import_members(
        &self,
        branch_id: Id,
        members: &[NewMember],
        by: Option<Id>,
    ) -> Result<WriteSummary>;

    /// Records an activity and its roll. The attendance must name every member of the branch
    /// who is not transferred, once ([`super::StoreError::RollMismatch`] otherwise, read in the
    /// same transaction). Returns it as stored, a draft without photos.
    async fn record_activity(&self, activity: &NewActivity) -> Result<Activity>;

    /// The activities `filter` asks for, newest first, with their rolls and photos.
    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>>;

    /// The activity with this id, or `None`.
    async fn activity(&self, id: Id) -> Result<Option<Activity>> {
        let filter = ActivityFilter {
            ids: Some(vec![id]),
            limit: 1,
            ..ActivityFilter::default()
        };
        Ok(self.activities(&filter).await?.pop())
    }

    /// Keeps a photo of an activity, replacing the one of its kind, while the activity is a
    /// draft; once the three are in it is [`super::StoreError::ActivityComplete`] (decided under
    /// the activity's lock). Returns the photo and whether it replaced one.
    async fn put_activity_photo(&self, photo: &NewActivityPhoto) -> Result<(ActivityPhoto, bool)>;

    /// One copy of an activity's photo, if there is such a photo.
    async fn activity_photo(&self, id: Id, copy: PhotoCopy) -> Result<Option<ActivityPhotoBytes>>;

    /// The roll lines of the complete activities held at or after `since` and before `until`
    /// (stored instants), oldest first: what attendance rates are computed from.
    async fn attendance_lines(&self, since: &str, until: &str) -> Result<Vec<AttendanceLine>>;

    /// The members on the rolls of these branches now (not transferred), ordered by id.
    async fn rolls(&self, branch_ids: &[Id]) -> Result<Vec<Member>>;

    /// Stores a lesson and who it went to, in one transaction; returns it.
    async fn send_lesson(
        &self,
        lesson: &NewLesson,
        recipients: &[LessonRecipient],
    ) -> Result<Lesson>;

    /// The counts of the screen's summary for `scope`, each one query in the database.
    async fn summary_counts(&self, scope: &SummaryScope) -> Result<SummaryCounts>;

    /// Every lesson with its reach, newest first.
    async fn lessons(&self) -> Result<Vec<Lesson>>;

    /// The lesson a recipient's token opens, marking it read at `at` the first time; `None`
    /// for a token no recipient has.
    async fn open_lesson(&self, token_hash: &str, at: &str) -> Result<Option<Lesson>>;
}
