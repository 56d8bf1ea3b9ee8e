-- Every RunTagged event with the interval it was in force. Aliases (key 'alias') move between runs:
-- an alias value belongs to the run of its latest tag; other keys are per run, last write wins.
CREATE OR REPLACE VIEW tag_history AS
WITH t AS (
    SELECT run_id, key, value, reason, "by", ts, seq,
           CASE WHEN key = 'alias' THEN 'alias:' || value ELSE 'run:' || run_id || ':' || key END AS slot
    FROM ledger.run_tagged
)
SELECT run_id, key, value, reason, "by" AS tagged_by,
       ts AS valid_from,
       lead(ts) OVER w AS valid_to,
       seq AS valid_from_seq,
       lead(seq) OVER w AS valid_to_seq,
       lead(seq) OVER w IS NULL AS is_current,
       seq
FROM t
WINDOW w AS (PARTITION BY slot ORDER BY seq);
