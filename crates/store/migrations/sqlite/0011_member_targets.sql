-- The members roster sent to a group is keyed by the account id too: a member
-- whose account in the app was made again (a new id) has a row for the new id
-- beside the row for the old one, which stays until the app has confirmed the
-- old id's removal. SQLite cannot change a primary key: the table is made anew.
CREATE TABLE shadow_members_keyed (
    app_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    PRIMARY KEY (app_id, group_id, member_id, target_id)
);
INSERT INTO shadow_members_keyed (app_id, group_id, member_id, target_id)
    SELECT app_id, group_id, member_id, target_id FROM shadow_members;
DROP TABLE shadow_members;
ALTER TABLE shadow_members_keyed RENAME TO shadow_members;
CREATE INDEX shadow_members_member ON shadow_members (app_id, member_id);
