-- The audit log is append-only (row triggers since version 1 refuse UPDATE and
-- DELETE); TRUNCATE, which row triggers do not see, is refused too.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_audit_log_append_only();
