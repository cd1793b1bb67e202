-- A customer's page (issue 17). What staff did about the customer (renewal-date extensions): the project's audit
-- rows whose target is one of the customer's transaction ids.
CREATE INDEX audit_log_project_target ON audit_log(project_id, target);

-- The customer a transaction belongs to: Apple's appTransactionId is one per Apple Account and app, so the index
-- can gather all of a customer's purchases (not only one subscription's, or one app account token's) when Apple
-- can't answer. Only ever searched through its index, never read back.
ALTER TABLE transactions ADD COLUMN app_transaction_id TEXT;
-- `decoded` is serde_json's compact text: read as text, so that no row can fail the migration.
UPDATE transactions SET app_transaction_id = substring(decoded from '"appTransactionId":"([^"]+)"');
CREATE INDEX transactions_by_app_transaction ON transactions(project_id, app_transaction_id);
