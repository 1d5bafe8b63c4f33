-- Backups, version 17. A backup is a consistent snapshot of this database
-- (SQLite's VACUUM INTO, or pg_dump in an exported snapshot) plus the list
-- of blobs it references. Those blobs are held here: the collector keeps
-- every blob a retained backup holds (the restore horizon), and decides
-- nothing while a backup is running (state 'running'), so that nothing the
-- snapshot references goes between the snapshot and its holds.
CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    location TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    blobs BIGINT NOT NULL DEFAULT 0,
    bytes BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE backup_blobs (
    backup_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (backup_id, digest)
);
CREATE INDEX backup_blobs_digest ON backup_blobs (digest);
