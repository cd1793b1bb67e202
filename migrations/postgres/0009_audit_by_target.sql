-- A customer's page lists what staff did about the customer (renewal-date extensions, consumption answers): the
-- audit rows of the project whose target is one of the customer's transaction ids.
CREATE INDEX audit_log_project_target ON audit_log(project_id, target);
