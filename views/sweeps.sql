-- One row per sweep: pipeline, points planned, points succeeded and failed, started/completed, the best run and its metric.
CREATE OR REPLACE VIEW sweeps AS
WITH per_point AS (
    SELECT sweep_id, point,
           bool_or(status = 'succeeded') AS succeeded,
           arg_max(status, started_seq) AS last_status
    FROM sweep_runs GROUP BY sweep_id, point
), counts AS (
    SELECT sweep_id,
           count(*) FILTER (WHERE succeeded) AS succeeded,
           count(*) FILTER (WHERE NOT succeeded AND last_status NOT IN ('running', 'succeeded')) AS failed
    FROM per_point GROUP BY sweep_id
), plans AS (
    SELECT sweep.id AS sweep_id, arg_min(pipeline, seq) AS pipeline, max(sweep.plan.points) AS points
    FROM ledger.run_started WHERE sweep IS NOT NULL GROUP BY sweep.id
), times AS (
    SELECT s.sweep_id, min(r.started_at) AS started_at,
           CASE WHEN bool_and(r.completed_at IS NOT NULL) THEN max(r.completed_at) END AS completed_at
    FROM sweep_runs s JOIN runs r USING (run_id) GROUP BY s.sweep_id
), best AS (
    SELECT sweep_id, arg_min(run_id, "rank") AS best_run_id, any_value(rank_metric) AS rank_metric,
           arg_min(rank_value, "rank") AS best_value
    FROM sweep_runs GROUP BY sweep_id
)
SELECT p.sweep_id, p.pipeline, p.points, c.succeeded, c.failed, t.started_at, t.completed_at,
       b.best_run_id, b.rank_metric, b.best_value
FROM plans p
JOIN counts c USING (sweep_id)
JOIN times t USING (sweep_id)
JOIN best b USING (sweep_id);
