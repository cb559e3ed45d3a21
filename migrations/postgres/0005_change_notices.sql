-- Several wangge instances (and `wangge import`) may write to one database; each keeps the
-- places, buildings, households and holders in memory. Every statement that changes them
-- notifies the channel `wangge_changes` with {"schema": the table's schema, "writer": the
-- writer's application_name}. Each instance names its connections uniquely and reloads on a
-- notice about its own schema from anyone else (channels are per database, not per schema).
-- NOTIFY is transactional (delivered at commit, dropped on rollback, duplicates within one
-- transaction folded), so a reload never sees half a change. SQLite has no counterpart: one
-- process serves an SQLite file.
CREATE FUNCTION wangge_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wangge_changes', json_build_object(
        'schema', TG_TABLE_SCHEMA,
        'writer', current_setting('application_name'))::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER places_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON places
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_change();
CREATE TRIGGER buildings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON buildings
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_change();
CREATE TRIGGER households_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON households
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_change();
CREATE TRIGGER area_claims_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON area_claims
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_change();
-- A holder's display name and phone are shown with the areas they hold.
CREATE TRIGGER users_changed AFTER UPDATE OF display_name, phone ON users
FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_change();
