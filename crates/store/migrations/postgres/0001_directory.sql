-- The directory: users, groups, memberships, applications, app roles, assignments,
-- the change feed the provisioning engine reads, and admin API tokens.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL UNIQUE,
    external_id TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    display_name TEXT,
    given_name TEXT,
    surname TEXT,
    mail TEXT,
    mail_nickname TEXT,
    job_title TEXT,
    department TEXT,
    employee_id TEXT,
    manager_id TEXT,
    mobile TEXT,
    business_phones TEXT NOT NULL DEFAULT '[]',
    office_location TEXT,
    street_address TEXT,
    city TEXT,
    postal_code TEXT,
    country TEXT,
    preferred_language TEXT,
    extensions TEXT NOT NULL DEFAULT '{}',
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX users_display_name ON users (display_name);
CREATE INDEX users_manager ON users (manager_id);

CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    display_name_key TEXT NOT NULL UNIQUE,
    description TEXT,
    mail_nickname TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_kind TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    template TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE app_roles (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    value TEXT NOT NULL,
    description TEXT,
    is_default BIGINT NOT NULL DEFAULT 0,
    UNIQUE (app_id, name_key)
);

CREATE TABLE assignments (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    principal_id TEXT NOT NULL,
    principal_kind TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES app_roles (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (app_id, principal_id, role_id)
);
CREATE INDEX assignments_principal ON assignments (principal_id);

CREATE TABLE change_feed (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    related_id TEXT,
    at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
