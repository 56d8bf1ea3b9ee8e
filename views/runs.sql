-- One row per run: status, profile, timings, code version, config hash and headline metrics.
CREATE OR REPLACE VIEW runs AS
WITH completed AS (
    SELECT run_id, arg_max(status, seq) AS status, arg_max(duration_s, seq) AS duration_s,
           arg_max(error, seq) AS error, max(ts) AS completed_at, max(seq) AS completed_seq
    FROM ledger.run_completed GROUP BY run_id
), headline AS (
    SELECT run_id,
           arg_max(value, seq) FILTER (WHERE key = 'sharpe') AS sharpe,
           arg_max(value, seq) FILTER (WHERE key = 'max_drawdown') AS max_drawdown,
           arg_max(value, seq) FILTER (WHERE key = 'cagr') AS cagr
    FROM ledger.metric_logged WHERE step IS NULL AND asset IS NULL GROUP BY run_id
), dropped AS (
    SELECT run_id, sum("count")::BIGINT AS rows_dropped FROM ledger.rows_dropped GROUP BY run_id
)
SELECT s.run_id,
       coalesce(c.status, 'running') AS status,
       s.pipeline,
       s.profile,
       s.ts AS started_at,
       c.completed_at,
       c.duration_s,
       s.code_version.git_sha AS git_sha,
       s.code_version.dirty AS git_dirty,
       s.config_hash,
       s.seed,
       s.orchestrator.name AS orchestrator,
       s.orchestrator.flow_run_id AS flow_run_id,
       h.sharpe,
       h.max_drawdown,
       h.cagr,
       coalesce(d.rows_dropped, 0) AS rows_dropped,
       c.error,
       s.seq AS started_seq,
       c.completed_seq
FROM ledger.run_started s
LEFT JOIN completed c USING (run_id)
LEFT JOIN headline h USING (run_id)
LEFT JOIN dropped d USING (run_id);
