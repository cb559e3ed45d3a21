-- The visit diary (民情日记) and the needs visits find, and the community a secretary answers for.
-- Visits and needs are never deleted (留痕): a household with visits cannot be deleted either.

-- A secretary sees the households in the grids of their community.
ALTER TABLE users ADD COLUMN community_id INTEGER REFERENCES places (id) ON DELETE SET NULL;

CREATE TABLE visits (
    id              INTEGER PRIMARY KEY,
    household_id    INTEGER NOT NULL REFERENCES households (id) ON DELETE RESTRICT,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    -- The phone's own id for the record: a resend with the same key stores nothing new.
    idempotency_key TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
    -- What was sent, digested, to tell a resend from a key reused for other content.
    digest          TEXT    NOT NULL,
    visited_at      TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    lon             REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat             REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    accuracy_m      REAL    CHECK (accuracy_m IS NULL OR accuracy_m >= 0),
    distance_m      REAL    NOT NULL CHECK (distance_m >= 0),
    on_site         INTEGER NOT NULL CHECK (on_site IN (0, 1)),
    notes           TEXT    NOT NULL,
    CONSTRAINT visits_key UNIQUE (user_id, idempotency_key)
);
-- The latest visits of each household (plans, coverage), and each cadre's work (先锋榜).
CREATE INDEX visits_household ON visits (household_id, visited_at);
CREATE INDEX visits_user ON visits (user_id, visited_at);

CREATE TABLE needs (
    id           INTEGER PRIMARY KEY,
    visit_id     INTEGER NOT NULL REFERENCES visits (id),
    household_id INTEGER NOT NULL REFERENCES households (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('wristband', 'extinguisher', 'anti_climb',
                                                  'door_bolt', 'repair', 'medical', 'other')),
    note         TEXT    NOT NULL,
    met_at       TEXT,
    met_by       INTEGER REFERENCES users (id),
    CHECK ((met_at IS NULL) = (met_by IS NULL))
);
CREATE INDEX needs_visit ON needs (visit_id);
CREATE INDEX needs_household ON needs (household_id);
CREATE INDEX needs_met_by ON needs (met_by, met_at);
