-- Who is fetching an uncached proxied file from its upstream right now: a
-- lease (owner, expiry in milliseconds) that the filling replica renews
-- while it streams, so that other replicas wait for its result instead of
-- asking the upstream too, and take over when it dies (the lease expires).
CREATE TABLE proxy_fills (
    repository TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (repository, cache_key)
);
