-- PostgreSQL's 0014 stores signed data without trying to compress it. SQLite never compresses values: nothing to
-- do here, and the two backends keep the same number of migrations.
SELECT 1;
