-- The order in which changes of area holders commit, so that memory can apply them in that order
-- (see `App::set_holder`). Every write that changes who holds an area (claim, release,
-- reassignment, an edit that deletes an area) adds one to `seq` in its own transaction and is
-- told the new value. SQLite has one writer at a time (`BEGIN IMMEDIATE`), so the order of the
-- numbers is the order of the commits. A reader takes `seq` in the same read transaction as the
-- claims, so it knows which changes its answer includes. Numbered 0006 to pair with the
-- PostgreSQL migration of the same name (SQLite has no 0005).
CREATE TABLE change_order (
    -- One row only.
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL CHECK (seq >= 0)
);
INSERT INTO change_order (id, seq) VALUES (1, 0);
