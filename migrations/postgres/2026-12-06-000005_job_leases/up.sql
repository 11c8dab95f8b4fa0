-- Leases of periodic jobs: a replica runs a job only while it holds its
-- row's lease, so the cleanup job runs once across all replicas.
CREATE TABLE job_leases (
    job_name        varchar(100) PRIMARY KEY,
    locked_by       varchar(255),
    locked_until    timestamptz,
    last_started_at timestamptz,
    last_success_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO job_leases (job_name) VALUES ('cleanup');
