"""OpenLineage out (`bin/replay --to openlineage`): ledger runs and stages as OpenLineage RunEvents.

openlineage-python is imported only inside this package, and only when events are built or sent
(projectors.lineage.mapping, .datasets, .facets); projectors.lineage.model and position() need no extra.
"""
