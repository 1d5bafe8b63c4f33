-- Owners' exceptions to a virtual repository's name ownership: packages
-- (by key) whose versions from proxy members are served although a hosted
-- member has the name or a claim covers it. Each change is audited in its
-- transaction.
CREATE TABLE virtual_external (
    repository TEXT NOT NULL,
    package TEXT NOT NULL,
    allowed_by TEXT NOT NULL,
    allowed_at BIGINT NOT NULL,
    reason TEXT,
    PRIMARY KEY (repository, package)
);
