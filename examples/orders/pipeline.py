"""A non-quant pipeline: load a CSV of orders, validate it with a pandera contract, aggregate per region, report metrics.

bin/run-pipeline --pipeline examples/orders/pipeline.py:PIPELINE --profile sample
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.polars as pa
import polars as pl
from pydantic import BaseModel

from schemas.events import MetricLoggedData
from schemas.settings import TaggingPolicy
from stages import Pipeline, StageResult, stage

HERE = Path(__file__).resolve().parent


class OrderSettings(BaseModel):
    csv: str = str(HERE / "orders.csv")
    min_amount: float = 0.0


ORDERS = pa.DataFrameSchema(
    {
        "order_id": pa.Column(pl.Int64, nullable=False),
        "region": pa.Column(pl.String, pa.Check.isin(["north", "south", "east", "west"]), nullable=False),
        "amount": pa.Column(pl.Float64, pa.Check.gt(0), nullable=False),
        "quantity": pa.Column(pl.Int64, pa.Check.ge(1), nullable=False),
    },
    name="orders",
)


@stage(writes=("orders",))
def load(*, settings: OrderSettings) -> StageResult:
    """The orders CSV as a frame (amount as float, quantity as int)."""
    frame = pl.read_csv(
        settings.csv, schema_overrides={"amount": pl.Float64, "quantity": pl.Int64, "order_id": pl.Int64}
    )
    return StageResult(outputs={"orders": frame})


@stage(writes=("by_region",), contracts={"orders": ORDERS})
def aggregate(*, orders: pd.DataFrame, settings: OrderSettings) -> StageResult:
    """Revenue, orders and units per region (pandas, as a data team would write it), valid orders only."""
    big = orders[orders["amount"] >= settings.min_amount]
    by_region = (
        big.assign(revenue=big["amount"] * big["quantity"])
        .groupby("region", as_index=False)
        .agg(orders=("order_id", "count"), units=("quantity", "sum"), revenue=("revenue", "sum"))
        .sort_values("region")
        .reset_index(drop=True)
    )
    return StageResult(outputs={"by_region": by_region})


@stage(writes=())
def report(*, by_region: pl.DataFrame, settings: OrderSettings) -> StageResult:
    """Headline metrics: total revenue, orders, average order value; revenue per region."""
    revenue = float(by_region["revenue"].sum())
    orders = int(by_region["orders"].sum())
    events = [
        MetricLoggedData(key="revenue", value=revenue),
        MetricLoggedData(key="orders", value=float(orders)),
        MetricLoggedData(key="avg_order_value", value=revenue / orders if orders else 0.0),
        *(
            MetricLoggedData(key="revenue", value=float(r["revenue"]), asset=r["region"])
            for r in by_region.iter_rows(named=True)
        ),
    ]
    return StageResult(events=events)


PIPELINE = Pipeline(
    "orders", stages=[load, aggregate, report], settings=OrderSettings, policy=TaggingPolicy(max_drop_rate=0.5)
)
