-- A backfill is held under a lease, like a forwarding replay: the instance running it renews `lease_until` while it
-- works and after every page, and records with each page where Apple's history goes on (`next_page`) and its
-- counts. When the instance stops, the lease runs out and another instance takes the job over from `next_page`.
-- `next_page`: NULL before the first page is recorded (a takeover starts from the first page), '' once the last
-- page is stored, else Apple's paginationToken for the next page.
ALTER TABLE notification_backfills ADD COLUMN forward BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notification_backfills ADD COLUMN lease_owner TEXT;
ALTER TABLE notification_backfills ADD COLUMN lease_until BIGINT;
ALTER TABLE notification_backfills ADD COLUMN next_page TEXT;
-- The last time another instance took the job over, and how many times that happened.
ALTER TABLE notification_backfills ADD COLUMN taken_over_at BIGINT;
ALTER TABLE notification_backfills ADD COLUMN takeovers BIGINT NOT NULL DEFAULT 0;
CREATE INDEX notification_backfills_running ON notification_backfills(status, lease_until);
