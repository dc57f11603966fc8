"""Deduplicators, one module each."""

from juicedb.udfs.dedup import document_dedup, minhash  # noqa: F401
