-- canopy schema version 5 (SQLite): every change also draws a random nonce, so that
-- (counter, nonce) names one state of one database. A copy of the live state kept
-- elsewhere (the snapshot cache) is then never taken for another state that reached
-- the same counter: a database restored from a backup and changed again, or another
-- database. docs/schema.md describes it.

ALTER TABLE canopy_changes ADD COLUMN nonce INTEGER NOT NULL DEFAULT 0;
UPDATE canopy_changes SET nonce = random() WHERE id = 1;

DROP TRIGGER accounts_insert_count_change;
DROP TRIGGER accounts_update_count_change;
DROP TRIGGER accounts_delete_count_change;
DROP TRIGGER users_insert_count_change;
DROP TRIGGER users_update_count_change;
DROP TRIGGER users_delete_count_change;
DROP TRIGGER service_plans_insert_count_change;
DROP TRIGGER service_plans_update_count_change;
DROP TRIGGER service_plans_delete_count_change;

CREATE TRIGGER accounts_insert_count_change AFTER INSERT ON accounts
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
CREATE TRIGGER accounts_update_count_change AFTER UPDATE ON accounts
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
CREATE TRIGGER accounts_delete_count_change AFTER DELETE ON accounts
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;

CREATE TRIGGER users_insert_count_change AFTER INSERT ON users
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
CREATE TRIGGER users_update_count_change AFTER UPDATE ON users
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
CREATE TRIGGER users_delete_count_change AFTER DELETE ON users
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;

CREATE TRIGGER service_plans_insert_count_change AFTER INSERT ON service_plans
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
CREATE TRIGGER service_plans_update_count_change AFTER UPDATE ON service_plans
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
CREATE TRIGGER service_plans_delete_count_change AFTER DELETE ON service_plans
BEGIN UPDATE canopy_changes SET counter = counter + 1, nonce = random() WHERE id = 1; END;
