-- Access roles (read, operator, admin) of API tokens and portal admin accounts,
-- and the expiry of a token. What existed before roles could do everything: it
-- stays admin.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('read', 'operator', 'admin'));
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'admin' CHECK (role IN ('read', 'operator', 'admin'));
