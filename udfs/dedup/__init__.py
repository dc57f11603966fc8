"""Deduplicators, one module each."""

from juicedb.udfs.dedup import document_dedup, minhash, simhash  # noqa: F401
