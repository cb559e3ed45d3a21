-- A visit, a correction or a need met changes what other instances keep of some households (their
-- latest visits, their open needs), not the map: the notice names those households, so that the
-- others read their diaries again instead of everything. Statement-level with transition tables:
-- one notice per statement, never one per row of a bulk import. Beyond 100 households a statement
-- names none, which the listeners take as "read everything again" (payloads are capped at 8000
-- bytes). Delivered at commit, folded when alike, like the notices of 0005.
CREATE FUNCTION wangge_notify_visits() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    SELECT array_agg(household_id) INTO touched
    FROM (SELECT DISTINCT household_id FROM changed_rows LIMIT 101) AS distinct_households;
    IF touched IS NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(touched) > 100 THEN
        PERFORM pg_notify('wangge_changes', json_build_object(
            'schema', TG_TABLE_SCHEMA,
            'writer', current_setting('application_name'))::text);
    ELSE
        PERFORM pg_notify('wangge_changes', json_build_object(
            'schema', TG_TABLE_SCHEMA,
            'writer', current_setting('application_name'),
            'households', touched)::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER visits_recorded AFTER INSERT ON visits
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_visits();
CREATE TRIGGER visits_corrected AFTER UPDATE ON visits
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_visits();
CREATE TRIGGER needs_recorded AFTER INSERT ON needs
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_visits();
CREATE TRIGGER needs_met AFTER UPDATE ON needs
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_visits();
