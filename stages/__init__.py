"""Pipeline stages (plain typed functions), the runner that threads them, data sources and numba kernels.

The public pipeline API: ``from stages import Pipeline, StageResult, stage``.
"""

from stages.pipeline import Pipeline, load_pipeline, stage
from stages.spec import StageResult

__all__ = ["Pipeline", "StageResult", "load_pipeline", "stage"]
