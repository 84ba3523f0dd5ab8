-- The members roster sent to a group is keyed by the account id too: a member
-- whose account in the app was made again (a new id) has a row for the new id
-- beside the row for the old one, which stays until the app has confirmed the
-- old id's removal.
ALTER TABLE shadow_members DROP CONSTRAINT shadow_members_pkey;
ALTER TABLE shadow_members ADD PRIMARY KEY (app_id, group_id, member_id, target_id);
