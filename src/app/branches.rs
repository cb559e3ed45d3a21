//! Party branches (党支部) as their secretaries and the admins use them: the branches and the
//! grids they serve, the rolls (personal data, for those who manage the branch), the activities
//! with their rolls and three photos, checked against what each photo's camera says, and the
//! community feed in which every branch sees the others' work. Who may do what is decided in
//! [`super::access`].

use super::App;
use super::access::{manages_branch, reads_feed};
use super::members_csv::{RowProblem, members_from_csv};
use crate::auth::User;
use crate::model::Id;
use crate::model::branches::{
    Activity, ActivityFilter, ActivityPhoto, ActivityPhotoBytes, ActivityPhotoKind, ActivityType,
    Attendance, AttendanceStatus, Branch, FLAG_HOURS, FLAG_METRES, Member, NewActivity,
    NewActivityPhoto, NewBranch, PhotoFlag,
};
use crate::model::photos::PhotoCopy;
use crate::photos::camera::camera;
use crate::store::{StoreError, WriteSummary};
use geo::{Distance, Haversine, Point};
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The longest theme, in characters.
pub const MAX_THEME_CHARS: usize = 200;
/// The longest reason for an absence, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// The most activities one page of a feed holds.
pub const MAX_FEED_PAGE: usize = 100;
/// How far ahead of now an activity may be dated: a phone's clock may run a little fast, but an
/// activity is recorded once it was held.
const FUTURE_SLACK: time::Duration = time::Duration::hours(1);

