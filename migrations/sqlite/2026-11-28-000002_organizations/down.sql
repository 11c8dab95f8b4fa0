DROP TABLE user_organizations;
DROP TABLE organizations;
