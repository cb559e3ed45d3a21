-- The screen's summary counts, in the database, the households of a street visited at the door
-- lately. Joining every household to its latest visits takes seconds at a million households;
-- keeping each household's grid beside its latest visits lets one index answer by grid. The
-- grid is the household's, always: set when the row is made, and following the household when
-- an edit or an import moves it to another grid.
ALTER TABLE household_last_visits ADD COLUMN grid_id BIGINT;
UPDATE household_last_visits l SET grid_id = h.grid_id FROM households h WHERE h.id = l.household_id;
CREATE INDEX household_last_visits_grid ON household_last_visits (grid_id, on_site_at);

CREATE FUNCTION household_last_visits_take_grid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.grid_id := (SELECT grid_id FROM households WHERE id = NEW.household_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER household_last_visits_take_grid BEFORE INSERT ON household_last_visits
FOR EACH ROW EXECUTE FUNCTION household_last_visits_take_grid();

CREATE FUNCTION household_last_visits_follow_grid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE household_last_visits SET grid_id = NEW.grid_id WHERE household_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER household_last_visits_follow_grid AFTER UPDATE OF grid_id ON households
FOR EACH ROW WHEN (OLD.grid_id IS DISTINCT FROM NEW.grid_id)
EXECUTE FUNCTION household_last_visits_follow_grid();
