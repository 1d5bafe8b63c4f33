-- A trusted publisher may be limited to one package of a package
-- repository (its normalised key); NULL means the whole repository.
ALTER TABLE trusted_publishers ADD COLUMN package TEXT;
