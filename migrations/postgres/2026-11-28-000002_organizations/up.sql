CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        varchar(255) NOT NULL,
    slug        varchar(255) NOT NULL,
    description text,
    is_active   boolean NOT NULL DEFAULT true,
    settings    text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX ix_organizations_name ON organizations (name);
CREATE UNIQUE INDEX ix_organizations_slug ON organizations (slug);
CREATE INDEX ix_organizations_is_active ON organizations (is_active);
CREATE INDEX ix_organizations_name_active ON organizations (name, is_active);
CREATE INDEX ix_organizations_slug_active ON organizations (slug, is_active);

CREATE TABLE user_organizations (
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id    uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role               varchar(10) NOT NULL DEFAULT 'member'
                       CONSTRAINT ck_user_organizations_role CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    is_active          boolean NOT NULL DEFAULT true,
    custom_permissions varchar(500),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX ix_user_org_role ON user_organizations (role);
CREATE INDEX ix_user_organizations_is_active ON user_organizations (is_active);
CREATE INDEX ix_user_org_user_active ON user_organizations (user_id, is_active);
CREATE INDEX ix_user_org_org_active ON user_organizations (organization_id, is_active);

-- Case-insensitive substring search (lower(column) LIKE '%...%') stays fast
-- at a million rows with trigram indexes on the lowered columns.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX ix_users_email_trgm ON users USING gin (lower(email) gin_trgm_ops);
CREATE INDEX ix_users_first_name_trgm ON users USING gin (lower(first_name) gin_trgm_ops);
CREATE INDEX ix_users_last_name_trgm ON users USING gin (lower(last_name) gin_trgm_ops);
CREATE INDEX ix_organizations_name_trgm ON organizations USING gin (lower(name) gin_trgm_ops);
CREATE INDEX ix_organizations_slug_trgm ON organizations USING gin (lower(slug) gin_trgm_ops);
CREATE INDEX ix_organizations_description_trgm ON organizations USING gin (lower(description) gin_trgm_ops);
