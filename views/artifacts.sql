-- Content-addressed artifacts written by the stages.
CREATE OR REPLACE VIEW artifacts AS
SELECT run_id, stage, name, hash, format, "rows", bytes, path, sha256, ts, seq
FROM ledger.artifact_written;
