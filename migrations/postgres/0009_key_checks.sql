-- What the last conclusive Verify now found per environment ('accepted' or 'refused'; NULL when never asked or
-- when Apple could not be reached), and when a check last ran. A key's health (crate::domain::KeyHealth) is read
-- from these with its status, last success and 401 count, so every page says the same of the key.
ALTER TABLE apple_keys ADD COLUMN sandbox_check TEXT;
ALTER TABLE apple_keys ADD COLUMN production_check TEXT;
ALTER TABLE apple_keys ADD COLUMN checked_at BIGINT;
-- Keys checked before this migration: the two conclusive summaries Verify now wrote say what each environment did.
UPDATE apple_keys SET sandbox_check = 'accepted', production_check = 'accepted', checked_at = verified_at
    WHERE verify_summary = 'Apple accepted the key in Sandbox and in Production.';
UPDATE apple_keys SET sandbox_check = 'refused', production_check = 'refused', checked_at = uploaded_at
    WHERE verify_summary LIKE 'Apple refused the key in both%' AND last_success_at IS NULL;
