-- canopy schema version 2 (PostgreSQL): the change counter. docs/schema.md describes it.
-- Every statement that writes a table canopy owns (accounts, users, service_plans),
-- canopy's or anyone's, bumps the one counter row and sends NOTIFY canopy_changes with
-- the new value as payload (delivered at commit; nothing is sent on rollback).

CREATE TABLE canopy_changes (
    id      INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    counter BIGINT NOT NULL
);
INSERT INTO canopy_changes (id, counter) VALUES (1, 0);

CREATE FUNCTION canopy_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped BIGINT;
BEGIN
    UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1 RETURNING counter INTO bumped;
    PERFORM pg_notify('canopy_changes', bumped::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER accounts_count_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
FOR EACH STATEMENT EXECUTE FUNCTION canopy_count_change();
CREATE TRIGGER users_count_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION canopy_count_change();
CREATE TRIGGER service_plans_count_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
ON service_plans FOR EACH STATEMENT EXECUTE FUNCTION canopy_count_change();
