-- Live (not deleted) users per (is_active, is_superuser), kept exact by
-- triggers (see migrations/postgres).
CREATE TABLE user_counts (
    is_active    INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    is_superuser INTEGER NOT NULL CHECK (is_superuser IN (0, 1)),
    live         INTEGER NOT NULL,
    PRIMARY KEY (is_active, is_superuser)
);
INSERT INTO user_counts (is_active, is_superuser, live)
SELECT a.v, s.v, (SELECT count(*) FROM users
                  WHERE deleted_at IS NULL AND is_active = a.v AND is_superuser = s.v)
FROM (SELECT 0 AS v UNION ALL SELECT 1) AS a, (SELECT 0 AS v UNION ALL SELECT 1) AS s;

CREATE TRIGGER user_counts_on_insert AFTER INSERT ON users
    WHEN NEW.deleted_at IS NULL
BEGIN
    UPDATE user_counts SET live = live + 1
    WHERE is_active = NEW.is_active AND is_superuser = NEW.is_superuser;
END;
CREATE TRIGGER user_counts_on_delete AFTER DELETE ON users
    WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE user_counts SET live = live - 1
    WHERE is_active = OLD.is_active AND is_superuser = OLD.is_superuser;
END;
CREATE TRIGGER user_counts_on_update AFTER UPDATE OF is_active, is_superuser, deleted_at ON users
    WHEN OLD.is_active IS NOT NEW.is_active
      OR OLD.is_superuser IS NOT NEW.is_superuser
      OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
BEGIN
    UPDATE user_counts SET live = live - 1
    WHERE OLD.deleted_at IS NULL
      AND is_active = OLD.is_active AND is_superuser = OLD.is_superuser;
    UPDATE user_counts SET live = live + 1
    WHERE NEW.deleted_at IS NULL
      AND is_active = NEW.is_active AND is_superuser = NEW.is_superuser;
END;
