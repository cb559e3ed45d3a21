-- The screen's summary reads, for the 100,000 requests of a street's quarter, when each was first
-- taken on (accepted, or dispatched straight to its category's unit), first handled and last
-- closed, and how often its check failed and the work went back. Reducing request_events to
-- that at every read took a second; each request now carries its milestones, kept by the trigger
-- below as its steps are written (steps are only ever added). Times are stored as the same
-- RFC 3339 text everywhere, so they compare as text.
ALTER TABLE requests ADD COLUMN accepted_at TEXT;
ALTER TABLE requests ADD COLUMN handled_at TEXT;
ALTER TABLE requests ADD COLUMN closed_at TEXT;
ALTER TABLE requests ADD COLUMN reworks INTEGER NOT NULL DEFAULT 0 CHECK (reworks >= 0);

CREATE TRIGGER requests_take_milestones AFTER INSERT ON request_events
WHEN NEW.to_state IN ('accepted', 'dispatched', 'handled', 'closed')
BEGIN
    UPDATE requests SET
        accepted_at = CASE WHEN NEW.to_state IN ('accepted', 'dispatched')
                            AND (accepted_at IS NULL OR NEW.at < accepted_at)
                           THEN NEW.at ELSE accepted_at END,
        handled_at = CASE WHEN NEW.to_state = 'handled'
                           AND (handled_at IS NULL OR NEW.at < handled_at)
                          THEN NEW.at ELSE handled_at END,
        closed_at = CASE WHEN NEW.to_state = 'closed'
                          AND (closed_at IS NULL OR NEW.at > closed_at)
                         THEN NEW.at ELSE closed_at END,
        reworks = reworks + (NEW.from_state IS 'handled' AND NEW.to_state = 'dispatched')
    WHERE id = NEW.request_id;
END;

UPDATE requests SET
    accepted_at = (SELECT min(at) FROM request_events e
                   WHERE e.request_id = requests.id AND e.to_state IN ('accepted', 'dispatched')),
    handled_at = (SELECT min(at) FROM request_events e
                  WHERE e.request_id = requests.id AND e.to_state = 'handled'),
    closed_at = (SELECT max(at) FROM request_events e
                 WHERE e.request_id = requests.id AND e.to_state = 'closed'),
    reworks = (SELECT count(*) FROM request_events e
               WHERE e.request_id = requests.id AND e.from_state = 'handled'
                 AND e.to_state = 'dispatched');
