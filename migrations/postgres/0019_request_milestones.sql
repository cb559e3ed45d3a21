-- The screen's summary reads, for the 100,000 requests of a street's quarter, when each was first
-- taken on (accepted, or dispatched straight to its category's unit), first handled and last
-- closed, and how often its check failed and the work went back. Reducing request_events to
-- that at every read took a second; each request now carries its milestones, kept by the trigger
-- below as its steps are written (steps are only ever added).
ALTER TABLE requests
    ADD COLUMN accepted_at TIMESTAMPTZ,
    ADD COLUMN handled_at  TIMESTAMPTZ,
    ADD COLUMN closed_at   TIMESTAMPTZ,
    ADD COLUMN reworks     INTEGER NOT NULL DEFAULT 0 CHECK (reworks >= 0);

-- The milestones of `steps`, per request: the earliest acceptance and handling, the latest
-- closing, the failed checks. Statement-level, so that a bulk insert updates each request once.
CREATE FUNCTION requests_take_milestones() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE requests r SET
        accepted_at = least(r.accepted_at, s.accepted_at),
        handled_at  = least(r.handled_at, s.handled_at),
        closed_at   = greatest(r.closed_at, s.closed_at),
        reworks     = r.reworks + s.reworks
    FROM (SELECT request_id,
                 min(at) FILTER (WHERE to_state IN ('accepted', 'dispatched')) AS accepted_at,
                 min(at) FILTER (WHERE to_state = 'handled') AS handled_at,
                 max(at) FILTER (WHERE to_state = 'closed') AS closed_at,
                 count(*) FILTER (WHERE from_state = 'handled' AND to_state = 'dispatched')
                     AS reworks
          FROM steps
          WHERE to_state IN ('accepted', 'dispatched', 'handled', 'closed')
          GROUP BY request_id) s
    WHERE r.id = s.request_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER requests_take_milestones AFTER INSERT ON request_events
REFERENCING NEW TABLE AS steps
FOR EACH STATEMENT EXECUTE FUNCTION requests_take_milestones();

UPDATE requests r SET
    accepted_at = s.accepted_at,
    handled_at  = s.handled_at,
    closed_at   = s.closed_at,
    reworks     = s.reworks
FROM (SELECT request_id,
             min(at) FILTER (WHERE to_state IN ('accepted', 'dispatched')) AS accepted_at,
             min(at) FILTER (WHERE to_state = 'handled') AS handled_at,
             max(at) FILTER (WHERE to_state = 'closed') AS closed_at,
             count(*) FILTER (WHERE from_state = 'handled' AND to_state = 'dispatched') AS reworks
      FROM request_events
      WHERE to_state IN ('accepted', 'dispatched', 'handled', 'closed')
      GROUP BY request_id) s
WHERE r.id = s.request_id;
