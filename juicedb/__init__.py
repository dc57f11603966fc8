"""juicedb: Data-Juicer-compatible data processing and a data-model sandbox on DuckDB.

>>> import juicedb
>>> "text_length_filter" in {s.name for s in juicedb.all_ops()}
True
"""

from juicedb.errors import JuicedbError
from juicedb.registry import all_ops, get_op
from juicedb.workspace import (
    RunReport,
    Workspace,
    open,
    ops_table,
)

__version__ = "0.1.0"
__all__ = ["JuicedbError", "RunReport", "Workspace", "__version__", "all_ops", "get_op", "open", "ops_table"]
