-- A customer's page (issue 17). What staff did about the customer (renewal-date extensions): the project's audit
-- rows whose target is one of the customer's transaction ids.
CREATE INDEX audit_log_project_target ON audit_log(project_id, target);

-- The customer a transaction belongs to: Apple's appTransactionId is one per Apple Account and app, so the index
-- can gather all of a customer's purchases (not only one subscription's, or one app account token's) when Apple
-- can't answer. Added after `jws`, but only ever searched through its index, never read back: a row's other
-- columns are still read without walking the JWS.
ALTER TABLE transactions ADD COLUMN app_transaction_id TEXT;
UPDATE transactions SET app_transaction_id = json_extract(decoded, '$.appTransactionId') WHERE json_valid(decoded);
CREATE INDEX transactions_by_app_transaction ON transactions(project_id, app_transaction_id);
