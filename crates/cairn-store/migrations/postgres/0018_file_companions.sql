-- Version 18: a package file can keep a second blob alive, served beside
-- it (a wheel's METADATA, PEP 658), which the collector must see as
-- referenced. Until now its digest was only inside the file's metadata.
ALTER TABLE package_files ADD COLUMN companion TEXT;
UPDATE package_files SET companion = (metadata::jsonb ->> 'metadata_digest')
WHERE metadata LIKE '%metadata_digest%' AND (metadata::jsonb ->> 'metadata_digest') IS NOT NULL;
CREATE INDEX package_files_companion ON package_files (companion);
-- Their blob rows (size unknown: -1; fsck does not check it).
INSERT INTO blobs (digest, size, state)
SELECT DISTINCT companion, -1, 'live' FROM package_files WHERE companion IS NOT NULL
ON CONFLICT (digest) DO UPDATE SET state = 'live', candidate_at = NULL, horizon = NULL
WHERE blobs.state = 'candidate';
