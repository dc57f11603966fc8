"""A catalog for compiling without a workspace (fixtures, doctests)."""

from __future__ import annotations

from juicedb.compiler.plan import Conjunct, DatasetRef, Estimate, OpCall


class FakeCatalog:
    """Datasets map to ``ds_<stem>``; estimates come from a dict keyed by conjunct text as written."""

    def __init__(self, estimates: dict[str, Estimate] | None = None) -> None:
        self.estimates = estimates or {}

    def dataset_table(self, ref: DatasetRef) -> str:
        stem = ref.path.rsplit("/", 1)[-1].split(".", 1)[0]
        return f"ds_{stem}"

    def estimate(self, base_sql: str, conjunct: Conjunct, calls: dict[int, OpCall]) -> Estimate:
        return self.estimates.get(conjunct.written, Estimate())
