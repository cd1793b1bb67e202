-- The product catalog as App Store Connect described it at the last complete sync (Step 1's key). A sync replaces
-- a project's rows in one transaction, so a page never sees half of one sync and half of another; a sync that
-- fails or meets Apple's rate limit changes none of them.
CREATE TABLE catalog_state (
    project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    app_id TEXT NOT NULL,
    app_name TEXT NOT NULL,
    grace_opt_in INTEGER,
    grace_sandbox_opt_in INTEGER,
    grace_duration TEXT,
    grace_renewal_type TEXT,
    synced_at BIGINT NOT NULL
);
CREATE TABLE catalog_groups (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    reference_name TEXT NOT NULL,
    PRIMARY KEY (project_id, group_id)
);
CREATE TABLE catalog_products (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    connect_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    group_id TEXT,
    group_level BIGINT,
    period TEXT,
    PRIMARY KEY (project_id, product_id)
);
CREATE TABLE catalog_prices (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    territory TEXT NOT NULL,
    currency TEXT NOT NULL,
    customer_price TEXT NOT NULL,
    proceeds TEXT NOT NULL,
    PRIMARY KEY (project_id, product_id, territory)
);
CREATE TABLE catalog_offers (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    mode TEXT NOT NULL,
    duration TEXT NOT NULL,
    periods BIGINT NOT NULL,
    PRIMARY KEY (project_id, product_id, code)
);
-- Every sync, on demand or scheduled: when, by whom, how it ended and in what words.
CREATE TABLE catalog_syncs (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    started_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT NOT NULL,
    sentence TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    change_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX catalog_syncs_project ON catalog_syncs(project_id, started_at);
-- What a complete sync found changed since the one before.
CREATE TABLE catalog_changes (
    id BIGSERIAL PRIMARY KEY,
    sync_id BIGINT NOT NULL REFERENCES catalog_syncs(id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    product_id TEXT,
    sentence TEXT NOT NULL
);
CREATE INDEX catalog_changes_sync ON catalog_changes(sync_id);
