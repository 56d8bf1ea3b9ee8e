-- One row per stage of each run, in the order the stages started: status, rows, duration, outputs.
CREATE OR REPLACE VIEW stages AS
WITH names AS (
    SELECT run_id, stage, min(seq) AS first_seq FROM (
        SELECT run_id, stage, seq FROM ledger.stage_started
        UNION ALL SELECT run_id, stage, seq FROM ledger.stage_completed
        UNION ALL SELECT run_id, stage, seq FROM ledger.stage_failed
    ) GROUP BY run_id, stage
), started AS (
    SELECT run_id, stage, arg_min(ts, seq) AS started_at FROM ledger.stage_started GROUP BY ALL
), completed AS (
    SELECT run_id, stage, arg_max(ts, seq) AS completed_at, arg_max(rows_in, seq) AS rows_in,
           arg_max(rows_out, seq) AS rows_out, arg_max(duration_s, seq) AS duration_s,
           arg_max(outputs, seq) AS outputs, arg_max(changed, seq) AS changed,
           arg_max(coalesce(attempts, 1), seq) AS attempts
    FROM ledger.stage_completed GROUP BY ALL
), failed AS (
    SELECT run_id, stage, arg_max(ts, seq) AS failed_at, arg_max(error_type, seq) AS error_type,
           arg_max(message, seq) AS message, arg_max(traceback_tail, seq) AS traceback_tail,
           max(coalesce(attempt, 1)) AS attempt
    FROM ledger.stage_failed WHERE NOT coalesce(will_retry, false) GROUP BY ALL
), retried AS (
    SELECT run_id, stage, max(coalesce(attempt, 1)) AS attempt
    FROM ledger.stage_failed WHERE coalesce(will_retry, false) GROUP BY ALL
)
SELECT n.run_id,
       n.stage,
       row_number() OVER (PARTITION BY n.run_id ORDER BY n.first_seq) AS position,
       CASE WHEN f.failed_at IS NOT NULL THEN 'failed'
            WHEN c.completed_at IS NOT NULL THEN 'completed'
            WHEN r.attempt IS NOT NULL THEN 'retrying'
            ELSE 'running' END AS status,
       coalesce(c.attempts, f.attempt, r.attempt + 1, 1) AS attempts,
       s.started_at,
       coalesce(c.completed_at, f.failed_at) AS ended_at,
       c.rows_in,
       c.rows_out,
       c.duration_s,
       c.outputs,
       c.changed,
       f.error_type,
       f.message,
       f.traceback_tail,
       n.first_seq
FROM names n
LEFT JOIN started s USING (run_id, stage)
LEFT JOIN completed c USING (run_id, stage)
LEFT JOIN failed f USING (run_id, stage)
LEFT JOIN retried r USING (run_id, stage);
