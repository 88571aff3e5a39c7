-- canopy schema version 2 (SQLite): the change counter. docs/schema.md describes it.
-- Every row written to a table canopy owns (accounts, users, service_plans), by canopy
-- or by hand, bumps the one counter row (SQLite triggers are per row).

CREATE TABLE canopy_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
);
INSERT INTO canopy_changes (id, counter) VALUES (1, 0);

CREATE TRIGGER accounts_insert_count_change AFTER INSERT ON accounts
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_update_count_change AFTER UPDATE ON accounts
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_delete_count_change AFTER DELETE ON accounts
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;

CREATE TRIGGER users_insert_count_change AFTER INSERT ON users
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
CREATE TRIGGER users_update_count_change AFTER UPDATE ON users
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
CREATE TRIGGER users_delete_count_change AFTER DELETE ON users
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;

CREATE TRIGGER service_plans_insert_count_change AFTER INSERT ON service_plans
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
CREATE TRIGGER service_plans_update_count_change AFTER UPDATE ON service_plans
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
CREATE TRIGGER service_plans_delete_count_change AFTER DELETE ON service_plans
BEGIN UPDATE canopy_changes SET counter = counter + 1 WHERE id = 1; END;
