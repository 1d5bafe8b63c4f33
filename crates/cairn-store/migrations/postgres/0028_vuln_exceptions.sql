-- Version 28: accepted advisories. An exception names an advisory and a
-- repository pattern; until it expires, a vulnerability policy does not
-- refuse an artifact of a covered repository for that advisory.
CREATE TABLE vuln_exceptions (
    advisory_id   TEXT NOT NULL,
    repositories  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    expires_at    BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (advisory_id, repositories)
);
