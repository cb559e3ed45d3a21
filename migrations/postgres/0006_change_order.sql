-- The order in which changes of area holders commit, so that each wangge instance applies them
-- to its memory in that order (see `App::set_holder`): a release and a claim of one area that
-- race must leave memory as the database is, whichever handler finishes first.
--
-- Every write that changes who holds an area (claim, release, reassignment, an edit that deletes
-- an area) runs `UPDATE change_order SET seq = seq + 1 ... RETURNING seq` as its LAST statement
-- before COMMIT. The UPDATE locks the one row until the transaction ends, so a second writer's
-- UPDATE waits for the first to commit (or roll back) and then reads the committed value:
-- numbers are handed out in commit order, with no gaps from rolled-back writers and no
-- reordering between taking a number and committing. A plain SEQUENCE would not do: nextval()
-- is not transactional and two transactions can commit in the opposite order of their numbers.
-- Taking the number last keeps the lock short (only the COMMIT follows, so the holder of this
-- lock never waits on another lock, and no deadlock can form through it).
--
-- A reader takes `seq` in the same REPEATABLE READ snapshot as the claims: the snapshot contains
-- exactly the writes numbered up to that value.
--
-- No change notice (migration 0005) on this table: the writes that take a number notify through
-- the tables they change.
CREATE TABLE change_order (
    -- One row only.
    id  SMALLINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT   NOT NULL CHECK (seq >= 0)
);
INSERT INTO change_order (id, seq) VALUES (1, 0);
