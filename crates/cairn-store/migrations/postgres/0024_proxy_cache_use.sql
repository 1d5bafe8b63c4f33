-- Version 24: when a proxy cache entry was last served, for proxies that
-- evict what nobody used for a while (`evict_after_days`). Written at most
-- once an hour per entry and replica; unset means "since it was fetched".
ALTER TABLE proxy_cache ADD COLUMN used_at BIGINT;
