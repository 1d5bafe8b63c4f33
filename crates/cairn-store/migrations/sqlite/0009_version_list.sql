-- Each package keeps the names of its versions in publishing order (one per
-- line, appended in the transaction that adds a version) and the time of
-- its last change, so that a version list (Maven's maven-metadata.xml) is
-- one row to read however many versions the package has.
ALTER TABLE packages ADD COLUMN version_list TEXT NOT NULL DEFAULT '';
ALTER TABLE packages ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE packages SET
    version_list = COALESCE((
        SELECT group_concat(line, '') FROM (
            SELECT v.version || char(10) AS line FROM package_versions v
            WHERE v.format = packages.format AND v.repository = packages.repository
              AND v.package = packages.package
            ORDER BY v.published_at, v.version)), ''),
    updated_at = COALESCE((
        SELECT MAX(MAX(v.published_at, v.changed_at)) FROM package_versions v
        WHERE v.format = packages.format AND v.repository = packages.repository
          AND v.package = packages.package), created_at);
