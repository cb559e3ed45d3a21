-- Claims of responsibility areas (民情责任田) by cadres, and the contact details a holder shows.
-- Timestamps are RFC 3339 UTC text with exactly three decimals and 'Z', so that comparing the
-- text compares the instants ("who held this area at DATE").

ALTER TABLE users ADD COLUMN display_name TEXT CHECK (display_name IS NULL OR length(display_name) > 0);
ALTER TABLE users ADD COLUMN phone TEXT CHECK (phone IS NULL OR length(phone) > 0);

-- One row per claim; a claim ends by release, reassignment or the area's deletion. The area's
-- existence and kind ('area') are checked by the store in the claiming transaction. No foreign
-- key on area_id: the history of a deleted area stays (as place_versions keeps its versions).
CREATE TABLE area_claims (
    id            INTEGER PRIMARY KEY,
    area_id       INTEGER NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    claimed_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    released_at   TEXT,
    ended_by      TEXT    CHECK (ended_by IN ('release', 'reassign', 'delete')),
    ended_by_user INTEGER REFERENCES users (id),
    CHECK ((released_at IS NULL) = (ended_by IS NULL)),
    CHECK (released_at IS NULL OR released_at >= claimed_at)
);
-- One holder at a time, whichever process writes: a second open claim is a unique violation.
CREATE UNIQUE INDEX area_claims_one_holder ON area_claims (area_id) WHERE released_at IS NULL;
CREATE INDEX area_claims_area ON area_claims (area_id, claimed_at);
CREATE INDEX area_claims_user ON area_claims (user_id) WHERE released_at IS NULL;

-- Deleting an area, by whatever writer, ends its open claim. Who deleted it is in the audit.
CREATE TRIGGER area_claims_end_on_delete AFTER DELETE ON places
WHEN OLD.kind = 'area'
BEGIN
    UPDATE area_claims
    SET released_at = max(claimed_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ended_by = 'delete'
    WHERE area_id = OLD.id AND released_at IS NULL;
END;
