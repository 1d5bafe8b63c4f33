-- Version 21: an unpublished version's files (by its owner, or deleted by a
-- retention policy) keep their rows, so a download still answers 410 Gone
-- and the version number is never reused, but no longer keep their bytes:
-- gone_at says since when. Files of versions unpublished before this
-- version get it now, their blobs are handed to the collector, and the kept
-- storage numbers are rebuilt.
ALTER TABLE package_files ADD COLUMN gone_at BIGINT;
UPDATE package_files SET gone_at = CAST(strftime('%s','now') AS BIGINT)
WHERE EXISTS (SELECT 1 FROM package_versions v WHERE v.format = package_files.format
              AND v.repository = package_files.repository AND v.package = package_files.package
              AND v.version = package_files.version AND v.state = 'unpublished');
UPDATE blobs SET state = 'candidate', candidate_at = CAST(strftime('%s','now') AS BIGINT), horizon = NULL
WHERE state = 'live' AND (
    digest IN (SELECT digest FROM package_files WHERE gone_at IS NOT NULL)
    OR digest IN (SELECT companion FROM package_files WHERE gone_at IS NOT NULL));
DELETE FROM settings WHERE key = 'usage_built';
