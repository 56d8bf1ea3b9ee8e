import polars as pl
from pydantic import BaseModel

from stages import Pipeline, StageResult, stage


class Params(BaseModel):  # the pipeline's own settings model (profiles + --set fill it)
    n: int = 10
    scale: float = 2.0


@stage(writes=("numbers",))
def make(*, settings: Params) -> StageResult:
    """A frame of n numbers."""
    return StageResult(outputs={"numbers": pl.DataFrame({"x": list(range(settings.n))})})


@stage(writes=("scaled",), retries=2)
def scale(*, numbers: pl.DataFrame, settings: Params) -> StageResult:
    """x times scale; reads are the keyword parameters other than settings."""
    return StageResult(outputs={"scaled": numbers.with_columns(pl.col("x") * settings.scale)})


PIPELINE = Pipeline("toy", stages=[make, scale], settings=Params)
