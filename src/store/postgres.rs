//! The PostGIS backend: the durable truth in production, shared by several `wangge` instances.
//!
//! Geometry columns are `geometry(MultiPolygon, 4326)` and `geometry(Point, 4326)` with GiST
//! indexes; a `CHECK (ST_IsValid(geom))` refuses invalid polygons even from other writers.
//! Geometry crosses the wire as WKB (`ST_GeomFromWKB` / `ST_AsBinary`), instants as RFC 3339
//! text with milliseconds (`to_char`), the form SQLite stores. The SQL itself is shared
//! ([`super::sql`]); this file says what PostgreSQL says differently.

use super::sql::{Dialect, SqlStore};
use super::{Result, StoreError};
use crate::model::{BuildingAssignment, HouseholdAssignment, Id};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Pool, Postgres};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

mod listen;

/// A store in a PostgreSQL database with PostGIS.
pub type PostgresStore = SqlStore<Postgres>;

/// How a PostgreSQL store hears of other writers.
#[derive(Debug)]
pub struct Listener {
    /// The `application_name` of this store's connections, unique to it: the change notices
    /// (migration 0005) carry it, so that a store can tell its own writes from others'.
    writer: String,
    /// One connection for listening to change notices, apart from the pool, and quick to give
    /// up while the server is away, so that the listener can log and retry at its own pace.
    pool: PgPool,
}

impl SqlStore<Postgres> {
    /// Connects to `postgres://…` and runs the migrations. The `postgis` extension must exist in
    /// the database already (creating it needs a superuser).
    pub async fn open(url: &str) -> Result<Self> {
        static OPENED: AtomicU64 = AtomicU64::new(0);
        let writer = format!(
            "wangge/{}/{}",
            std::process::id(),
            OPENED.fetch_add(1, Ordering::Relaxed)
        );
        let options = PgConnectOptions::from_str(url)?.application_name(&writer);
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect_lazy_with(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // While the server is away, sqlx retries inside an acquire with a backoff of up to a
            // fifth of this timeout: 5 s (not the default 30) keeps that under a second, so that
            // a reload waiting for a restarted server finishes soon after it is back.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let postgis: Option<String> =
            sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                .fetch_optional(&pool)
                .await?;
        if postgis.is_none() {
            return Err(StoreError::Setup(
                "the database has no PostGIS: run CREATE EXTENSION postgis as a superuser".into(),
            ));
        }
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(SqlStore {
            pool,
            watch: Listener {
                writer,
                pool: listen_pool,
            },
        })
    }
}

/// The ids of the JSON array `$1` as a `bigint[]`.
macro_rules! grid_array {
    () => {
        "ARRAY(SELECT json_array_elements_text($1::json)::bigint)"
    };
}

/// A timestamp column as milliseconds since the Unix epoch; NULL stays NULL.
macro_rules! epoch_ms {
    ($column:literal) => {
        concat!("(extract(epoch FROM ", $column, ") * 1000)::bigint")
    };
}

/// A timestamp column as RFC 3339 UTC text with milliseconds, the form SQLite stores.
macro_rules! rfc3339_ms {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
    };
}

/// Now, to the millisecond: claim times keep no more precision than SQLite's.
macro_rules! now_ms {
    () => {
        "date_trunc('milliseconds', clock_timestamp())"
    };
}

macro_rules! place_columns {
    () => {
        "id, kind, code, name, parent_id, ST_AsBinary(geom) AS geom, version"
    };
}

macro_rules! claims {
    () => {
        concat!(
            "SELECT c.id, c.area_id, u.id AS holder_id, u.name, u.display_name, u.phone, ",
            rfc3339_ms!("c.claimed_at"),
            " AS claimed_at, ",
            rfc3339_ms!("c.released_at"),
            " AS released_at, c.ended_by, c.ended_by_user \
             FROM area_claims c JOIN users u ON u.id = c.user_id"
        )
    };
}

