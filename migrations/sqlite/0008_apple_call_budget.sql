-- Calls made to Apple per app (bundle id), environment, endpoint and clock hour: the rate-limit budget every
-- instance sharing this database draws from.
CREATE TABLE apple_call_budget (
    app TEXT NOT NULL,
    environment TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    hour BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (app, environment, endpoint, hour)
);
