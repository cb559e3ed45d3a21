//! 微课堂: a secretary or an admin sends a short lesson to the members of the branches they
//! manage (or some of them); every member on those rolls gets a link of their own, mobile
//! members included, and opening it counts as reading. The links go back to the sender once, to
//! pass on (a text message, a group chat): only their hashes are kept.

use super::App;
use super::access::manages_branch;
use super::branches::BranchError;
use crate::auth::User;
use crate::model::Id;
use crate::model::branches::Member;
use crate::model::lessons::{Lesson, LessonRecipient, NewLesson};

/// The longest title, in characters.
pub const MAX_LESSON_TITLE_CHARS: usize = 200;
/// The longest text, in characters.
pub const MAX_LESSON_BODY_CHARS: usize = 20_000;
/// The longest link, in bytes.
pub const MAX_LESSON_LINK_BYTES: usize = 2_000;

/// A lesson as a sender writes it.
#[derive(Debug, Clone)]
pub struct LessonInput {
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// A video or page, http(s).
    pub link: Option<String>,
    /// The branches it goes to; `None`: every branch the sender manages.
    pub branch_ids: Option<Vec<Id>>,
}

/// A member a lesson went to, with their own link's token: told to the sender once.
#[derive(Debug, Clone)]
pub struct LessonLink {
    /// The member.
    pub member: Member,
    /// The token of their link (`/lessons/{token}`).
    pub token: String,
}

impl App {
    /// Sends a lesson to every member on the rolls of the branches `user` chose (all those they
    /// manage by default); returns it with each member's link.
    pub async fn send_lesson(
        &self,
        user: &User,
        input: LessonInput,
    ) -> Result<(Lesson, Vec<LessonLink>), BranchError> {
        let title = input.title.trim().to_string();
        let body = input.body.trim().to_string();
        if title.is_empty() || title.chars().count() > MAX_LESSON_TITLE_CHARS {
            return Err(BranchError::Invalid(format!(
                "a title has 1 to {MAX_LESSON_TITLE_CHARS} characters"
            )));
        }
        if body.is_empty() || body.chars().count() > MAX_LESSON_BODY_CHARS {
            return Err(BranchError::Invalid(format!(
                "a lesson's text has 1 to {MAX_LESSON_BODY_CHARS} characters"
            )));
        }
        let link = input
            .link
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty());
        if let Some(link) = &link {
            let web = link.starts_with("https://") || link.starts_with("http://");
            if !web || link.len() > MAX_LESSON_LINK_BYTES || link.contains(char::is_whitespace) {
                return Err(BranchError::Invalid(format!(
                    "a link is an http(s) URL of at most {MAX_LESSON_LINK_BYTES} bytes"
                )));
            }
        }
        let managed: Vec<Id> = self
            .branches()
            .iter()
            .filter(|b| manages_branch(user, b))
            .map(|b| b.id)
            .collect();
        let branch_ids = match input.branch_ids {
            None => managed,
            Some(mut chosen) => {
                chosen.sort_unstable();
                chosen.dedup();
                for &id in &chosen {
                    self.branch(id)?;
                    if !managed.contains(&id) {
                        return Err(BranchError::NotYourBranch(id));
                    }
                }
                chosen
            }
        };
        if branch_ids.is_empty() {
            return Err(BranchError::Invalid(
                "the lesson goes to no branch: name branches you manage".into(),
            ));
        }
        let mut links = Vec::new();
        let mut recipients = Vec::new();
        for member in self.store.rolls(&branch_ids).await? {
            let (token, token_hash) = crate::auth::new_token().map_err(BranchError::Invalid)?;
            recipients.push(LessonRecipient {
                member_id: member.id,
                branch_id: member.branch_id,
                token_hash,
            });
            links.push(LessonLink { member, token });
        }
        let lesson = NewLesson {
            title,
            body,
            link,
            branch_ids,
            sent_by: user.id,
            sent_at: crate::timestamp::now(),
        };
        let sent = self.store.send_lesson(&lesson, &recipients).await?;
        Ok((sent, links))
    }

    /// The lessons that went to branches `user` manages, newest first, with their reach.
    pub async fn lessons(&self, user: &User) -> Result<Vec<Lesson>, BranchError> {
        let branches = self.branches();
        let managed = |id: &Id| {
            branches
                .iter()
                .any(|b| b.id == *id && manages_branch(user, b))
        };
        let lessons = self.store.lessons().await?;
        Ok(lessons
            .into_iter()
            .filter(|l| l.sent_by == user.id || l.branch_ids.iter().any(managed))
            .collect())
    }

    /// The lesson a member's link opens, counting their first read; `None` for a link that is
    /// no one's.
    pub async fn open_lesson(&self, token: &str) -> Result<Option<Lesson>, BranchError> {
        let hash = crate::auth::token_hash(token);
        Ok(self
            .store
            .open_lesson(&hash, &crate::timestamp::now())
            .await?)
    }
}
