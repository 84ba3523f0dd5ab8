-- What a SCIM client gave of a user or group beyond the attributes the
-- directory keeps (a middle name, a home email, a fax number, a group's
-- externalId...), kept as JSON so that the SCIM service gives it back.
CREATE TABLE scim_extras (
    object_id TEXT PRIMARY KEY,
    extra TEXT NOT NULL
);
