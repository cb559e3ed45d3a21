//! Residents' requests (社情民意) as use cases: a report is placed by the index and stored with
//! whoever answers for its spot; each step of the workflow is taken by whom
//! [`super::access::Steppers`] names, from the states [`RequestState::may_become`] allows; the
//! clock passes a late request up the chain (area → grid → community → street).
//!
//! Time limits count working time ([`crate::calendar::WorkCalendar`]) from when the request was
//! opened: its category's hours to accept it, then its days to handle it. Each further limit
//! that passes without the step moves it one link up.

use super::access::{HouseholdScope, Steppers, may_read_request};
use super::request_feed::NoticeKind;
use super::{App, MapData};
use crate::auth::{Role, User};
use crate::model::photos::PhotoKind;
use crate::model::requests::{
    CATEGORIES, Category, Link, NewRequest, Reporter, Request, RequestEvent, RequestFilter,
    RequestState, RequestUpdate, Spot, category,
};
use crate::model::{Id, PlaceKind};
use crate::store::StoreError;
use geo::{Coord, Distance, Haversine, Point};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// An open request of the same category this near …
pub const NEARBY_METRES: f64 = 250.0;
/// … and posted this many days before or after is shown as a possible duplicate.
pub const NEARBY_DAYS: i64 = 7;
/// The most requests one list answers with.
pub const MAX_REQUESTS: usize = 1_000;
/// How often the server looks for requests past their time limit.
pub const DEADLINE_CHECK_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

