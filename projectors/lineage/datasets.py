"""How the run's data looks in OpenLineage: its sources and artifacts as datasets, with their facets.

Imports openlineage: load it only once the extra is known present (projectors.lineage.model checks). Pure
builders: projectors.lineage.mapping's fold decides which datasets an event carries and keeps the ones a run reuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    dataset_version_dataset,
    output_statistics_output_dataset,
    schema_dataset,
)

from projectors.lineage.facets import PRODUCER
from schemas.events import ArtifactRef, DataContractCheckedData, DataInput

DATASET_NAMESPACE = "file"
#: what a Parquet footer says of an artifact: its (column, type) pairs and its null count per column
Described = tuple[list[tuple[str, str]], dict[str, int]]


def source(src: DataInput, checks: list[DataContractCheckedData] | None) -> InputDataset:
    """A run's data source (its recorded version and rows); the contract checks' assertions when given."""
    input_facets: dict[str, Any] = {
        "dataQualityMetrics": data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
            columnMetrics={}, rowCount=src.rows, producer=PRODUCER
        )
    }
    if checks:
        input_facets["dataQualityAssertions"] = assertions(checks)
    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=src.sha256, producer=PRODUCER)
    }
    return InputDataset(namespace=DATASET_NAMESPACE, name=src.name, facets=facets, inputFacets=input_facets)


def artifact_input(
    ref: ArtifactRef,
    path: Path,
    described: Described | None,
    facets: dict[str, Any],
    checks: list[DataContractCheckedData] | None,
) -> InputDataset:
    """An artifact a stage reads: its rows and null counts; the contract checks' assertions when given."""
    nulls = described[1] if described else {}
    metrics = data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
        columnMetrics={c: data_quality_metrics_input_dataset.ColumnMetrics(nullCount=n) for c, n in nulls.items()},
        rowCount=ref.rows,
        producer=PRODUCER,
    )
    input_facets: dict[str, Any] = {"dataQualityMetrics": metrics}
    if checks:
        input_facets["dataQualityAssertions"] = assertions(checks)
    return InputDataset(namespace=DATASET_NAMESPACE, name=str(path), facets=facets, inputFacets=input_facets)


def artifact_output(ref: ArtifactRef, path: Path, size: int | None, facets: dict[str, Any]) -> OutputDataset:
    """An artifact a stage or run wrote: its rows and its size on disk (None when the file is not there)."""
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=ref.rows, size=size, producer=PRODUCER
    )
    return OutputDataset(
        namespace=DATASET_NAMESPACE, name=str(path), facets=facets, outputFacets={"outputStatistics": stats}
    )


def artifact_facets(ref: ArtifactRef, described: Described | None) -> dict[str, Any]:
    """An artifact's version (its content hash) and, for Parquet, its schema."""
    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=ref.hash, producer=PRODUCER)
    }
    if described is not None:
        fields = [
            schema_dataset.SchemaDatasetFacetFields(name=n, type=t, ordinal_position=i + 1)
            for i, (n, t) in enumerate(described[0])
        ]
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)
    return facets


def assertions(checks: list[DataContractCheckedData]) -> Any:
    """One assertion per DataContractChecked (success = passed)."""
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=c.check,
                success=c.status == "passed",
                column=c.column,
                severity=c.severity,
                name=f"{c.contract}.{c.check}",
                expected="0",
                actual=str(c.failed),
                description=f"tier {c.tier} contract {c.contract}: {c.failed} of {c.total} rows failed ({c.status}, action {c.action})",
            )
            for c in checks
        ],
        producer=PRODUCER,
    )
