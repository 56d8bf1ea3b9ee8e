-- Runs the tagging policy currently marks as candidates, with headline metrics and any alias they hold.
CREATE OR REPLACE VIEW candidates AS
SELECT r.run_id, r.profile, r.status, r.started_at, r.sharpe, r.max_drawdown, r.cagr, r.rows_dropped,
       c.reason, c.since AS tagged_at,
       (SELECT string_agg(a.value, ',' ORDER BY a.value) FROM tags_current a
         WHERE a.run_id = r.run_id AND a.key = 'alias') AS aliases
FROM runs r
JOIN tags_current c ON c.run_id = r.run_id AND c.key = 'candidate' AND c.value = 'true';
