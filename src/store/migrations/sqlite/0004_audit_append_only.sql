-- PostgreSQL's version 4 refuses TRUNCATE of the audit log; SQLite has no TRUNCATE
-- (its row triggers since version 1 refuse UPDATE and DELETE), so nothing to do.
SELECT 1;
