-- Rows removed by the data contracts: per drop event, why, how many, and the affected keys.
CREATE OR REPLACE VIEW rows_dropped AS
SELECT run_id, stage, contract, "check", reason, "count", keys,
       artifact.name AS artifact_name, artifact.hash AS artifact_hash, ts, seq
FROM ledger.rows_dropped;
