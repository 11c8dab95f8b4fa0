CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    description TEXT,
    is_active   INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    settings    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX ix_organizations_name ON organizations (name);
CREATE UNIQUE INDEX ix_organizations_slug ON organizations (slug);
CREATE INDEX ix_organizations_is_active ON organizations (is_active);
CREATE INDEX ix_organizations_name_active ON organizations (name, is_active);
CREATE INDEX ix_organizations_slug_active ON organizations (slug, is_active);

CREATE TABLE user_organizations (
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id    BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role               TEXT NOT NULL DEFAULT 'member'
                       CHECK (role IN ('owner', 'admin', 'member', 'guest')),
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    custom_permissions TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX ix_user_org_role ON user_organizations (role);
CREATE INDEX ix_user_organizations_is_active ON user_organizations (is_active);
CREATE INDEX ix_user_org_user_active ON user_organizations (user_id, is_active);
CREATE INDEX ix_user_org_org_active ON user_organizations (organization_id, is_active);
