-- One row per run of a sweep: the point's overrides (JSON and text), status, headline metrics, rank within the sweep.
CREATE OR REPLACE VIEW sweep_runs AS
WITH members AS (
    SELECT run_id, seq, sweep.id AS sweep_id, sweep.point AS point_map,
           sweep.plan.rank.metric AS rank_metric, sweep.plan.rank.better AS better
    FROM ledger.run_started WHERE sweep IS NOT NULL
), ranking AS (
    SELECT sweep_id, arg_min(rank_metric, seq) AS rank_metric, arg_min(better, seq) AS better
    FROM members GROUP BY sweep_id
), valued AS (
    SELECT m.run_id, arg_max(g.value, g.seq) AS rank_value
    FROM members m JOIN ranking k USING (sweep_id)
    JOIN ledger.metric_logged g ON g.run_id = m.run_id AND g.key = k.rank_metric AND g.step IS NULL AND g.asset IS NULL
    GROUP BY m.run_id
), scored AS (
    SELECT m.run_id, m.sweep_id, m.point_map, r.status, r.sharpe, r.max_drawdown, r.cagr, k.rank_metric,
           v.rank_value, r.started_at, m.seq,
           r.status = 'succeeded' AND v.rank_value IS NOT NULL AS ranked,
           CASE k.better WHEN 'higher' THEN -v.rank_value WHEN 'lower' THEN v.rank_value
                ELSE abs(v.rank_value) END AS score
    FROM members m
    JOIN runs r USING (run_id)
    JOIN ranking k USING (sweep_id)
    LEFT JOIN valued v USING (run_id)
)
SELECT run_id,
       sweep_id,
       to_json(point_map) AS point,
       array_to_string(list_transform(map_entries(point_map), lambda e: e.key || '=' || CAST(e.value AS VARCHAR)), ' ')
           AS point_text,
       status,
       sharpe,
       max_drawdown,
       cagr,
       rank_metric,
       rank_value,
       CASE WHEN ranked THEN rank() OVER (PARTITION BY sweep_id ORDER BY ranked DESC, score ASC) END AS "rank",
       started_at,
       seq AS started_seq
FROM scored;
