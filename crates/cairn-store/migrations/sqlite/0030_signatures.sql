-- Version 30: signature verdicts. A signature artifact (a cosign signature
-- or attestation, a Sigstore bundle) is recorded when it is pushed; each
-- trust configuration version it has been checked under is recorded beside
-- it, with one verdict per (subject, signer, predicate type) that verified.
-- A pull-time signature policy reads only the verdicts of the current
-- version; a new version re-evaluates the recorded artifacts.
CREATE TABLE signature_artifacts (
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (repository, digest)
);
CREATE TABLE signature_evaluations (
    trust_version  TEXT NOT NULL,
    repository     TEXT NOT NULL,
    digest         TEXT NOT NULL,
    evaluated_at   BIGINT NOT NULL,
    PRIMARY KEY (trust_version, repository, digest)
);
CREATE TABLE signature_verdicts (
    trust_version   TEXT NOT NULL,
    repository      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    signer          TEXT NOT NULL,
    predicate_type  TEXT NOT NULL,
    signature       TEXT NOT NULL,
    PRIMARY KEY (trust_version, repository, subject, signer, predicate_type, signature)
);
CREATE INDEX signature_verdicts_signature ON signature_verdicts (repository, signature);
