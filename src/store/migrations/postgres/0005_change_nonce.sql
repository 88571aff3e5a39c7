-- canopy schema version 5 (PostgreSQL): every change also draws a random nonce, so that
-- (counter, nonce) names one state of one database. A copy of the live state kept
-- elsewhere (the snapshot cache) is then never taken for another state that reached
-- the same counter: a database restored from a backup and changed again, or another
-- database. docs/schema.md describes it.

ALTER TABLE canopy_changes ADD COLUMN nonce BIGINT NOT NULL DEFAULT 0;
UPDATE canopy_changes SET nonce = (random() * 9e18)::bigint WHERE id = 1;

CREATE OR REPLACE FUNCTION canopy_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped BIGINT;
BEGIN
    UPDATE canopy_changes SET counter = counter + 1, nonce = (random() * 9e18)::bigint
    WHERE id = 1 RETURNING counter INTO bumped;
    PERFORM pg_notify('canopy_changes', bumped::text);
    RETURN NULL;
END;
$$;
