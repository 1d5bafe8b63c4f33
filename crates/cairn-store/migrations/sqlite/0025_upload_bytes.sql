-- Version 25: the bytes an open upload has staged so far, so that the
-- storage numbers show what open uploads hold.
ALTER TABLE uploads ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
