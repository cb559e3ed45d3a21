//! Residents' requests: a report is stored with whoever answers for its spot, found in the same
//! transaction (so that a claim or release racing it cannot leave it with a stale holder), and
//! each step is written with its event, only on the version it was decided on.

use super::{Dialect, SqlStore};
use crate::model::Id;
use crate::model::requests::{
    Link, NewRequest, Request, RequestEvent, RequestFilter, RequestState, RequestTiming,
    RequestUpdate, Spot,
};
use crate::store::rows::{CategoryUnitRow, RequestEventRow, RequestRow, RequestTimingRow};
use crate::store::{Result, StoreError};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

/// The cadre who holds area `$1` now.
const AREA_HOLDER: &str =
    "SELECT user_id FROM area_claims WHERE area_id = $1 AND released_at IS NULL";
/// The secretary who answers for grid `$2` of community `$1`: one bound to a branch serving the
/// grid, else one of the community bound to no branch (the first, when several are).
const SECRETARY_OF: &str = "SELECT id FROM users WHERE role = 'secretary' \
     AND (branch_id IN (SELECT branch_id FROM branch_grids WHERE grid_id = $2) \
          OR (community_id = $1 AND branch_id IS NULL)) \
     ORDER BY branch_id IS NULL, id LIMIT 1";
/// Request `$1`, just stored, starts dispatched to unit `$2`.
const DISPATCH_TO_UNIT: &str =
    "UPDATE requests SET state = 'dispatched', assignee_unit = $2 WHERE id = $1";
