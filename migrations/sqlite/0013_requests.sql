-- Residents' requests (社情民意) and every step taken on them (留痕): requests and their events are
-- never deleted. Instants are RFC 3339 UTC text with three decimals, compared as text.

CREATE TABLE requests (
    id             INTEGER PRIMARY KEY,
    category       TEXT    NOT NULL CHECK (length(category) BETWEEN 1 AND 64),
    state          TEXT    NOT NULL CHECK (state IN ('reported', 'accepted', 'dispatched',
                       'handled', 'verified', 'closed', 'rejected', 'duplicate', 'reopened')),
    fixed          INTEGER CHECK (fixed IN (0, 1)),
    lon            REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat            REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    address        TEXT    NOT NULL,
    -- Open311 allows 4,000 characters; the API refuses more before it gets here.
    description    TEXT    NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    media_url      TEXT,
    attributes     TEXT    NOT NULL,
    reporter_name  TEXT,
    reporter_phone TEXT,
    reporter_email TEXT,
    household_id   INTEGER REFERENCES households (id),
    posted_by      INTEGER REFERENCES users (id),
    -- The places above the spot when it was posted. No foreign keys: a grid redrawn or deleted
    -- later does not rewrite where a request was (place_versions keeps the old shapes).
    grid_id        INTEGER NOT NULL,
    area_id        INTEGER,
    community_id   INTEGER NOT NULL,
    street_id      INTEGER,
    link           TEXT    NOT NULL CHECK (link IN ('area', 'grid', 'community', 'street')),
    responsible_id INTEGER REFERENCES users (id),
    assignee_id    INTEGER REFERENCES users (id),
    assignee_unit  TEXT    CHECK (assignee_unit IS NULL OR length(assignee_unit) BETWEEN 1 AND 200),
    handled_by     INTEGER REFERENCES users (id),
    duplicate_of   INTEGER REFERENCES requests (id),
    escalations    INTEGER NOT NULL DEFAULT 0 CHECK (escalations >= 0),
    requested_at   TEXT    NOT NULL,
    -- When it was posted or last reopened: its time limits count from here.
    opened_at      TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    -- A closed request says whether it was fixed, so that the closing rate stays honest; no other
    -- state does.
    CONSTRAINT requests_fixed_when_closed CHECK ((state = 'closed') = (fixed IS NOT NULL)),
    -- A duplicate names the request it repeats, never itself.
    CONSTRAINT requests_duplicate_names_another
        CHECK ((state = 'duplicate') = (duplicate_of IS NOT NULL) AND (duplicate_of IS NULL OR duplicate_of <> id))
);
-- A community's list, newest first; what waits on a person; the nearby open ones of a category.
CREATE INDEX requests_community ON requests (community_id, requested_at);
CREATE INDEX requests_responsible ON requests (responsible_id) WHERE responsible_id IS NOT NULL;
CREATE INDEX requests_assignee ON requests (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX requests_category ON requests (category, requested_at);
CREATE INDEX requests_requested ON requests (requested_at);

CREATE TABLE request_events (
    id            INTEGER PRIMARY KEY,
    request_id    INTEGER NOT NULL REFERENCES requests (id),
    from_state    TEXT,
    to_state      TEXT    NOT NULL,
    -- Null for a resident's own report and for the clock's escalations.
    actor_id      INTEGER REFERENCES users (id),
    note          TEXT    NOT NULL,
    link          TEXT    NOT NULL,
    assignee_id   INTEGER REFERENCES users (id),
    assignee_unit TEXT,
    at            TEXT    NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, id);
