-- The tags in force now: the last value of each key per run, and the current holder of each alias.
CREATE OR REPLACE VIEW tags_current AS
SELECT run_id, key, value, reason, tagged_by, valid_from AS since, seq
FROM tag_history
WHERE is_current;
