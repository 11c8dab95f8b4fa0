-- Live (not deleted) users per (is_active, is_superuser), kept exact by a
-- trigger, so that the administrators' unfiltered user list knows its total
-- without counting a million rows on every page.
CREATE TABLE user_counts (
    is_active    BOOLEAN NOT NULL,
    is_superuser BOOLEAN NOT NULL,
    live         BIGINT NOT NULL,
    PRIMARY KEY (is_active, is_superuser)
);
INSERT INTO user_counts (is_active, is_superuser, live)
SELECT a, s, (SELECT count(*) FROM users
              WHERE deleted_at IS NULL AND is_active = a AND is_superuser = s)
FROM (VALUES (false), (true)) AS active (a), (VALUES (false), (true)) AS superuser (s);

-- Inserts are counted once per statement (a bulk import updates each counter
-- row once, not once per user); updates and deletes once per row.
CREATE FUNCTION user_counts_track_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_counts c SET live = c.live + d.n
    FROM (SELECT is_active, is_superuser, count(*) AS n FROM inserted
          WHERE deleted_at IS NULL GROUP BY is_active, is_superuser) AS d
    WHERE c.is_active = d.is_active AND c.is_superuser = d.is_superuser;
    RETURN NULL;
END;
$$;

CREATE FUNCTION user_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.deleted_at IS NULL THEN
        UPDATE user_counts SET live = live - 1
        WHERE is_active = OLD.is_active AND is_superuser = OLD.is_superuser;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.deleted_at IS NULL THEN
        UPDATE user_counts SET live = live + 1
        WHERE is_active = NEW.is_active AND is_superuser = NEW.is_superuser;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER user_counts_on_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION user_counts_track_insert();
CREATE TRIGGER user_counts_on_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_counts_track();
-- Only updates that move a user between buckets touch the counts.
CREATE TRIGGER user_counts_on_update AFTER UPDATE OF is_active, is_superuser, deleted_at ON users
    FOR EACH ROW
    WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active
          OR OLD.is_superuser IS DISTINCT FROM NEW.is_superuser
          OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
    EXECUTE FUNCTION user_counts_track();
