-- Version 33: signatures of proxied images. A proxy repository under a
-- signature policy fetches the upstream's signatures of a manifest (the
-- cosign tags and the referrers) when it is first pulled, verifies them,
-- and records the verdicts in signature_verdicts under the proxy
-- repository's name; this table remembers when that was done, per trust
-- configuration version, so an unsigned manifest is not asked about again
-- on every pull.
CREATE TABLE proxied_signature_checks (
    trust_version  TEXT NOT NULL,
    repository     TEXT NOT NULL,
    subject        TEXT NOT NULL,
    checked_at     BIGINT NOT NULL,
    PRIMARY KEY (trust_version, repository, subject)
);
