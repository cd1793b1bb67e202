-- A password an admin issued (a new user's, or a reset) was seen by someone else: its holder must choose their own
-- at first sign-in. 1 until they do.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