/// Why a use case about branches was refused.
#[derive(Debug, thiserror::Error)]
pub enum BranchError {
    /// The caller does not manage this branch.
    #[error("branch {0} is not one you manage")]
    NotYourBranch(Id),
    /// The caller does not read this community's feed.
    #[error("community {0} is not yours: its secretaries and the admins read its branches' work")]
    NotYourCommunity(Id),
    /// A secretary bound to no branch, or an admin, must say which branch.
    #[error("name the branch_id: you are bound to no branch")]
    WhichBranch,
    /// A roll in CSV had problems; nothing was written.
    #[error("the roll has {} problem(s), the first on line {}: {}", .0.len(), .0[0].line, .0[0].problem)]
    BadRoll(Vec<RowProblem>),
    /// A field is out of bounds or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The activity is dated after now.
    #[error("held_at {0} is in the future: record an activity once it was held")]
    InTheFuture(String),
    /// A photo was refused.
    #[error(transparent)]
    Photo(#[from] crate::photos::PhotoError),
    /// Too much image work is in line; try again shortly.
    #[error(transparent)]
    Busy(#[from] super::cpu::Busy),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An activity as a secretary records it; its place in WGS84 already.
#[derive(Debug, Clone)]
pub struct ActivityInput {
    /// The branch; the caller's own when they are bound to one.
    pub branch_id: Option<Id>,
    /// 三会一课 or 主题党日.
    pub kind: ActivityType,
    /// Its theme.
    pub theme: String,
    /// When it was held, in the stored form.
    pub held_at: String,
    /// Where, WGS84 (lon, lat).
    pub place: (f64, f64),
    /// The roll.
    pub attendance: Vec<Attendance>,
}

/// An activity as one caller may see it: names on its roll only for those who manage its
/// branch.
#[derive(Debug, Clone)]
pub struct ActivityView {
    /// The activity.
    pub activity: Activity,
    /// Its branch.
    pub branch: Branch,
    /// The names of the members on its roll, by id, if the caller manages the branch.
    pub names: Option<HashMap<Id, String>>,
}

impl App {
    /// Every branch, by code: public.
    pub fn branches(&self) -> Arc<Vec<Branch>> {
        self.map_data().branches.clone()
    }

    /// The branch with this id.
    pub fn branch(&self, id: Id) -> Result<Branch, StoreError> {
        self.map_data()
            .branches
            .iter()
            .find(|b| b.id == id)
            .cloned()
            .ok_or(StoreError::NoSuchBranch(id))
    }

    /// Creates or updates branches by code (an admin's, or the operator's at the command line),
    /// then reads them into memory.
    pub async fn import_branches(
        &self,
        branches: &[NewBranch],
        by: Option<Id>,
    ) -> Result<WriteSummary, StoreError> {
        for branch in branches {
            let chars = branch.name.trim().chars().count();
            if chars == 0 || chars > 100 || branch.code.is_empty() || branch.code.len() > 64 {
                return Err(StoreError::Refused {
                    name: "branches".into(),
                    clash: false,
                    detail: format!(
                        "branch {:?}: a code has 1 to 64 bytes and a name 1 to 100 characters",
                        branch.code
                    ),
                });
            }
        }
        let summary = self.store.upsert_branches(branches, by).await?;
        self.reload().await?;
        Ok(summary)
    }

    /// The branch `id` if `user` manages it.
    fn managed(&self, user: &User, id: Id) -> Result<Branch, BranchError> {
        let branch = self.branch(id)?;
        if manages_branch(user, &branch) {
            Ok(branch)
        } else {
            Err(BranchError::NotYourBranch(id))
        }
    }

    /// The members of a branch, for those who manage it.
    pub async fn members(&self, user: &User, branch_id: Id) -> Result<Vec<Member>, BranchError> {
        self.managed(user, branch_id)?;
        Ok(self.store.members(branch_id).await?)
    }

    /// Puts the members of a CSV roll on a branch (matched by phone), for those who manage it:
    /// every row is checked first, and the write is all or nothing.
    pub async fn import_members(
        &self,
        user: &User,
        branch_id: Id,
        csv: &str,
    ) -> Result<WriteSummary, BranchError> {
        self.managed(user, branch_id)?;
        let today = &crate::timestamp::now()[..10];
        let members = members_from_csv(csv, today).map_err(BranchError::BadRoll)?;
        Ok(self
            .store
            .import_members(branch_id, &members, Some(user.id))
            .await?)
    }

    /// Records an activity of a branch the caller manages, with its whole roll; a draft until
    /// its three photos are in.
    pub async fn record_activity(
        &self,
        user: &User,
        input: ActivityInput,
    ) -> Result<ActivityView, BranchError> {
        let branch_id = input
            .branch_id
            .or(user.branch_id)
            .ok_or(BranchError::WhichBranch)?;
        let branch = self.managed(user, branch_id)?;
        let theme = input.theme.trim().to_string();
        if theme.is_empty() || theme.chars().count() > MAX_THEME_CHARS {
            return Err(BranchError::Invalid(format!(
                "a theme has 1 to {MAX_THEME_CHARS} characters"
            )));
        }
        let held = instant(&input.held_at)?;
        if held > OffsetDateTime::now_utc() + FUTURE_SLACK {
            return Err(BranchError::InTheFuture(input.held_at));
        }
        for line in &input.attendance {
            let reason = line.reason.as_deref().map(str::trim).unwrap_or_default();
            let absent = line.status == AttendanceStatus::Absent;
            if absent && (reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS) {
                return Err(BranchError::Invalid(format!(
                    "member {}: an absence needs a reason of 1 to {MAX_REASON_CHARS} characters",
                    line.member_id
                )));
            }
            if !absent && !reason.is_empty() {
                return Err(BranchError::Invalid(format!(
                    "member {}: only an absence has a reason",
                    line.member_id
                )));
            }
        }
        let attendance = input
            .attendance
            .into_iter()
            .map(|line| Attendance {
                reason: line.reason.map(|r| r.trim().to_string()),
                ..line
            })
            .collect();
        let activity = self
            .store
            .record_activity(&NewActivity {
                branch_id,
                kind: input.kind,
                theme,
                held_at: input.held_at,
                lon: input.place.0,
                lat: input.place.1,
                recorded_by: user.id,
                recorded_at: crate::timestamp::now(),
                attendance,
            })
            .await?;
        self.view(user, activity, branch).await
    }

    /// An activity as `user` may see it.
    async fn view(
        &self,
        user: &User,
        activity: Activity,
        branch: Branch,
    ) -> Result<ActivityView, BranchError> {
        let names = if manages_branch(user, &branch) {
            let members = self.store.members(branch.id).await?;
            Some(members.into_iter().map(|m| (m.id, m.name)).collect())
        } else {
            None
        };
        Ok(ActivityView {
            activity,
            branch,
            names,
        })
    }

    /// An activity, for those who read its community's feed.
    pub async fn activity(&self, user: &User, id: Id) -> Result<ActivityView, BranchError> {
        let activity = self
            .store
            .activity(id)
            .await?
            .ok_or(StoreError::NoSuchActivity(id))?;
        let branch = self.branch(activity.branch_id)?;
        if !reads_feed(user, branch.community_id) {
            return Err(BranchError::NotYourCommunity(branch.community_id));
        }
        self.view(user, activity, branch).await
    }

    /// The activities of a community's branches, newest first, a page at a time (those after
    /// `after`, the held time and id of the previous page's last), for those who read its feed;
    /// names only for the caller's own branch.
    pub async fn community_feed(
        &self,
        user: &User,
        community_id: Id,
        after: Option<(String, Id)>,
        limit: usize,
    ) -> Result<Vec<ActivityView>, BranchError> {
        if !reads_feed(user, community_id) {
            return Err(BranchError::NotYourCommunity(community_id));
        }
        let branches: Vec<Branch> = self
            .branches()
            .iter()
            .filter(|b| b.community_id == community_id)
            .cloned()
            .collect();
        if branches.is_empty() {
            return Ok(Vec::new());
        }
        let filter = ActivityFilter {
            ids: None,
            branch_ids: Some(branches.iter().map(|b| b.id).collect()),
            after,
            limit: limit.clamp(1, MAX_FEED_PAGE),
        };
        let mut views = Vec::new();
        let mut names: HashMap<Id, Option<HashMap<Id, String>>> = HashMap::new();
        for activity in self.store.activities(&filter).await? {
            let branch = branches
                .iter()
                .find(|b| b.id == activity.branch_id)
                .cloned()
                .ok_or(StoreError::NoSuchBranch(activity.branch_id))?;
            let known = match names.get(&branch.id) {
                Some(known) => known.clone(),
                None => {
                    let view = self.view(user, activity.clone(), branch.clone()).await?;
                    names.insert(branch.id, view.names.clone());
                    view.names
                }
            };
            views.push(ActivityView {
                activity,
                branch,
                names: known,
            });
        }
        Ok(views)
    }

    /// Keeps one of the three photos of a draft activity, for those who manage its branch:
    /// checked and re-encoded off the async workers, and compared with the activity's time and
    /// place by what the camera wrote (flagged for review, not refused).
    pub async fn put_activity_photo(
        &self,
        user: &User,
        activity_id: Id,
        kind: ActivityPhotoKind,
        bytes: Vec<u8>,
    ) -> Result<(ActivityPhoto, bool), BranchError> {
        let activity = self
            .store
            .activity(activity_id)
            .await?
            .ok_or(StoreError::NoSuchActivity(activity_id))?;
        self.managed(user, activity.branch_id)?;
        if activity.complete() {
            return Err(StoreError::ActivityComplete(activity_id).into());
        }
        let (processed, shot, original) = self
            .compute(move || {
                let processed = crate::photos::process(&bytes);
                let shot = camera(&bytes);
                (processed, shot, bytes)
            })
            .await?;
        let processed = processed?;
        let flags = photo_flags(&activity, shot.taken_at, shot.position)?;
        let photo = NewActivityPhoto {
            activity_id,
            kind,
            media_type: processed.media_type.to_string(),
            width: processed.width,
            height: processed.height,
            original,
            public: processed.public,
            thumbnail: processed.thumbnail,
            taken_at: shot.taken_at.map(crate::timestamp::format),
            taken_position: shot.position,
            flags,
            uploaded_by: user.id,
            at: crate::timestamp::now(),
        };
        Ok(self.store.put_activity_photo(&photo).await?)
    }

    /// One copy of an activity's photo. The group photo's public copy and thumbnail are public
    /// (the screen shows them); the sign-in sheet and the minutes carry names and signatures, so
    /// their copies go to those who read the community's feed; originals (with their EXIF) to
    /// those who manage the branch.
    pub async fn activity_photo(
        &self,
        user: Option<&User>,
        id: Id,
        copy: PhotoCopy,
    ) -> Result<ActivityPhotoBytes, BranchError> {
        let found = self
            .store
            .activity_photo(id, copy)
            .await?
            .ok_or(StoreError::NoSuchPhoto(id))?;
        let branch = self.branch(found.branch_id)?;
        let public = copy != PhotoCopy::Original && found.kind == ActivityPhotoKind::Group;
        let allowed = public
            || user.is_some_and(|u| match copy {
                PhotoCopy::Original => manages_branch(u, &branch),
                PhotoCopy::Public | PhotoCopy::Thumbnail => reads_feed(u, branch.community_id),
            });
        if allowed {
            Ok(found)
        } else {
            Err(BranchError::NotYourBranch(branch.id))
        }
    }
}

/// A stored instant as a time.
fn instant(text: &str) -> Result<OffsetDateTime, BranchError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| BranchError::Invalid(format!("{text:?} is not an RFC 3339 instant: {e}")))
}

/// What looks wrong about a photo taken at `taken_at` and `position` for `activity`.
fn photo_flags(
    activity: &Activity,
    taken_at: Option<OffsetDateTime>,
    position: Option<(f64, f64)>,
) -> Result<Vec<PhotoFlag>, BranchError> {
    let held = instant(&activity.held_at)?;
    let mut flags = Vec::new();
    match taken_at {
        None => flags.push(PhotoFlag::NoTime),
        Some(at) if (at - held).abs() > time::Duration::hours(FLAG_HOURS) => {
            flags.push(PhotoFlag::TimeFar)
        }
        Some(_) => {}
    }
    match position {
        None => flags.push(PhotoFlag::NoPlace),
        Some((lon, lat)) => {
            let metres =
                Haversine.distance(Point::new(lon, lat), Point::new(activity.lon, activity.lat));
            if metres > FLAG_METRES {
                flags.push(PhotoFlag::PlaceFar);
            }
        }
    }
    Ok(flags)
}
