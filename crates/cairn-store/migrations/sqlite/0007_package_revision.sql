-- A package's revision: incremented in the transaction of every change to
-- it (a version published or its state changed, a dist-tag moved), so
-- readers can tell in one lookup whether what they rendered is current.
ALTER TABLE packages ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
