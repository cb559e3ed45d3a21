-- The bounding box of a place was kept beside its WKB for box queries that never came: every
-- spatial question is answered by the in-memory index. PostgreSQL never had these columns.
ALTER TABLE places DROP COLUMN min_x;
ALTER TABLE places DROP COLUMN min_y;
ALTER TABLE places DROP COLUMN max_x;
ALTER TABLE places DROP COLUMN max_y;