#[async_trait]
impl Dialect for Postgres {
    const BACKEND: &'static str = "postgres";
    const BEGIN_WRITE: &'static str = "BEGIN";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

    const PLACES: &'static str = concat!(
        "SELECT ",
        place_columns!(),
        " FROM places WHERE $1::text IS NULL OR kind = $1 ORDER BY id"
    );
    const PLACE: &'static str = concat!("SELECT ", place_columns!(), " FROM places WHERE id = $1");
    // A concurrent edit of the same place waits here and then sees the new version.
    const PLACE_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        place_columns!(),
        " FROM places WHERE id = $1 FOR UPDATE"
    );
    const INSERT_PLACE: &'static str = "INSERT INTO places \
         (kind, code, name, parent_id, geom, version, updated_at) \
         VALUES ($1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5, 4326)), 1, $6::timestamptz) \
         RETURNING id";
    const UPDATE_PLACE: &'static str = "UPDATE places SET kind = $1, code = $2, name = $3, \
         parent_id = $4, geom = ST_Multi(ST_GeomFromWKB($5, 4326)), version = version + 1, \
         updated_at = $6::timestamptz WHERE id = $7 AND ($8::bigint IS NULL OR version = $8) \
         RETURNING version";
    const PLACES_AT: &'static str = "SELECT place_id AS id, kind, code, name, parent_id, \
         ST_AsBinary(geom) AS geom, version FROM place_versions \
         WHERE valid_from <= $1::timestamptz AND (valid_to IS NULL OR valid_to > $1::timestamptz) \
         ORDER BY place_id";
    const PLACES_UPDATED_AT: &'static str = concat!(
        "SELECT place_id, ",
        rfc3339_ms!("valid_from"),
        " FROM place_versions WHERE valid_to IS NULL ORDER BY place_id"
    );
    const PLACE_HISTORY: &'static str = concat!(
        "SELECT v.place_id AS id, v.version, v.kind, v.code, v.name, v.parent_id, \
         ST_AsBinary(v.geom) AS geom, ",
        rfc3339_ms!("v.valid_from"),
        " AS valid_from, ",
        rfc3339_ms!("v.valid_to"),
        " AS valid_to, v.action, v.user_id, u.name AS user_name, \
         u.display_name AS user_display_name FROM place_versions v \
         LEFT JOIN users u ON u.id = v.user_id WHERE v.place_id = $1 ORDER BY v.version"
    );
    const CLOSE_VERSION: &'static str = "UPDATE place_versions SET valid_to = $1::timestamptz \
         WHERE place_id = $2 AND valid_to IS NULL";
    const INSERT_VERSION: &'static str = "INSERT INTO place_versions (place_id, version, kind, \
         code, name, parent_id, geom, valid_from, valid_to, action, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, ST_Multi(ST_GeomFromWKB($7, 4326)), $8::timestamptz, \
         $9::timestamptz, $10, $11)";

    const BUILDINGS: &'static str = "SELECT id, code, name, address, floors, units, \
         ST_AsBinary(geom) AS geom, grid_id FROM buildings ORDER BY id";
    const UPSERT_BUILDING: &'static str = "INSERT INTO buildings \
         (code, name, address, floors, units, geom) \
         VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_GeomFromWKB($6, 4326))) \
         ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, address = EXCLUDED.address, \
         floors = EXCLUDED.floors, units = EXCLUDED.units, geom = EXCLUDED.geom";
    const HOUSEHOLDS: &'static str = "SELECT h.id, h.code, b.code AS building_code, h.unit, \
         h.floor, h.room, h.address, h.head_name, h.phone, h.people, \
         array_to_json(h.tags)::text AS tags, ST_X(h.location) AS lon, ST_Y(h.location) AS lat, \
         h.grid_id, h.version FROM households h LEFT JOIN buildings b ON b.id = h.building_id \
         WHERE $1::json IS NULL OR h.id IN (SELECT json_array_elements_text($1::json)::bigint) \
         ORDER BY h.id";
    const HOUSEHOLD_AREAS: &'static str = "SELECT household_id, area_id FROM household_areas \
         WHERE $1::json IS NULL \
         OR household_id IN (SELECT json_array_elements_text($1::json)::bigint) \
         ORDER BY household_id, area_id";
    const HOUSEHOLDS_MATCHING: &'static str = "SELECT id FROM households \
         WHERE strpos(head_name, $1) > 0 OR strpos(address, $1) > 0 OR strpos(code, $1) > 0 \
         ORDER BY id";
    const UPSERT_HOUSEHOLD: &'static str = "INSERT INTO households (code, building_id, unit, \
         floor, room, address, head_name, phone, people, tags, location) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         ARRAY(SELECT json_array_elements_text($10::json)), \
         ST_SetSRID(ST_MakePoint($11, $12), 4326)) \
         ON CONFLICT (code) DO UPDATE SET building_id = EXCLUDED.building_id, \
         unit = EXCLUDED.unit, floor = EXCLUDED.floor, room = EXCLUDED.room, \
         address = EXCLUDED.address, head_name = EXCLUDED.head_name, phone = EXCLUDED.phone, \
         people = EXCLUDED.people, tags = EXCLUDED.tags, location = EXCLUDED.location, \
         version = households.version + 1";

    const INSERT_HOUSEHOLD: &'static str = "INSERT INTO households (code, building_id, unit, \
         floor, room, address, head_name, phone, people, tags, location) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         ARRAY(SELECT json_array_elements_text($10::json)), \
         ST_SetSRID(ST_MakePoint($11, $12), 4326)) RETURNING id";
    const UPDATE_HOUSEHOLD: &'static str = "UPDATE households SET code = $1, building_id = $2, \
         unit = $3, floor = $4, room = $5, address = $6, head_name = $7, phone = $8, people = $9, \
         tags = ARRAY(SELECT json_array_elements_text($10::json)), \
         location = ST_SetSRID(ST_MakePoint($11, $12), 4326), version = version + 1 \
         WHERE id = $13 AND version = $14 RETURNING version";

    const INSERT_VISIT: &'static str = "INSERT INTO visits (household_id, user_id, \
         idempotency_key, digest, visited_at, position, accuracy_m, distance_m, on_site, notes, \
         corrects) VALUES ($1, $2, $3, $4, $5::timestamptz, ST_SetSRID(ST_MakePoint($6, $7), 4326), \
         $8, $9, $10, $11, $12) RETURNING id";
    const VISITS: &'static str = concat!(
        "SELECT v.id, v.household_id, v.user_id, v.digest, ",
        rfc3339_ms!("v.visited_at"),
        " AS visited_at, ",
        rfc3339_ms!("v.recorded_at"),
        " AS recorded_at, ST_X(v.position) AS lon, ST_Y(v.position) AS lat, v.accuracy_m, \
         v.distance_m, v.on_site, v.notes, v.corrects, v.corrected_by FROM visits v"
    );
    const NEEDS: &'static str = concat!(
        "SELECT n.id, n.visit_id, n.household_id, n.kind, n.note, ",
        rfc3339_ms!("n.met_at"),
        " AS met_at, n.met_by FROM needs n"
    );
    const MEET_NEED: &'static str = concat!(
        "UPDATE needs SET met_at = ",
        now_ms!(),
        ", met_by = $2 WHERE id = $1 AND met_at IS NULL"
    );
    const LAST_VISITS: &'static str = concat!(
        "SELECT household_id, ",
        rfc3339_ms!("any_at"),
        " AS any_at, ",
        rfc3339_ms!("on_site_at"),
        " AS on_site_at FROM household_last_visits"
    );
    const CADRE_WORK: &'static str = "SELECT u.id AS user_id, u.display_name, \
         (SELECT count(*) FROM visits v WHERE v.user_id = u.id AND v.on_site \
          AND v.corrected_by IS NULL \
          AND v.visited_at >= $1::timestamptz) AS on_site_visits, \
         (SELECT count(*) FROM needs n WHERE n.met_by = u.id \
          AND n.met_at >= $1::timestamptz) AS needs_met \
         FROM users u WHERE u.role = 'cadre' ORDER BY u.id";

    const INSERT_REQUEST: &'static str = "INSERT INTO requests (category, state, position, \
         address, description, media_url, attributes, reporter_name, reporter_phone, \
         reporter_email, household_id, posted_by, grid_id, area_id, community_id, street_id, \
         link, responsible_id, requested_at, opened_at, updated_at) VALUES ($1, $2, \
         ST_SetSRID(ST_MakePoint($3, $4), 4326), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20::timestamptz, $20::timestamptz, $20::timestamptz) \
         RETURNING id";
    const REQUESTS: &'static str = concat!(
        "SELECT r.id, r.category, r.state, r.fixed, ST_X(r.position) AS lon, \
         ST_Y(r.position) AS lat, r.address, r.description, r.media_url, r.attributes, \
         r.reporter_name, r.reporter_phone, r.reporter_email, r.household_id, r.posted_by, \
         r.grid_id, r.area_id, r.community_id, r.street_id, r.link, r.responsible_id, \
         r.assignee_id, r.assignee_unit, r.handled_by, r.duplicate_of, r.escalations, ",
        rfc3339_ms!("r.requested_at"),
        " AS requested_at, ",
        rfc3339_ms!("r.opened_at"),
        " AS opened_at, ",
        rfc3339_ms!("r.updated_at"),
        " AS updated_at, r.version, \
         (SELECT count(*) FROM request_photos p WHERE p.request_id = r.id) AS photos \
         FROM requests r \
         WHERE ($1::json IS NULL OR r.id IN (SELECT json_array_elements_text($1::json)::bigint)) \
         AND ($2::text IS NULL OR r.category = $2) \
         AND ($3::boolean IS NULL OR (r.state NOT IN ('closed', 'rejected', 'duplicate')) = $3) \
         AND ($4::timestamptz IS NULL OR r.requested_at >= $4::timestamptz) \
         AND ($5::timestamptz IS NULL OR r.requested_at < $5::timestamptz) \
         AND ($6::bigint IS NULL OR r.community_id = $6) \
         AND ($7::bigint IS NULL OR r.responsible_id = $7 OR r.assignee_id = $7) \
         AND ($8::float8 IS NULL OR r.position && ST_MakeEnvelope($8, $9, $10, $11, 4326)) \
         ORDER BY r.requested_at DESC, r.id DESC LIMIT $12"
    );
    const UPDATE_REQUEST: &'static str = "UPDATE requests SET state = $2, fixed = $3, link = $4, \
         responsible_id = $5, assignee_id = $6, assignee_unit = $7, handled_by = $8, \
         duplicate_of = $9, escalations = $10, category = $11, updated_at = $12::timestamptz, \
         opened_at = $14::timestamptz, version = version + 1 WHERE id = $1 AND version = $13 RETURNING version";
    const INSERT_REQUEST_EVENT: &'static str = "INSERT INTO request_events (request_id, \
         from_state, to_state, actor_id, note, link, assignee_id, assignee_unit, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz) RETURNING id";
    const REQUEST_EVENTS: &'static str = concat!(
        "SELECT id, request_id, from_state, to_state, actor_id, note, link, assignee_id, \
         assignee_unit, ",
        rfc3339_ms!("at"),
        " AS at FROM request_events WHERE request_id = $1 ORDER BY id"
    );
    const REQUEST_FOR_UPDATE: &'static str = "SELECT id FROM requests WHERE id = $1 FOR UPDATE";
    const INSERT_REQUEST_PHOTO: &'static str = "INSERT INTO request_photos (request_id, kind, \
         media_type, width, height, original, public, thumbnail, uploaded_by, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz) RETURNING id";
    const REQUEST_PHOTOS: &'static str = concat!(
        "SELECT id, request_id, kind, media_type, width, height, uploaded_by, ",
        rfc3339_ms!("at"),
        " AS at FROM request_photos WHERE request_id = $1 ORDER BY id"
    );
    const REQUEST_TIMINGS: &'static str = concat!(
        "SELECT id, category, state, fixed, grid_id, area_id, community_id, street_id, ",
        epoch_ms!("requested_at"),
        " AS requested_at, ",
        epoch_ms!("opened_at"),
        " AS opened_at, ",
        epoch_ms!("accepted_at"),
        " AS accepted_at, ",
        epoch_ms!("handled_at"),
        " AS handled_at, ",
        epoch_ms!("closed_at"),
        " AS closed_at, reworks::bigint AS reworks FROM requests \
         WHERE requested_at >= $1::timestamptz AND requested_at < $2::timestamptz \
         AND ($3::json IS NULL \
              OR grid_id IN (SELECT json_array_elements_text($3::json)::bigint))"
    );

    const INSERT_AUDIT: &'static str = "INSERT INTO audit \
         (at, user_id, action, entity, entity_id, before, after) \
         VALUES (coalesce($1::timestamptz, clock_timestamp()), $2, $3, $4, $5, $6::jsonb, \
         $7::jsonb) RETURNING id";
    const AUDIT: &'static str = concat!(
        "SELECT id, ",
        rfc3339_ms!("at"),
        " AS at, user_id, action, entity, entity_id, before::text AS before, \
         after::text AS after FROM audit \
         WHERE entity = $1 AND ($2::bigint IS NULL OR entity_id = $2) ORDER BY id"
    );

    const CLAIMS: &'static str = claims!();
    const PLACE_KIND_FOR_SHARE: &'static str = "SELECT kind FROM places WHERE id = $1 FOR SHARE";
    const OPEN_CLAIM_FOR_UPDATE: &'static str = concat!(
        claims!(),
        " WHERE c.area_id = $1 AND c.released_at IS NULL FOR UPDATE OF c"
    );
    const INSERT_CLAIM: &'static str = concat!(
        "INSERT INTO area_claims (area_id, user_id, claimed_at) \
         VALUES ($1, $2, COALESCE($3::timestamptz, ",
        now_ms!(),
        ")) RETURNING id"
    );
    const END_CLAIM: &'static str = concat!(
        "UPDATE area_claims SET released_at = GREATEST(claimed_at, ",
        now_ms!(),
        "), ended_by = $1, ended_by_user = $2 WHERE id = $3 RETURNING ",
        rfc3339_ms!("released_at")
    );
    const HOLDERS_AT: &'static str = concat!(
        claims!(),
        " WHERE c.claimed_at <= $1::timestamptz \
         AND (c.released_at IS NULL OR c.released_at > $1::timestamptz) ORDER BY c.area_id"
    );
    const HELD_AREAS: &'static str = concat!(
        "SELECT p.id, p.code, p.name, ",
        rfc3339_ms!("c.claimed_at"),
        " AS claimed_at, \
         (SELECT count(*) FROM household_areas h WHERE h.area_id = p.id) AS households \
         FROM area_claims c JOIN places p ON p.id = c.area_id \
         WHERE c.user_id = $1 AND c.released_at IS NULL ORDER BY c.claimed_at, c.id"
    );

    const MEMBERS: &'static str = "SELECT id, branch_id, name, phone, \
         to_char(joined_on, 'YYYY-MM-DD') AS joined_on, status, city \
         FROM members WHERE branch_id = $1 ORDER BY id";
    const ROLLS: &'static str = "SELECT id, branch_id, name, phone, \
         to_char(joined_on, 'YYYY-MM-DD') AS joined_on, status, city \
         FROM members WHERE status <> 'transferred' \
         AND branch_id IN (SELECT json_array_elements_text($1::json)::bigint) ORDER BY id";
    const INSERT_MEMBER: &'static str = "INSERT INTO members \
         (branch_id, name, phone, joined_on, status, city) \
         VALUES ($1, $2, $3, $4::date, $5, $6) RETURNING id";
    const UPDATE_MEMBER: &'static str = "UPDATE members SET branch_id = $2, name = $3, \
         joined_on = $4::date, status = $5, city = $6 WHERE id = $1";
    const INSERT_ACTIVITY: &'static str = "INSERT INTO activities \
         (branch_id, type, theme, held_at, lon, lat, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7, $8::timestamptz) RETURNING id";
    const ACTIVITIES: &'static str = concat!(
        "SELECT id, branch_id, type AS kind, theme, ",
        rfc3339_ms!("held_at"),
        " AS held_at, lon, lat, recorded_by, ",
        rfc3339_ms!("recorded_at"),
        " AS recorded_at FROM activities \
         WHERE ($1::json IS NULL OR id IN (SELECT json_array_elements_text($1::json)::bigint)) \
         AND ($2::json IS NULL \
              OR branch_id IN (SELECT json_array_elements_text($2::json)::bigint)) \
         AND ($3::timestamptz IS NULL OR held_at < $3::timestamptz \
              OR (held_at = $3::timestamptz AND id < $5)) \
         ORDER BY held_at DESC, id DESC LIMIT $4"
    );
    const ATTENDANCE_OF: &'static str = "SELECT activity_id, member_id, status, reason \
         FROM activity_attendance \
         WHERE activity_id IN (SELECT json_array_elements_text($1::json)::bigint) \
         ORDER BY activity_id, member_id";
    const ACTIVITY_PHOTOS_OF: &'static str = concat!(
        "SELECT activity_id, id, kind, media_type, width, height, ",
        rfc3339_ms!("taken_at"),
        " AS taken_at, flags::text AS flags, ",
        rfc3339_ms!("at"),
        " AS at FROM activity_photos \
         WHERE activity_id IN (SELECT json_array_elements_text($1::json)::bigint) ORDER BY id"
    );
    const ACTIVITY_FOR_UPDATE: &'static str = "SELECT id FROM activities WHERE id = $1 FOR UPDATE";
    const INSERT_ACTIVITY_PHOTO: &'static str = "INSERT INTO activity_photos (activity_id, kind, \
         media_type, width, height, original, public, thumbnail, taken_at, taken_lon, taken_lat, \
         flags, uploaded_by, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10, \
         $11, $12::jsonb, $13, $14::timestamptz) RETURNING id";
    const ATTENDANCE_LINES: &'static str = concat!(
        "SELECT a.id AS activity_id, a.branch_id, t.member_id, ",
        rfc3339_ms!("a.held_at"),
        " AS held_at, t.status \
         FROM activities a JOIN activity_attendance t ON t.activity_id = a.id \
         WHERE a.held_at >= $1::timestamptz AND a.held_at < $2::timestamptz \
         AND (SELECT count(*) FROM activity_photos p WHERE p.activity_id = a.id) = 3 \
         ORDER BY a.held_at, a.id, t.member_id"
    );
    // The grids as an array, so that each count is one index scan with `= ANY` (a join with
    // the JSON's rows took 279 ms instead of 163 ms over a street's million households).
    const SUMMARY_COUNTS: &'static str = concat!(
        "WITH b AS (SELECT json_array_elements_text($2::json)::bigint AS id), \
         done AS (SELECT a.id FROM activities a WHERE a.branch_id IN (SELECT id FROM b) \
           AND a.held_at >= $4::timestamptz \
           AND (SELECT count(*) FROM activity_photos p WHERE p.activity_id = a.id) = 3) \
         SELECT (SELECT count(*) FROM households WHERE grid_id = ANY(",
        grid_array!(),
        ")) AS households, \
         (SELECT count(*) FROM household_last_visits WHERE grid_id = ANY(",
        grid_array!(),
        ") AND on_site_at >= $3::timestamptz) AS visited, \
         (SELECT count(*) FROM members WHERE status <> 'transferred' \
           AND branch_id IN (SELECT id FROM b)) AS members, \
         (SELECT count(*) FROM members WHERE status = 'mobile' \
           AND branch_id IN (SELECT id FROM b)) AS mobile_members, \
         (SELECT count(*) FROM requests WHERE grid_id = ANY(",
        grid_array!(),
        ") AND state NOT IN ('closed', 'rejected', 'duplicate')) AS open_requests, \
         (SELECT count(*) FROM done) AS activities, \
         (SELECT count(*) FROM activity_attendance WHERE activity_id IN (SELECT id FROM done) \
           AND status <> 'absent') AS took_part, \
         (SELECT count(*) FROM activity_attendance WHERE activity_id IN (SELECT id FROM done)) \
           AS roll_lines"
    );
    const INSERT_LESSON: &'static str = "INSERT INTO lessons (title, body, link, sent_by, sent_at) \
         VALUES ($1, $2, $3, $4, $5::timestamptz) RETURNING id";
    const LESSONS: &'static str = concat!(
        "SELECT l.id, l.title, l.body, l.link, l.sent_by, ",
        rfc3339_ms!("l.sent_at"),
        " AS sent_at, \
         (SELECT coalesce(json_agg(DISTINCT r.branch_id), '[]')::text FROM lesson_recipients r \
          WHERE r.lesson_id = l.id) AS branch_ids, \
         (SELECT count(*) FROM lesson_recipients r WHERE r.lesson_id = l.id) AS recipients, \
         (SELECT count(r.read_at) FROM lesson_recipients r WHERE r.lesson_id = l.id) AS reads \
         FROM lessons l WHERE $1::bigint IS NULL OR l.id = $1 ORDER BY l.sent_at DESC, l.id DESC"
    );
    const OPEN_LESSON: &'static str = "UPDATE lesson_recipients \
         SET read_at = coalesce(read_at, $2::timestamptz) WHERE token_hash = $1 \
         RETURNING lesson_id";

    async fn write_assignments(
        conn: &mut PgConnection,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) -> Result<()> {
        // Whole arrays per statement: one round trip each, however many rows moved.
        let ids: Vec<Id> = households.iter().map(|a| a.household_id).collect();
        let grids: Vec<Option<Id>> = households.iter().map(|a| a.grid_id).collect();
        let (area_households, area_ids): (Vec<Id>, Vec<Id>) = households
            .iter()
            .flat_map(|a| a.area_ids.iter().map(|area| (a.household_id, *area)))
            .unzip();
        let building_ids: Vec<Id> = buildings.iter().map(|a| a.building_id).collect();
        let building_grids: Vec<Option<Id>> = buildings.iter().map(|a| a.grid_id).collect();
        sqlx::query(
            "UPDATE households h SET grid_id = u.grid_id \
             FROM UNNEST($1::bigint[], $2::bigint[]) AS u(id, grid_id) WHERE h.id = u.id",
        )
        .bind(&ids)
        .bind(&grids)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM household_areas WHERE household_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO household_areas (household_id, area_id) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
        )
        .bind(&area_households)
        .bind(&area_ids)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE buildings b SET grid_id = u.grid_id \
             FROM UNNEST($1::bigint[], $2::bigint[]) AS u(id, grid_id) WHERE b.id = u.id",
        )
        .bind(&building_ids)
        .bind(&building_grids)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    type Watch = Listener;

    async fn watch_changes(
        pool: &Pool<Postgres>,
        listener: &Listener,
    ) -> Result<Option<crate::store::ChangeFeed>> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(pool)
            .await?;
        let changes = listen::watch(listener.pool.clone(), schema, listener.writer.clone()).await?;
        Ok(Some(changes))
    }
}
