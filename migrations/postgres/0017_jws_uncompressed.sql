-- Signed data is stored without trying to compress it. PostgreSQL compresses a large value (pglz) before it
-- moves it out of the row, but a JWS is base64 text: pglz gives up on it and stores it as it was, after spending
-- most of the database's CPU on the attempt (60 % of its CPU under webhook load, docs/benchmarks.md). EXTERNAL
-- keeps out-of-line storage and skips the attempt; the decoded JSON columns are still compressed. Rows stored
-- before keep their form; nothing is rewritten.
ALTER TABLE notifications ALTER COLUMN signed_payload SET STORAGE EXTERNAL;
ALTER TABLE notifications ALTER COLUMN raw_body SET STORAGE EXTERNAL;
ALTER TABLE transactions ALTER COLUMN jws SET STORAGE EXTERNAL;
