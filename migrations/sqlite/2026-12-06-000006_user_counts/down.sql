DROP TRIGGER IF EXISTS user_counts_on_update;
DROP TRIGGER IF EXISTS user_counts_on_delete;
DROP TRIGGER IF EXISTS user_counts_on_insert;
DROP TABLE IF EXISTS user_counts;
