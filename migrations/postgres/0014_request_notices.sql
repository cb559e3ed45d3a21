-- A request reported, moved or escalated is news for the phones of whoever answers for it, on
-- every instance: the notice names the requests (at most 100 a statement; more name none, which
-- listeners take as "read everything again"), and each instance tells its own listeners. The
-- map is not read again for it. Statement-level like 0012's, delivered at commit.
CREATE FUNCTION wangge_notify_requests() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[];
BEGIN
    SELECT array_agg(id) INTO touched FROM (SELECT id FROM changed_rows LIMIT 101) AS changed;
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
            'requests', touched)::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER requests_reported AFTER INSERT ON requests
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_requests();
CREATE TRIGGER requests_moved AFTER UPDATE ON requests
REFERENCING NEW TABLE AS changed_rows
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_requests();
