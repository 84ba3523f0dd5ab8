-- API tokens may have the scim scope: roster's SCIM service only.
ALTER TABLE api_tokens DROP CONSTRAINT IF EXISTS api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('read', 'operator', 'admin', 'scim'));
