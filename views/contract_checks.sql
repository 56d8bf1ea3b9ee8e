-- Every data-contract check outcome: which contract, tier and check, status, failures and action.
CREATE OR REPLACE VIEW contract_checks AS
SELECT run_id, stage, contract, tier, "check", "column", status, severity, failed, total,
       CASE WHEN total > 0 THEN failed / total END AS failed_rate, action, observed, sample, ts, seq
FROM ledger.data_contract_checked;
