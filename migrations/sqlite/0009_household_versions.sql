-- Households are edited one at a time (POST, PATCH with If-Match): each change, an import's
-- included, takes the next version. Before and after of every edit are in the audit trace.
ALTER TABLE households ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
