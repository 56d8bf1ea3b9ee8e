-- The resolved parameters of each run, one row per (run, dotted key), value as JSON and as text.
CREATE OR REPLACE VIEW params AS
SELECT run_id, key, value, json_extract_string(value, '$') AS value_text, seq
FROM (
    SELECT run_id, seq, unnest(map_keys(params)) AS key, unnest(map_values(params)) AS value
    FROM ledger.run_started
);
