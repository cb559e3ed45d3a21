-- Every version a place has had, so that history can be listed and a lookup can be answered as of
-- a past instant. A version is valid from `valid_from` (inclusive) to `valid_to` (exclusive);
-- `valid_to` NULL marks the current version. A deletion is a last version with the last geometry
-- and an empty validity (valid_to = valid_from). Deleted places keep their rows (no foreign key on
-- place_id). Timestamps are RFC 3339 UTC text with exactly three decimals and a `Z`
-- (2026-11-28T12:00:00.000Z), so that comparing them as text compares instants.
-- user_id NULL means the operator at the command line.

CREATE TABLE place_versions (
    place_id    INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('district', 'street', 'community', 'grid', 'area')),
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    parent_id   INTEGER,
    geom        BLOB    NOT NULL,
    valid_from  TEXT    NOT NULL,
    valid_to    TEXT,
    action      TEXT    NOT NULL
        CHECK (action IN ('import', 'create', 'update', 'split', 'merge', 'delete')),
    user_id     INTEGER REFERENCES users (id),
    PRIMARY KEY (place_id, version)
);
CREATE INDEX place_versions_valid ON place_versions (valid_from, valid_to);

INSERT INTO place_versions (place_id, version, kind, code, name, parent_id, geom, valid_from,
                            action)
SELECT id, version, kind, code, name, parent_id, geom, updated_at, 'import' FROM places;
