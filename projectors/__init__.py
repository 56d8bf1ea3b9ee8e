"""Read models built from the ledger: DuckDB projections, the MLflow mirror, candidate tagging."""