/// Why a request could not be posted, read or moved.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No category has this code.
    #[error("there is no service_code {0:?}; GET /open311/v2/services.json lists them")]
    UnknownCategory(String),
    /// An extra answer is missing or not one of those allowed.
    #[error("attribute {code:?}: {problem}")]
    BadAttribute {
        /// The attribute's code.
        code: String,
        /// What is wrong.
        problem: String,
    },
    /// Nobody answers for a point outside every grid.
    #[error(
        "the point ({lon}, {lat}) lies outside every grid of this service: nobody answers for it"
    )]
    OutsideGrids {
        /// WGS84 longitude.
        lon: f64,
        /// WGS84 latitude.
        lat: f64,
    },
    /// Only staff who see a household may report on its behalf.
    #[error("household {0} is not one you answer for")]
    NotYourHousehold(Id),
    /// The caller may read the request only in its public form.
    #[error(
        "request {0} is not one you answer for; its public form is /open311/v2/requests/{0}.json"
    )]
    NotYours(Id),
    /// The caller may not take this step.
    #[error("a {role} who does not answer for request {id} may not make it {to}")]
    MayNot {
        /// The caller's role.
        role: Role,
        /// The request.
        id: Id,
        /// The step.
        to: RequestState,
    },
    /// The one who handled a request may not check their own work.
    #[error("you handled request {0}; someone else verifies the work")]
    HandlerVerifies(Id),
    /// The workflow has no such step from where the request stands.
    #[error("request {id} is {from}; it cannot become {to}")]
    NotFrom {
        /// The request.
        id: Id,
        /// Where it stands.
        from: RequestState,
        /// Where the step would take it.
        to: RequestState,
    },
    /// A step came without what it needs.
    #[error("{0}")]
    Incomplete(&'static str),
    /// Only a request not yet dispatched changes category: one at work would have to be
    /// called back first.
    #[error("request {id} is {state}; only a request not yet dispatched changes its category")]
    NotRecategorisable {
        /// The request.
        id: Id,
        /// Where it stands.
        state: RequestState,
    },
    /// A category unit names a place that is not a community.
    #[error("place {0} is not a community")]
    NotACommunity(Id),
    /// A duplicate must repeat another request that is open.
    #[error("request {0} is not another open request this one could repeat")]
    BadDuplicate(Id),
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

/// A report as it arrives, its position in WGS84 already.
#[derive(Debug, Clone, Default)]
pub struct RequestInput {
    /// Open311's `service_code`.
    pub category: String,
    /// Where, WGS84.
    pub position: Coord<f64>,
    /// Where, in words.
    pub address: String,
    /// What is wrong.
    pub description: String,
    /// A photo elsewhere.
    pub media_url: Option<String>,
    /// Answers to the category's extra questions.
    pub attributes: BTreeMap<String, String>,
    /// Who reported.
    pub reporter: Reporter,
    /// The household, when staff report on a resident's behalf.
    pub household_id: Option<Id>,
}

/// A step as a caller asks for it.
#[derive(Debug, Clone)]
pub struct StepInput {
    /// Where to.
    pub to: RequestState,
    /// Why, or what was done: needed to reject, to handle and to send the work back.
    pub note: String,
    /// Dispatch to this person …
    pub assignee_id: Option<Id>,
    /// … or to this unit.
    pub assignee_unit: Option<String>,
    /// Closing: fixed or not.
    pub fixed: Option<bool>,
    /// The request this one repeats.
    pub duplicate_of: Option<Id>,
}

/// A request with what its time limits say now.
#[derive(Debug, Clone)]
pub struct RequestView {
    /// As stored.
    pub request: Request,
    /// Its category.
    pub category: &'static Category,
    /// When the step it waits for is due; `None` once handled or finished.
    pub due_at: Option<OffsetDateTime>,
    /// When it was due to be handled: Open311's `expected_datetime`.
    pub expected_at: Option<OffsetDateTime>,
}

impl RequestView {
    /// Whether the step it waits for is late at `now`.
    pub fn overdue(&self, now: OffsetDateTime) -> bool {
        self.due_at.is_some_and(|due| due < now)
    }
}

/// The instant a stored instant names.
fn instant(stored: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(stored, &Rfc3339).ok()
}

impl App {
    /// The categories residents may report in.
    pub fn categories(&self) -> &'static [Category] {
        CATEGORIES
    }

    /// Posts a request: by a resident (no `user`) or by staff on a resident's behalf (with a
    /// household they see). The index places it; the store finds who answers for the spot.
    pub async fn submit_request(
        &self,
        user: Option<&User>,
        input: RequestInput,
    ) -> Result<RequestView, RequestError> {
        let category = category(&input.category)
            .ok_or_else(|| RequestError::UnknownCategory(input.category.clone()))?;
        check_attributes(category, &input.attributes)?;
        let map = self.map_data();
        let spot = spot_of(&map, input.position).ok_or(RequestError::OutsideGrids {
            lon: input.position.x,
            lat: input.position.y,
        })?;
        if let Some(household) = input.household_id {
            let seen = user.is_some_and(|u| {
                map.household(household)
                    .is_some_and(|h| HouseholdScope::of(u, &map).admits(h))
            });
            if !seen {
                return Err(RequestError::NotYourHousehold(household));
            }
        }
        let attributes = serde_json::to_string(&input.attributes).unwrap_or_else(|_| "{}".into());
        let request = NewRequest {
            category: category.code.to_string(),
            lon: input.position.x,
            lat: input.position.y,
            address: input.address,
            description: input.description,
            media_url: input.media_url,
            attributes,
            reporter: input.reporter,
            household_id: input.household_id,
            posted_by: user.map(|u| u.id),
            spot,
            requested_at: crate::timestamp::now(),
        };
        let stored = self.store.submit_request(&request).await?;
        self.announce(NoticeKind::Reported, stored.clone());
        Ok(self.request_view(stored))
    }

    /// Requests in their public form's filter, newest first, with their time limits: the HTTP
    /// layer leaves out what is personal.
    pub async fn requests(&self, filter: &RequestFilter) -> Result<Vec<RequestView>, StoreError> {
        let found = self.store.requests(filter).await?;
        Ok(found.into_iter().map(|r| self.request_view(r)).collect())
    }

    /// Who answers for `request` now, as the public may read it: the unit it was dispatched
    /// to, else the place at its link of the chain (the responsibility area, grid, community or
    /// street), by name; never a person's name.
    pub fn agency_responsible(&self, request: &Request) -> String {
        if let Some(unit) = &request.assignee_unit {
            return unit.clone();
        }
        let spot = &request.spot;
        let place = match request.link {
            Link::Area => spot.area_id,
            Link::Grid => Some(spot.grid_id),
            Link::Community => Some(spot.community_id),
            Link::Street => spot.street_id,
        };
        let map = self.map_data();
        place
            .and_then(|id| map.places.iter().find(|p| p.id == id))
            .or_else(|| map.places.iter().find(|p| p.id == spot.community_id))
            .map(|p| p.name.clone())
            .unwrap_or_default()
    }

    /// One request in its public form.
    pub async fn public_request(&self, id: Id) -> Result<RequestView, StoreError> {
        let found = self.store.request(id).await?;
        found
            .map(|r| self.request_view(r))
            .ok_or(StoreError::NoSuchRequest(id))
    }

    /// One request with its personal data, its steps and the open ones like it nearby, for
    /// those [`may_read_request`] admits.
    pub async fn request_in_full(
        &self,
        user: &User,
        id: Id,
    ) -> Result<(RequestView, Vec<RequestEvent>, Vec<RequestView>), RequestError> {
        let request = self
            .store
            .request(id)
            .await?
            .ok_or(StoreError::NoSuchRequest(id))?;
        if !may_read_request(user, &request, &self.map_data()) {
            return Err(RequestError::NotYours(id));
        }
        let events = self.store.request_events(id).await?;
        let nearby = self.nearby(&request).await?;
        Ok((self.request_view(request), events, nearby))
    }

    /// Open requests of the same category within [`NEARBY_METRES`] and [`NEARBY_DAYS`]: maybe
    /// the same problem reported twice.
    async fn nearby(&self, request: &Request) -> Result<Vec<RequestView>, StoreError> {
        let Some(at) = instant(&request.requested_at) else {
            return Ok(Vec::new());
        };
        let window = Duration::days(NEARBY_DAYS);
        let here = Point::new(request.lon, request.lat);
        // A box a little larger than the circle: a degree of latitude is ~111 km everywhere,
        // a degree of longitude shrinks with the cosine of the latitude.
        let dlat = NEARBY_METRES / 111_000.0 * 1.1;
        let dlon = dlat / request.lat.to_radians().cos().max(0.01);
        let filter = RequestFilter {
            category: Some(request.category.clone()),
            open: Some(true),
            since: Some(crate::timestamp::format(at - window)),
            until: Some(crate::timestamp::format(at + window)),
            bbox: Some([
                request.lon - dlon,
                request.lat - dlat,
                request.lon + dlon,
                request.lat + dlat,
            ]),
            limit: MAX_REQUESTS,
            ..RequestFilter::default()
        };
        let found = self.store.requests(&filter).await?;
        Ok(found
            .into_iter()
            .filter(|r| r.id != request.id)
            .filter(|r| Haversine.distance(here, Point::new(r.lon, r.lat)) <= NEARBY_METRES)
            .map(|r| self.request_view(r))
            .collect())
    }

    /// What waits on `user`, most urgent first (late ones first, then by time left, then
    /// those waiting to be checked): a cadre's requests where they answer or were sent; a
    /// secretary's branch's grids' or community's; every open one for an admin.
    pub async fn my_requests(&self, user: &User) -> Result<Vec<RequestView>, RequestError> {
        let mut filter = RequestFilter {
            open: Some(true),
            limit: MAX_REQUESTS,
            ..RequestFilter::default()
        };
        match user.role {
            Role::Admin => {}
            Role::Secretary => match user.community_id {
                Some(community) => filter.community_id = Some(community),
                None => return Ok(Vec::new()),
            },
            Role::Cadre => filter.involving = Some(user.id),
            // Statistics only: nothing waits on a planner.
            Role::Planner => return Ok(Vec::new()),
        }
        let mut found = self.requests(&filter).await?;
        // A branch's secretary supervises its grids only, not the whole community.
        let map = self.map_data();
        found.retain(|v| may_read_request(user, &v.request, &map));
        found.sort_by_key(|v| (v.due_at.is_none(), v.due_at, v.request.id));
        Ok(found)
    }

    /// Takes a step of the workflow as `user`.
    pub async fn take_step(
        &self,
        user: &User,
        id: Id,
        step: StepInput,
    ) -> Result<(RequestView, RequestEvent), RequestError> {
        let request = self
            .store
            .request(id)
            .await?
            .ok_or(StoreError::NoSuchRequest(id))?;
        let to = step.to;
        if !request.state.may_become(to) {
            return Err(RequestError::NotFrom {
                id,
                from: request.state,
                to,
            });
        }
        if !Steppers::of(to).include(user, &request, &self.map_data()) {
            return Err(RequestError::MayNot {
                role: user.role,
                id,
                to,
            });
        }
        let checks = request.state == RequestState::Handled
            && matches!(to, RequestState::Verified | RequestState::Dispatched);
        if checks && request.handled_by == Some(user.id) {
            return Err(RequestError::HandlerVerifies(id));
        }
        let now = crate::timestamp::now();
        let mut update = RequestUpdate {
            request_id: id,
            expected_version: request.version,
            state: to,
            fixed: None,
            link: request.link,
            responsible_id: request.responsible_id,
            assignee_id: request.assignee_id,
            assignee_unit: request.assignee_unit.clone(),
            handled_by: request.handled_by,
            duplicate_of: None,
            escalations: request.escalations,
            category: request.category.clone(),
            opened_at: request.opened_at.clone(),
            from: request.state,
            actor_id: Some(user.id),
            note: step.note.trim().to_string(),
            at: now.clone(),
        };
        let needs_note = matches!(to, RequestState::Rejected | RequestState::Handled)
            || (checks && to == RequestState::Dispatched);
        if needs_note && update.note.is_empty() {
            return Err(RequestError::Incomplete(
                "this step needs a note: why it is rejected, what was done, or what the check found",
            ));
        }
        match to {
            RequestState::Accepted => update.escalations = 0,
            // A failed check sends the work back to whoever did it, unless it names another.
            RequestState::Dispatched => match (step.assignee_id, step.assignee_unit) {
                (Some(person), None) => {
                    update.assignee_id = Some(person);
                    update.assignee_unit = None;
                }
                (None, Some(unit)) if !unit.trim().is_empty() => {
                    update.assignee_id = None;
                    update.assignee_unit = Some(unit.trim().to_string());
                }
                (None, None) if checks => {}
                _ => {
                    return Err(RequestError::Incomplete(
                        "a dispatch names either an assignee (a user id) or an assignee_unit",
                    ));
                }
            },
            RequestState::Handled => {
                let photos = self.store.request_photos(id).await?;
                if !photos.iter().any(|p| p.kind == PhotoKind::After) {
                    return Err(RequestError::Incomplete(
                        "the work done needs its photo first: POST /api/v1/requests/{id}/photos?kind=after",
                    ));
                }
                update.handled_by = Some(user.id);
            }
            RequestState::Closed => {
                let fixed = step.fixed.ok_or(RequestError::Incomplete(
                    "closing says whether the problem was fixed: \"fixed\": true or false",
                ))?;
                if fixed && request.state != RequestState::Verified {
                    return Err(RequestError::Incomplete(
                        "only a verified request closes as fixed; close it with \"fixed\": false",
                    ));
                }
                update.fixed = Some(fixed);
            }
            RequestState::Duplicate => {
                let original = step.duplicate_of.ok_or(RequestError::Incomplete(
                    "a duplicate names the request it repeats: \"duplicate_of\"",
                ))?;
                let open = self.store.request(original).await?;
                if original == id || !open.is_some_and(|o| o.state.is_open()) {
                    return Err(RequestError::BadDuplicate(original));
                }
                update.duplicate_of = Some(original);
            }
            RequestState::Reopened => {
                update.opened_at = now;
                update.escalations = 0;
                update.handled_by = None;
            }
            _ => {}
        }
        let (stored, event) = self.store.update_request(&update).await?;
        self.announce(NoticeKind::Stepped, stored.clone());
        Ok((self.request_view(stored), event))
    }

    /// Gives request `id` another category and routes it again from the first link of the
    /// chain for its spot, as a new report would be: who answers may differ (a unit that
    /// answers for the new category gets it dispatched at once), and its time limits become the
    /// new category's. Those who may accept it may do this, before it is
    /// dispatched; the answers to the old category's questions are kept as they were.
    pub async fn recategorise(
        &self,
        user: &User,
        id: Id,
        code: &str,
        note: &str,
    ) -> Result<(RequestView, RequestEvent), RequestError> {
        let request = self
            .store
            .request(id)
            .await?
            .ok_or(StoreError::NoSuchRequest(id))?;
        let new = category(code).ok_or_else(|| RequestError::UnknownCategory(code.into()))?;
        if !Steppers::Answerers.include(user, &request, &self.map_data()) {
            return Err(RequestError::NotYours(id));
        }
        let state = request.state;
        if !matches!(
            state,
            RequestState::Reported | RequestState::Reopened | RequestState::Accepted
        ) {
            return Err(RequestError::NotRecategorisable { id, state });
        }
        let old = category(&request.category).map_or(request.category.as_str(), |c| c.name);
        let (link, responsible) = self.store.answerer(&request.spot, Link::Area).await?;
        let unit = self
            .store
            .unit_for(new.code, request.spot.community_id)
            .await?;
        let said = note.trim();
        let mut update = RequestUpdate {
            request_id: id,
            expected_version: request.version,
            state,
            fixed: None,
            link,
            responsible_id: responsible,
            assignee_id: None,
            assignee_unit: None,
            handled_by: request.handled_by,
            duplicate_of: None,
            escalations: 0,
            category: new.code.to_string(),
            opened_at: request.opened_at.clone(),
            from: state,
            actor_id: Some(user.id),
            note: if said.is_empty() {
                format!("由「{old}」改为「{}」，重新派单", new.name)
            } else {
                format!("由「{old}」改为「{}」，重新派单：{said}", new.name)
            },
            at: crate::timestamp::now(),
        };
        if let Some(unit) = unit {
            update.state = RequestState::Dispatched;
            update.note = format!("{}；按类别直派：{}", update.note, unit.unit);
            update.assignee_unit = Some(unit.unit);
        }
        let (stored, event) = self.store.update_request(&update).await?;
        self.announce(NoticeKind::Stepped, stored.clone());
        Ok((self.request_view(stored), event))
    }

    /// Passes every request whose next time limit passed before `now` one link up the chain
    /// (to the next one that has someone to answer), with an event; returns how many moved.
    /// The server calls it every minute; tests call it with an instant of their choosing.
    pub async fn escalate_overdue(&self, now: OffsetDateTime) -> Result<usize, StoreError> {
        let filter = RequestFilter {
            open: Some(true),
            limit: usize::MAX >> 1,
            ..RequestFilter::default()
        };
        let mut moved = 0;
        for view in self.requests(&filter).await? {
            let (Some(due), r) = (view.due_at, &view.request) else {
                continue;
            };
            if due >= now || r.link == Link::Street {
                continue;
            }
            let next = Link::ALL[(r.link as usize + 1).min(Link::ALL.len() - 1)];
            let (link, responsible) = self.store.answerer(&r.spot, next).await?;
            let step = if matches!(r.state, RequestState::Reported | RequestState::Reopened) {
                "逾期未立案"
            } else {
                "逾期未处置"
            };
            let update = RequestUpdate {
                request_id: r.id,
                expected_version: r.version,
                state: r.state,
                fixed: r.fixed,
                link,
                responsible_id: responsible,
                assignee_id: r.assignee_id,
                assignee_unit: r.assignee_unit.clone(),
                handled_by: r.handled_by,
                duplicate_of: r.duplicate_of,
                escalations: r.escalations + 1,
                category: r.category.clone(),
                opened_at: r.opened_at.clone(),
                from: r.state,
                actor_id: None,
                note: format!("{step}，升级至{}", link_name(link)),
                at: crate::timestamp::format(now),
            };
            match self.store.update_request(&update).await {
                Ok((stored, _)) => {
                    self.announce(NoticeKind::Escalated, stored);
                    moved += 1;
                }
                // Someone took a step meanwhile: the next round looks again.
                Err(StoreError::RequestChanged { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(moved)
    }

    /// Starts the task that calls [`App::escalate_overdue`] every [`DEADLINE_CHECK_PERIOD`]
    /// with the clock's time; it ends when the `App` is dropped. A round that fails (the
    /// database is away) is logged and the next one tries again. Several instances over one
    /// database may all run it: a request moved by one is skipped by the others, whose write
    /// was decided on an older version.
    pub fn watch_deadlines(self: &Arc<Self>) {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(DEADLINE_CHECK_PERIOD);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(app) = app.upgrade() else { return };
                match app.escalate_overdue(OffsetDateTime::now_utc()).await {
                    Ok(0) => {}
                    Ok(moved) => tracing::info!(moved, "late requests passed up the chain"),
                    Err(e) => {
                        tracing::warn!(error = %e, "checking the requests' time limits failed")
                    }
                }
            }
        });
    }

    /// A request with its time limits, by the calendar.
    pub fn request_view(&self, request: Request) -> RequestView {
        let category = category(&request.category).unwrap_or(&CATEGORIES[CATEGORIES.len() - 1]);
        let opened = instant(&request.opened_at);
        let handle_hours = category.handle_days * 24;
        let expected_at = opened.map(|at| self.calendar.add_working_hours(at, handle_hours));
        let limit = match request.state {
            RequestState::Reported | RequestState::Reopened => Some(category.accept_hours),
            RequestState::Accepted | RequestState::Dispatched => Some(handle_hours),
            _ => None,
        };
        // Each escalation gives the next link one more limit.
        let periods = u32::try_from(request.escalations).unwrap_or(0) + 1;
        let due_at = limit
            .zip(opened)
            .map(|(hours, at)| self.calendar.add_working_hours(at, hours * periods));
        RequestView {
            request,
            category,
            due_at,
            expected_at,
        }
    }
}

/// The places above a point: its grid (none: nobody answers), its area, its community and
/// street.
fn spot_of(map: &MapData, at: Coord<f64>) -> Option<Spot> {
    let grid_id = map.index.owner(PlaceKind::Grid, at)?;
    let parent = |id: Id| map.places.iter().find(|p| p.id == id)?.parent_id;
    let community_id = parent(grid_id)?;
    Some(Spot {
        grid_id,
        area_id: map.index.owner(PlaceKind::Area, at),
        community_id,
        street_id: parent(community_id),
    })
}

/// Refuses a missing required answer, an unknown question and an answer not on the list.
fn check_attributes(
    category: &Category,
    answers: &BTreeMap<String, String>,
) -> Result<(), RequestError> {
    for attribute in category.attributes {
        let answer = answers.get(attribute.code);
        if attribute.required && answer.is_none() {
            return Err(RequestError::BadAttribute {
                code: attribute.code.into(),
                problem: format!("{} must be answered", attribute.description),
            });
        }
        if let Some(answer) = answer
            && !attribute.values.is_empty()
            && !attribute.values.iter().any(|(key, _)| key == answer)
        {
            let keys: Vec<&str> = attribute.values.iter().map(|(k, _)| *k).collect();
            return Err(RequestError::BadAttribute {
                code: attribute.code.into(),
                problem: format!("{answer:?} is not one of {}", keys.join(", ")),
            });
        }
    }
    if let Some(unknown) = answers
        .keys()
        .find(|k| !category.attributes.iter().any(|a| a.code == k.as_str()))
    {
        return Err(RequestError::BadAttribute {
            code: unknown.clone(),
            problem: format!("service {} asks no such question", category.code),
        });
    }
    Ok(())
}

/// The link's name in the notes of escalations.
fn link_name(link: Link) -> &'static str {
    match link {
        Link::Area => "责任田",
        Link::Grid => "网格书记",
        Link::Community => "社区",
        Link::Street => "街道",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_against_the_category() {
        let repair = category("repair").unwrap();
        let answers = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(check_attributes(repair, &answers(&[("appliance", "water_heater")])).is_ok());
        for bad in [
            answers(&[]),
            answers(&[("appliance", "spaceship")]),
            answers(&[("appliance", "gas"), ("colour", "red")]),
        ] {
            assert!(
                matches!(
                    check_attributes(repair, &bad),
                    Err(RequestError::BadAttribute { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
