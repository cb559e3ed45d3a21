-- The screen's summary counts, in the database, the households of a street visited at the door
-- lately. Joining every household to its latest visits takes seconds at a million households;
-- keeping each household's grid beside its latest visits lets one index answer by grid. The
-- grid is the household's, always: set when the row is made, and following the household when
-- an edit or an import moves it to another grid.
ALTER TABLE household_last_visits ADD COLUMN grid_id INTEGER;
UPDATE household_last_visits
SET grid_id = (SELECT grid_id FROM households h WHERE h.id = household_last_visits.household_id);
CREATE INDEX household_last_visits_grid ON household_last_visits (grid_id, on_site_at);

CREATE TRIGGER household_last_visits_take_grid AFTER INSERT ON household_last_visits
BEGIN
    UPDATE household_last_visits
    SET grid_id = (SELECT grid_id FROM households WHERE id = NEW.household_id)
    WHERE household_id = NEW.household_id;
END;

CREATE TRIGGER household_last_visits_follow_grid AFTER UPDATE OF grid_id ON households
WHEN OLD.grid_id IS NOT NEW.grid_id
BEGIN
    UPDATE household_last_visits SET grid_id = NEW.grid_id WHERE household_id = NEW.id;
END;
