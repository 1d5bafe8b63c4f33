-- Owners' exemptions from a virtual repository's cooldown: a package (by
-- key), one version of it or ('' ) every version, served from proxy members
-- however young. Each change is audited in its transaction.
CREATE TABLE virtual_exemptions (
    repository TEXT NOT NULL,
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    allowed_by TEXT NOT NULL,
    allowed_at BIGINT NOT NULL,
    reason TEXT,
    PRIMARY KEY (repository, package, version)
);
