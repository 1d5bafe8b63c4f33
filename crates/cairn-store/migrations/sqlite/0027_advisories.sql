-- Version 27: vulnerability advisories (OSV), and the versions each one
-- affects as intervals of the component index's keys (vkey), so that an
-- advisory meets the components and package versions it affects through
-- index range scans. An unbounded side is 0x01 (below every ordered key)
-- or 0x02 (above them); a listed version the ecosystem cannot order is a
-- single point 0x02 + its text.
CREATE TABLE advisories (
    id           TEXT PRIMARY KEY,
    aliases      TEXT NOT NULL,
    summary      TEXT NOT NULL,
    severity     TEXT NOT NULL,
    score        REAL,
    modified     BIGINT NOT NULL,
    published    BIGINT,
    withdrawn    BIGINT,
    source       TEXT NOT NULL,
    licence      TEXT NOT NULL,
    imported_at  BIGINT NOT NULL
);

CREATE TABLE advisory_ranges (
    advisory_id   TEXT NOT NULL,
    ecosystem     TEXT NOT NULL,
    name          TEXT NOT NULL,
    lo            BLOB NOT NULL,
    lo_inclusive  BIGINT NOT NULL,
    hi            BLOB NOT NULL,
    hi_inclusive  BIGINT NOT NULL
);
CREATE INDEX advisory_ranges_package ON advisory_ranges (ecosystem, name);
CREATE INDEX advisory_ranges_advisory ON advisory_ranges (advisory_id);
