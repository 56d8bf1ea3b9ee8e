"""Event models, data contracts, run context and settings: the vocabulary every layer shares."""
