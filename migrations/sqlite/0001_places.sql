-- Places of the hierarchy (district → street → community → grid) and responsibility areas,
-- buildings and households. Geometry is WKB in EPSG:4326 (WGS84 lon/lat); the bounding box is
-- kept beside it so a box query needs no decoding. Validity is checked in Rust before writing.

CREATE TABLE places (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL CHECK (kind IN ('district', 'street', 'community', 'grid', 'area')),
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) > 0),
    name        TEXT    NOT NULL,
    parent_id   INTEGER REFERENCES places (id) ON DELETE RESTRICT,
    geom        BLOB    NOT NULL,
    min_x       REAL    NOT NULL,
    min_y       REAL    NOT NULL,
    max_x       REAL    NOT NULL,
    max_y       REAL    NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX places_kind ON places (kind);
CREATE INDEX places_parent ON places (parent_id);

CREATE TABLE buildings (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) > 0),
    name        TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    floors      INTEGER NOT NULL CHECK (floors BETWEEN 1 AND 200),
    units       INTEGER NOT NULL DEFAULT 1 CHECK (units BETWEEN 1 AND 100),
    geom        BLOB    NOT NULL,
    grid_id     INTEGER REFERENCES places (id) ON DELETE SET NULL
);
CREATE INDEX buildings_grid ON buildings (grid_id);

CREATE TABLE households (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) > 0),
    building_id INTEGER REFERENCES buildings (id) ON DELETE SET NULL,
    unit        INTEGER,
    floor       INTEGER,
    room        TEXT,
    address     TEXT    NOT NULL,
    head_name   TEXT    NOT NULL,
    phone       TEXT,
    people      INTEGER NOT NULL CHECK (people BETWEEN 0 AND 100),
    tags        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    lon         REAL    NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat         REAL    NOT NULL CHECK (lat BETWEEN -90 AND 90),
    grid_id     INTEGER REFERENCES places (id) ON DELETE SET NULL
);
CREATE INDEX households_grid ON households (grid_id);
CREATE INDEX households_building ON households (building_id);

-- A household may lie in more than one responsibility area where areas overlap.
CREATE TABLE household_areas (
    household_id INTEGER NOT NULL REFERENCES households (id) ON DELETE CASCADE,
    area_id      INTEGER NOT NULL REFERENCES places (id) ON DELETE CASCADE,
    PRIMARY KEY (household_id, area_id)
);
CREATE INDEX household_areas_area ON household_areas (area_id);
