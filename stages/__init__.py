"""Pipeline stages (plain typed functions), the runner that threads them, data sources and numba kernels."""
