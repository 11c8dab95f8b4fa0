-- Leases of periodic jobs: a replica runs a job only while it holds its
-- row's lease, so the cleanup job runs once across all replicas.
CREATE TABLE job_leases (
    job_name        TEXT PRIMARY KEY NOT NULL,
    locked_by       TEXT,
    locked_until    TEXT,
    last_started_at TEXT,
    last_success_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
-- Timestamps in the fixed text form identityd writes (six fractional digits, Z).
INSERT INTO job_leases (job_name, created_at, updated_at) VALUES (
    'cleanup',
    strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z',
    strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z'
);
