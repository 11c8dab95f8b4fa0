DROP TRIGGER IF EXISTS user_counts_on_update ON users;
DROP TRIGGER IF EXISTS user_counts_on_delete ON users;
DROP TRIGGER IF EXISTS user_counts_on_insert ON users;
DROP FUNCTION IF EXISTS user_counts_track();
DROP FUNCTION IF EXISTS user_counts_track_insert();
DROP TABLE IF EXISTS user_counts;
