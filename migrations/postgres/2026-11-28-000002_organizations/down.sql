DROP INDEX IF EXISTS ix_users_email_trgm;
DROP INDEX IF EXISTS ix_users_first_name_trgm;
DROP INDEX IF EXISTS ix_users_last_name_trgm;
DROP TABLE user_organizations;
DROP TABLE organizations;
