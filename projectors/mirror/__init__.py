"""The MLflow mirror of the ledger: plan (fold the ledger), sink (the MLflow client), replay, and its read model.

Importing this package does not import mlflow: `layout` names the default store without it, and
`replay`, `sink` and `model` import mlflow only when they are imported themselves.
"""
