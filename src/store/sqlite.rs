//! The embedded backend: one SQLite file, created and migrated on first start.
//!
//! SQLite has no geometry type here: polygons are WKB blobs and household locations two REAL
//! columns; instants are RFC 3339 UTC text with milliseconds, which sorts like time. Validity
//! is checked in Rust before anything is written, the same check PostGIS repeats with
//! `ST_IsValid`. The SQL itself is shared ([`super::sql`]); this file says what SQLite says
//! differently.

use super::sql::{Dialect, SqlStore};
use super::{Result, StoreError};
use crate::model::{BuildingAssignment, HouseholdAssignment};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Pool, Sqlite, SqliteConnection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// A store in one SQLite file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating the file and its folder if needed) and migrates `sqlite://PATH`.
    /// `sqlite::memory:` gives a private in-memory store.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Writers queue instead of failing at once when another connection holds the lock.
            .busy_timeout(Duration::from_secs(10));
        if let Some(folder) = Path::new(options.get_filename()).parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|e| {
                StoreError::Setup(format!("cannot create folder {}: {e}", folder.display()))
            })?;
        }
        let in_memory = options.get_filename() == Path::new(":memory:");
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqlStore { pool, watch: () })
    }
}

/// Now as SQLite stores instants.
macro_rules! now {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// A stored instant (RFC 3339 text) as milliseconds since the Unix epoch; NULL stays NULL.
macro_rules! epoch_ms {
    ($column:literal) => {
        concat!(
            "CAST(round((julianday(",
            $column,
            ") - 2440587.5) * 86400000.0) AS INTEGER)"
        )
    };
}

macro_rules! place_columns {
    () => {
        "id, kind, code, name, parent_id, geom, version"
    };
}

macro_rules! claims {
    () => {
        "SELECT c.id, c.area_id, u.id AS holder_id, u.name, u.display_name, u.phone, \
         c.claimed_at, c.released_at, c.ended_by, c.ended_by_user \
         FROM area_claims c JOIN users u ON u.id = c.user_id"
    };
}

#[async_trait]
impl Dialect for Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    // In WAL mode a read transaction sees one snapshot from its first read to its end.
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";

    const PLACES: &'static str = concat!(
        "SELECT ",
        place_columns!(),
        " FROM places WHERE $1 IS NULL OR kind = $1 ORDER BY id"
    );
    const PLACE: &'static str = concat!("SELECT ", place_columns!(), " FROM places WHERE id = $1");
    // One writer at a time holds SQLite's write lock: nothing to lock row by row.
    const PLACE_FOR_UPDATE: &'static str = Self::PLACE;
    // Without the explicit id SQLite would reuse the largest id once its row is deleted.
    const INSERT_PLACE: &'static str = "INSERT INTO places \
         (id, kind, code, name, parent_id, geom, version, updated_at) \
         VALUES ((SELECT max(m) + 1 FROM (SELECT coalesce(max(id), 0) AS m FROM places \
         UNION ALL SELECT coalesce(max(place_id), 0) FROM place_versions)), \
         $1, $2, $3, $4, $5, 1, $6) RETURNING id";
    const UPDATE_PLACE: &'static str = "UPDATE places SET kind = $1, code = $2, name = $3, \
         parent_id = $4, geom = $5, version = version + 1, updated_at = $6 \
         WHERE id = $7 AND ($8 IS NULL OR version = $8) RETURNING version";
    const PLACES_AT: &'static str = "SELECT place_id AS id, kind, code, name, parent_id, geom, \
         version FROM place_versions WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) \
         ORDER BY place_id";
    const PLACES_UPDATED_AT: &'static str = "SELECT place_id, valid_from FROM place_versions \
         WHERE valid_to IS NULL ORDER BY place_id";
    const PLACE_HISTORY: &'static str = "SELECT v.place_id AS id, v.version, v.kind, v.code, \
         v.name, v.parent_id, v.geom, v.valid_from, v.valid_to, v.action, v.user_id, \
         u.name AS user_name, u.display_name AS user_display_name FROM place_versions v \
         LEFT JOIN users u ON u.id = v.user_id WHERE v.place_id = $1 ORDER BY v.version";
    const CLOSE_VERSION: &'static str =
        "UPDATE place_versions SET valid_to = $1 WHERE place_id = $2 AND valid_to IS NULL";
    const INSERT_VERSION: &'static str = "INSERT INTO place_versions (place_id, version, kind, \
         code, name, parent_id, geom, valid_from, valid_to, action, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

    const BUILDINGS: &'static str =
        "SELECT id, code, name, address, floors, units, geom, grid_id FROM buildings ORDER BY id";
    const UPSERT_BUILDING: &'static str = "INSERT INTO buildings \
         (code, name, address, floors, units, geom) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, address = excluded.address, \
         floors = excluded.floors, units = excluded.units, geom = excluded.geom";
    const HOUSEHOLDS: &'static str = "SELECT h.id, h.code, b.code AS building_code, h.unit, \
         h.floor, h.room, h.address, h.head_name, h.phone, h.people, h.tags, h.lon, h.lat, \
         h.grid_id, h.version FROM households h LEFT JOIN buildings b ON b.id = h.building_id \
         WHERE $1 IS NULL OR h.id IN (SELECT value FROM json_each($1)) ORDER BY h.id";
    const HOUSEHOLD_AREAS: &'static str = "SELECT household_id, area_id FROM household_areas \
         WHERE $1 IS NULL OR household_id IN (SELECT value FROM json_each($1)) \
         ORDER BY household_id, area_id";
    const HOUSEHOLDS_MATCHING: &'static str = "SELECT id FROM households \
         WHERE instr(head_name, $1) > 0 OR instr(address, $1) > 0 OR instr(code, $1) > 0 \
         ORDER BY id";
    const UPSERT_HOUSEHOLD: &'static str = "INSERT INTO households (code, building_id, unit, \
         floor, room, address, head_name, phone, people, tags, lon, lat) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (code) DO UPDATE SET building_id = excluded.building_id, \
         unit = excluded.unit, floor = excluded.floor, room = excluded.room, \
         address = excluded.address, head_name = excluded.head_name, phone = excluded.phone, \
         people = excluded.people, tags = excluded.tags, lon = excluded.lon, lat = excluded.lat, \
         version = households.version + 1";

    const INSERT_HOUSEHOLD: &'static str = "INSERT INTO households (code, building_id, unit, \
         floor, room, address, head_name, phone, people, tags, lon, lat) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
    const UPDATE_HOUSEHOLD: &'static str = "UPDATE households SET code = $1, building_id = $2, \
         unit = $3, floor = $4, room = $5, address = $6, head_name = $7, phone = $8, people = $9, \
         tags = $10, lon = $11, lat = $12, version = version + 1 \
         WHERE id = $13 AND version = $14 RETURNING version";

    const INSERT_VISIT: &'static str = "INSERT INTO visits (household_id, user_id, \
         idempotency_key, digest, visited_at, lon, lat, accuracy_m, distance_m, on_site, notes, \
         corrects) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
    const VISITS: &'static str = "SELECT v.id, v.household_id, v.user_id, v.digest, \
         v.visited_at, v.recorded_at, v.lon, v.lat, v.accuracy_m, v.distance_m, v.on_site, \
         v.notes, v.corrects, v.corrected_by FROM visits v";
    const NEEDS: &'static str =
        "SELECT n.id, n.visit_id, n.household_id, n.kind, n.note, n.met_at, n.met_by FROM needs n";
    const MEET_NEED: &'static str = concat!(
        "UPDATE needs SET met_at = ",
        now!(),
        ", met_by = $2 WHERE id = $1 AND met_at IS NULL"
    );
    const LAST_VISITS: &'static str =
        "SELECT household_id, any_at, on_site_at FROM household_last_visits";
    const CADRE_WORK: &'static str = "SELECT u.id AS user_id, u.display_name, \
         (SELECT count(*) FROM visits v \
          WHERE v.user_id = u.id AND v.on_site AND v.corrected_by IS NULL \
          AND v.visited_at >= $1) AS on_site_visits, \
         (SELECT count(*) FROM needs n WHERE n.met_by = u.id AND n.met_at >= $1) AS needs_met \
         FROM users u WHERE u.role = 'cadre' ORDER BY u.id";

    const INSERT_REQUEST: &'static str = "INSERT INTO requests (category, state, lon, lat, \
         address, description, media_url, attributes, reporter_name, reporter_phone, \
         reporter_email, household_id, posted_by, grid_id, area_id, community_id, street_id, \
         link, responsible_id, requested_at, opened_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, \
         $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $20) RETURNING id";
    const REQUESTS: &'static str = "SELECT r.id, r.category, r.state, r.fixed, r.lon, r.lat, \
         r.address, r.description, r.media_url, r.attributes, r.reporter_name, r.reporter_phone, \
         r.reporter_email, r.household_id, r.posted_by, r.grid_id, r.area_id, r.community_id, \
         r.street_id, r.link, r.responsible_id, r.assignee_id, r.assignee_unit, r.handled_by, \
         r.duplicate_of, r.escalations, r.requested_at, r.opened_at, r.updated_at, r.version, \
         (SELECT count(*) FROM request_photos p WHERE p.request_id = r.id) AS photos \
         FROM requests r \
         WHERE ($1 IS NULL OR r.id IN (SELECT value FROM json_each($1))) \
         AND ($2 IS NULL OR r.category = $2) \
         AND ($3 IS NULL OR (r.state NOT IN ('closed', 'rejected', 'duplicate')) = $3) \
         AND ($4 IS NULL OR r.requested_at >= $4) AND ($5 IS NULL OR r.requested_at < $5) \
         AND ($6 IS NULL OR r.community_id = $6) \
         AND ($7 IS NULL OR r.responsible_id = $7 OR r.assignee_id = $7) \
         AND ($8 IS NULL OR (r.lon BETWEEN $8 AND $10 AND r.lat BETWEEN $9 AND $11)) \
         ORDER BY r.requested_at DESC, r.id DESC LIMIT $12";
    const UPDATE_REQUEST: &'static str = "UPDATE requests SET state = $2, fixed = $3, link = $4, \
         responsible_id = $5, assignee_id = $6, assignee_unit = $7, handled_by = $8, \
         duplicate_of = $9, escalations = $10, category = $11, updated_at = $12, opened_at = $14, \
         version = version + 1 WHERE id = $1 AND version = $13 RETURNING version";
    const INSERT_REQUEST_EVENT: &'static str = "INSERT INTO request_events (request_id, \
         from_state, to_state, actor_id, note, link, assignee_id, assignee_unit, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    const REQUEST_EVENTS: &'static str = "SELECT id, request_id, from_state, to_state, actor_id, \
         note, link, assignee_id, assignee_unit, at FROM request_events WHERE request_id = $1 \
         ORDER BY id";
    const REQUEST_FOR_UPDATE: &'static str = "SELECT id FROM requests WHERE id = $1";
    const INSERT_REQUEST_PHOTO: &'static str = "INSERT INTO request_photos (request_id, kind, \
         media_type, width, height, original, public, thumbnail, uploaded_by, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
    const REQUEST_PHOTOS: &'static str = "SELECT id, request_id, kind, media_type, width, height, \
         uploaded_by, at FROM request_photos WHERE request_id = $1 ORDER BY id";
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
        " AS closed_at, reworks FROM requests \
         WHERE requested_at >= $1 AND requested_at < $2 \
         AND ($3 IS NULL OR grid_id IN (SELECT value FROM json_each($3)))"
    );

    const INSERT_AUDIT: &'static str = concat!(
        "INSERT INTO audit (at, user_id, action, entity, entity_id, before, after) \
         VALUES (coalesce($1, ",
        now!(),
        "), $2, $3, $4, $5, $6, $7) RETURNING id"
    );
    const AUDIT: &'static str = "SELECT id, at, user_id, action, entity, entity_id, before, \
         after FROM audit WHERE entity = $1 AND ($2 IS NULL OR entity_id = $2) ORDER BY id";

    const CLAIMS: &'static str = claims!();
    const PLACE_KIND_FOR_SHARE: &'static str = "SELECT kind FROM places WHERE id = $1";
    const OPEN_CLAIM_FOR_UPDATE: &'static str =
        concat!(claims!(), " WHERE c.area_id = $1 AND c.released_at IS NULL");
    const INSERT_CLAIM: &'static str = concat!(
        "INSERT INTO area_claims (area_id, user_id, claimed_at) VALUES ($1, $2, coalesce($3, ",
        now!(),
        ")) RETURNING id"
    );
    const END_CLAIM: &'static str = concat!(
        "UPDATE area_claims SET released_at = max(claimed_at, ",
        now!(),
        "), ended_by = $1, ended_by_user = $2 WHERE id = $3 RETURNING released_at"
    );
    const HOLDERS_AT: &'static str = concat!(
        claims!(),
        " WHERE c.claimed_at <= $1 AND (c.released_at IS NULL OR c.released_at > $1) \
         ORDER BY c.area_id"
    );
    const HELD_AREAS: &'static str = "SELECT p.id, p.code, p.name, c.claimed_at, \
         (SELECT count(*) FROM household_areas h WHERE h.area_id = p.id) AS households \
         FROM area_claims c JOIN places p ON p.id = c.area_id \
         WHERE c.user_id = $1 AND c.released_at IS NULL ORDER BY c.claimed_at, c.id";

    const MEMBERS: &'static str = "SELECT id, branch_id, name, phone, joined_on, status, city \
         FROM members WHERE branch_id = $1 ORDER BY id";
    const ROLLS: &'static str = "SELECT id, branch_id, name, phone, joined_on, status, city \
         FROM members WHERE status <> 'transferred' \
         AND branch_id IN (SELECT value FROM json_each($1)) ORDER BY id";
    const INSERT_MEMBER: &'static str = "INSERT INTO members \
         (branch_id, name, phone, joined_on, status, city) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id";
    const UPDATE_MEMBER: &'static str = "UPDATE members SET branch_id = $2, name = $3, \
         joined_on = $4, status = $5, city = $6 WHERE id = $1";
    const INSERT_ACTIVITY: &'static str = "INSERT INTO activities \
         (branch_id, type, theme, held_at, lon, lat, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    const ACTIVITIES: &'static str = "SELECT id, branch_id, type AS kind, theme, held_at, lon, \
         lat, recorded_by, recorded_at FROM activities \
         WHERE ($1 IS NULL OR id IN (SELECT value FROM json_each($1))) \
         AND ($2 IS NULL OR branch_id IN (SELECT value FROM json_each($2))) \
         AND ($3 IS NULL OR held_at < $3 OR (held_at = $3 AND id < $5)) \
         ORDER BY held_at DESC, id DESC LIMIT $4";
    const ATTENDANCE_OF: &'static str = "SELECT activity_id, member_id, status, reason \
         FROM activity_attendance WHERE activity_id IN (SELECT value FROM json_each($1)) \
         ORDER BY activity_id, member_id";
    const ACTIVITY_PHOTOS_OF: &'static str = "SELECT activity_id, id, kind, media_type, width, \
         height, taken_at, flags, at FROM activity_photos \
         WHERE activity_id IN (SELECT value FROM json_each($1)) ORDER BY id";
    const ACTIVITY_FOR_UPDATE: &'static str = "SELECT id FROM activities WHERE id = $1";
    const INSERT_ACTIVITY_PHOTO: &'static str = "INSERT INTO activity_photos (activity_id, kind, \
         media_type, width, height, original, public, thumbnail, taken_at, taken_lon, taken_lat, \
         flags, uploaded_by, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id";
    const ATTENDANCE_LINES: &'static str = "SELECT a.id AS activity_id, a.branch_id, t.member_id, \
         a.held_at, t.status \
         FROM activities a JOIN activity_attendance t ON t.activity_id = a.id \
         WHERE a.held_at >= $1 AND a.held_at < $2 \
         AND (SELECT count(*) FROM activity_photos p WHERE p.activity_id = a.id) = 3 \
         ORDER BY a.held_at, a.id, t.member_id";
    const SUMMARY_COUNTS: &'static str = "WITH g AS (SELECT value AS id FROM json_each($1)), \
         b AS (SELECT value AS id FROM json_each($2)), \
         done AS (SELECT a.id FROM activities a WHERE a.branch_id IN (SELECT id FROM b) \
           AND a.held_at >= $4 \
           AND (SELECT count(*) FROM activity_photos p WHERE p.activity_id = a.id) = 3) \
         SELECT (SELECT count(*) FROM households WHERE grid_id IN (SELECT id FROM g)) \
           AS households, \
         (SELECT count(*) FROM household_last_visits WHERE grid_id IN (SELECT id FROM g) \
           AND on_site_at >= $3) AS visited, \
         (SELECT count(*) FROM members WHERE status <> 'transferred' \
           AND branch_id IN (SELECT id FROM b)) AS members, \
         (SELECT count(*) FROM members WHERE status = 'mobile' \
           AND branch_id IN (SELECT id FROM b)) AS mobile_members, \
         (SELECT count(*) FROM requests WHERE grid_id IN (SELECT id FROM g) \
           AND state NOT IN ('closed', 'rejected', 'duplicate')) AS open_requests, \
         (SELECT count(*) FROM done) AS activities, \
         (SELECT count(*) FROM activity_attendance WHERE activity_id IN (SELECT id FROM done) \
           AND status <> 'absent') AS took_part, \
         (SELECT count(*) FROM activity_attendance WHERE activity_id IN (SELECT id FROM done)) \
           AS roll_lines";
    const INSERT_LESSON: &'static str = "INSERT INTO lessons (title, body, link, sent_by, sent_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id";
    const LESSONS: &'static str = "SELECT l.id, l.title, l.body, l.link, l.sent_by, l.sent_at, \
         (SELECT json_group_array(DISTINCT r.branch_id) FROM lesson_recipients r \
          WHERE r.lesson_id = l.id) AS branch_ids, \
         (SELECT count(*) FROM lesson_recipients r WHERE r.lesson_id = l.id) AS recipients, \
         (SELECT count(r.read_at) FROM lesson_recipients r WHERE r.lesson_id = l.id) AS reads \
         FROM lessons l WHERE $1 IS NULL OR l.id = $1 ORDER BY l.sent_at DESC, l.id DESC";
    const OPEN_LESSON: &'static str = "UPDATE lesson_recipients \
         SET read_at = coalesce(read_at, $2) WHERE token_hash = $1 RETURNING lesson_id";

    async fn write_assignments(
        conn: &mut SqliteConnection,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) -> Result<()> {
        // Statements on an embedded database cost no round trip: one row at a time.
        for a in households {
            sqlx::query("UPDATE households SET grid_id = $1 WHERE id = $2")
                .bind(a.grid_id)
                .bind(a.household_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM household_areas WHERE household_id = $1")
                .bind(a.household_id)
                .execute(&mut *conn)
                .await?;
            for area in &a.area_ids {
                sqlx::query("INSERT INTO household_areas (household_id, area_id) VALUES ($1, $2)")
                    .bind(a.household_id)
                    .bind(area)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        for a in buildings {
            sqlx::query("UPDATE buildings SET grid_id = $1 WHERE id = $2")
                .bind(a.grid_id)
                .bind(a.building_id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// SQLite has no channel to tell other processes of a write: a process sees them when it
    /// reads or reloads.
    type Watch = ();

    async fn watch_changes(
        _pool: &Pool<Sqlite>,
        _watch: &(),
    ) -> Result<Option<crate::store::ChangeFeed>> {
        Ok(None)
    }
}