/// The version and state of request `$1`.
const REQUEST_VERSION: &str = "SELECT version, state FROM requests WHERE id = $1";

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (i64, String): for<'r> FromRow<'r, DB::Row>,
    RequestRow: for<'r> FromRow<'r, DB::Row>,
    RequestEventRow: for<'r> FromRow<'r, DB::Row>,
    RequestTimingRow: for<'r> FromRow<'r, DB::Row>,
    CategoryUnitRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::Store::submit_request`].
    pub(super) async fn insert_request(&self, request: &NewRequest) -> Result<Request> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let (link, responsible) = Self::answerer_on(&mut tx, &request.spot, Link::Area).await?;
        let unit = Self::unit_on(&mut tx, &request.category, request.spot.community_id).await?;
        let r = request;
        let id: Id = sqlx::query_scalar(DB::INSERT_REQUEST)
            .bind(r.category.as_str())
            .bind(RequestState::Reported.as_str())
            .bind(r.lon)
            .bind(r.lat)
            .bind(r.address.as_str())
            .bind(r.description.as_str())
            .bind(r.media_url.as_deref())
            .bind(r.attributes.as_str())
            .bind(r.reporter.name.as_deref())
            .bind(r.reporter.phone.as_deref())
            .bind(r.reporter.email.as_deref())
            .bind(r.household_id)
            .bind(r.posted_by)
            .bind(r.spot.grid_id)
            .bind(r.spot.area_id)
            .bind(r.spot.community_id)
            .bind(r.spot.street_id)
            .bind(link.as_str())
            .bind(responsible)
            .bind(r.requested_at.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let reported = RequestEvent {
            id: 0,
            request_id: id,
            from: None,
            to: RequestState::Reported,
            actor_id: r.posted_by,
            note: String::new(),
            link,
            assignee_id: None,
            assignee_unit: None,
            at: r.requested_at.clone(),
        };
        Self::insert_event(&mut tx, &reported).await?;
        if let Some(unit) = unit {
            sqlx::query(DISPATCH_TO_UNIT)
                .bind(id)
                .bind(unit.unit.as_str())
                .execute(&mut *tx)
                .await?;
            let dispatched = RequestEvent {
                from: Some(RequestState::Reported),
                to: RequestState::Dispatched,
                actor_id: None,
                note: format!("按类别直派：{}", unit.unit),
                assignee_unit: Some(unit.unit),
                ..reported
            };
            Self::insert_event(&mut tx, &dispatched).await?;
        }
        let stored = Self::requests_on(&mut tx, &by_id(id)).await?;
        tx.commit().await?;
        stored
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt(format!("request {id} vanished")))
    }

    /// The first link at or after `from` that has someone to answer: the area's holder, the
    /// secretary of the grid's branch or else of its community, else the community itself (its secretaries and the
    /// admins read it there), and past the community the street.
    async fn answerer_on(
        conn: &mut DB::Connection,
        spot: &Spot,
        from: Link,
    ) -> Result<(Link, Option<Id>)> {
        if from == Link::Area
            && let Some(area) = spot.area_id
        {
            let holder: Option<Id> = sqlx::query_scalar(AREA_HOLDER)
                .bind(area)
                .fetch_optional(&mut *conn)
                .await?;
            if holder.is_some() {
                return Ok((Link::Area, holder));
            }
        }
        if from <= Link::Grid {
            let secretary: Option<Id> = sqlx::query_scalar(SECRETARY_OF)
                .bind(spot.community_id)
                .bind(spot.grid_id)
                .fetch_optional(&mut *conn)
                .await?;
            if secretary.is_some() {
                return Ok((Link::Grid, secretary));
            }
        }
        Ok((from.max(Link::Community), None))
    }

    /// See [`crate::store::Store::answerer`].
    pub(super) async fn answerer_of(&self, spot: &Spot, from: Link) -> Result<(Link, Option<Id>)> {
        let mut conn = self.pool.acquire().await?;
        Self::answerer_on(&mut conn, spot, from).await
    }

    async fn insert_event(conn: &mut DB::Connection, event: &RequestEvent) -> Result<Id> {
        Ok(sqlx::query_scalar(DB::INSERT_REQUEST_EVENT)
            .bind(event.request_id)
            .bind(event.from.map(RequestState::as_str))
            .bind(event.to.as_str())
            .bind(event.actor_id)
            .bind(event.note.as_str())
            .bind(event.link.as_str())
            .bind(event.assignee_id)
            .bind(event.assignee_unit.as_deref())
            .bind(event.at.as_str())
            .fetch_one(&mut *conn)
            .await?)
    }

    /// See [`crate::store::Store::requests`].
    pub(super) async fn requests_matching(&self, filter: &RequestFilter) -> Result<Vec<Request>> {
        let mut conn = self.pool.acquire().await?;
        Self::requests_on(&mut conn, filter).await
    }

    async fn requests_on(
        conn: &mut DB::Connection,
        filter: &RequestFilter,
    ) -> Result<Vec<Request>> {
        let ids = filter
            .ids
            .as_ref()
            .map(|ids| serde_json::to_string(ids).unwrap_or_default());
        let [west, south, east, north] = filter.bbox.map_or([None; 4], |b| b.map(Some));
        let rows: Vec<RequestRow> = sqlx::query_as(DB::REQUESTS)
            .bind(ids)
            .bind(filter.category.as_deref())
            .bind(filter.open)
            .bind(filter.since.as_deref())
            .bind(filter.until.as_deref())
            .bind(filter.community_id)
            .bind(filter.involving)
            .bind(west)
            .bind(south)
            .bind(east)
            .bind(north)
            .bind(i64::try_from(filter.limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await?;
        rows.into_iter().map(Request::try_from).collect()
    }

    /// See [`crate::store::Store::update_request`].
    pub(super) async fn write_request(
        &self,
        update: &RequestUpdate,
    ) -> Result<(Request, RequestEvent)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let u = update;
        let written: Option<i64> = sqlx::query_scalar(DB::UPDATE_REQUEST)
            .bind(u.request_id)
            .bind(u.state.as_str())
            .bind(u.fixed)
            .bind(u.link.as_str())
            .bind(u.responsible_id)
            .bind(u.assignee_id)
            .bind(u.assignee_unit.as_deref())
            .bind(u.handled_by)
            .bind(u.duplicate_of)
            .bind(u.escalations)
            .bind(u.category.as_str())
            .bind(u.at.as_str())
            .bind(u.expected_version)
            .bind(u.opened_at.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if written.is_none() {
            let now: Option<(i64, String)> = sqlx::query_as(REQUEST_VERSION)
                .bind(u.request_id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match now {
                None => StoreError::NoSuchRequest(u.request_id),
                Some((stored, state)) => StoreError::RequestChanged {
                    id: u.request_id,
                    stored,
                    state: state
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("request state {state:?}")))?,
                },
            });
        }
        let mut event = RequestEvent {
            id: 0,
            request_id: u.request_id,
            from: Some(u.from),
            to: u.state,
            actor_id: u.actor_id,
            note: u.note.clone(),
            link: u.link,
            assignee_id: u
                .assignee_id
                .filter(|_| u.state == RequestState::Dispatched),
            assignee_unit: u
                .assignee_unit
                .clone()
                .filter(|_| u.state == RequestState::Dispatched),
            at: u.at.clone(),
        };
        event.id = Self::insert_event(&mut tx, &event).await?;
        let stored = Self::requests_on(&mut tx, &by_id(u.request_id)).await?;
        tx.commit().await?;
        let request = stored
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt(format!("request {} vanished", u.request_id)))?;
        Ok((request, event))
    }

    /// See [`crate::store::Store::request_events`].
    pub(super) async fn events_of(&self, request_id: Id) -> Result<Vec<RequestEvent>> {
        let rows: Vec<RequestEventRow> = sqlx::query_as(DB::REQUEST_EVENTS)
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(RequestEvent::try_from).collect()
    }

    /// See [`crate::store::Store::request_timings`].
    pub(super) async fn timings_between(
        &self,
        since: &str,
        until: &str,
        grids: Option<&[Id]>,
    ) -> Result<Vec<RequestTiming>> {
        let grids = grids.map(|g| serde_json::to_string(g).expect("ids serialise"));
        let rows: Vec<RequestTimingRow> = sqlx::query_as(DB::REQUEST_TIMINGS)
            .bind(since)
            .bind(until)
            .bind(grids)
            .fetch_all(&self.pool)
            .await?;
        let mut timings = rows
            .into_iter()
            .map(RequestTiming::try_from)
            .collect::<Result<Vec<_>>>()?;
        // Oldest first, sorted here: the database would sort 100,000 wide rows on disk.
        timings.sort_unstable_by_key(|t| (t.requested_at, t.id));
        Ok(timings)
    }
}

/// The filter that reads one request.
fn by_id(id: Id) -> RequestFilter {
    RequestFilter {
        ids: Some(vec![id]),
        limit: 1,
        ..RequestFilter::default()
    }
}
