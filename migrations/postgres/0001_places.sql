-- Places of the hierarchy (district → street → community → grid) and responsibility areas,
-- buildings and households, in PostGIS. Geometry is EPSG:4326 (WGS84 lon/lat).
-- The postgis extension is created by the operator (it needs a superuser); see README.

CREATE TABLE places (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT   NOT NULL CHECK (kind IN ('district', 'street', 'community', 'grid', 'area')),
    code        TEXT   NOT NULL UNIQUE CHECK (length(code) > 0),
    name        TEXT   NOT NULL,
    parent_id   BIGINT REFERENCES places (id) ON DELETE RESTRICT,
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    version     BIGINT NOT NULL DEFAULT 1,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX places_kind ON places (kind);
CREATE INDEX places_parent ON places (parent_id);
CREATE INDEX places_geom ON places USING GIST (geom);

CREATE TABLE buildings (
    id          BIGSERIAL PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) > 0),
    name        TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    floors      INTEGER NOT NULL CHECK (floors BETWEEN 1 AND 200),
    units       INTEGER NOT NULL DEFAULT 1 CHECK (units BETWEEN 1 AND 100),
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    grid_id     BIGINT REFERENCES places (id) ON DELETE SET NULL
);
CREATE INDEX buildings_grid ON buildings (grid_id);
CREATE INDEX buildings_geom ON buildings USING GIST (geom);

CREATE TABLE households (
    id          BIGSERIAL PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE CHECK (length(code) > 0),
    building_id BIGINT  REFERENCES buildings (id) ON DELETE SET NULL,
    unit        INTEGER,
    floor       INTEGER,
    room        TEXT,
    address     TEXT    NOT NULL,
    head_name   TEXT    NOT NULL,
    phone       TEXT,
    people      INTEGER NOT NULL CHECK (people BETWEEN 0 AND 100),
    tags        TEXT[]  NOT NULL DEFAULT '{}',
    location    geometry(Point, 4326) NOT NULL,
    grid_id     BIGINT REFERENCES places (id) ON DELETE SET NULL
);
CREATE INDEX households_grid ON households (grid_id);
CREATE INDEX households_building ON households (building_id);
CREATE INDEX households_location ON households USING GIST (location);

-- A household may lie in more than one responsibility area where areas overlap.
CREATE TABLE household_areas (
    household_id BIGINT NOT NULL REFERENCES households (id) ON DELETE CASCADE,
    area_id      BIGINT NOT NULL REFERENCES places (id) ON DELETE CASCADE,
    PRIMARY KEY (household_id, area_id)
);
CREATE INDEX household_areas_area ON household_areas (area_id);
