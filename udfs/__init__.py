"""juicedb's operators, by modality. Importing this package registers them all.

Operators know Arrow, numpy and their own models, never DuckDB.
"""

from juicedb.udfs import dedup, image, text, video  # noqa: F401
