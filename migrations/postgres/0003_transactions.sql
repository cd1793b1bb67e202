-- The local index of every transaction storedesk has seen (support lookups now, notifications later), so that
-- repeat searches and app account token searches answer without Apple. One row per (project, transaction id,
-- environment); `seen_at` is when storedesk last received the row from Apple: the "as of" time shown with it.
-- The primary key starts with (project_id, transaction_id), so it also serves searches by transaction id.
CREATE TABLE transactions (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    transaction_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    original_transaction_id TEXT NOT NULL,
    web_order_line_item_id TEXT,
    product_id TEXT NOT NULL,
    product_type TEXT,
    subscription_group TEXT,
    app_account_token TEXT,
    purchase_date BIGINT,
    expires_date BIGINT,
    revocation_date BIGINT,
    ownership TEXT,
    signed_date BIGINT NOT NULL,
    decoded TEXT NOT NULL,
    source TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    -- Last, so that reading the other columns never walks the JWS's overflow pages (SQLite reads rows in order).
    jws TEXT NOT NULL,
    PRIMARY KEY (project_id, transaction_id, environment)
);
CREATE INDEX transactions_by_original ON transactions(project_id, original_transaction_id);
CREATE INDEX transactions_by_web_order ON transactions(project_id, web_order_line_item_id);
CREATE INDEX transactions_by_token ON transactions(project_id, app_account_token);

-- Order ids from customers' receipt e-mails, as Apple's Look Up Order ID answered them: one order holds one or
-- more transactions.
CREATE TABLE transaction_orders (
    project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    order_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, order_id, environment, transaction_id)
);
