-- Every logged metric, long format: one row per MetricLogged event.
CREATE OR REPLACE VIEW metrics AS
SELECT run_id, stage, key, value, step, asset, ts, seq
FROM ledger.metric_logged;
