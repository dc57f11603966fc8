"""Data-Juicer compatibility: run its process configs, write its export and tracer formats.

>>> from juicedb import dj
>>> r = dj.translate({"dataset_path": "/d/in.jsonl", "process": [{"clean_ip_mapper": None}]}, skip_missing=True)
>>> [(s.op, s.reason) for s in r.skipped]
[('clean_ip_mapper', 'not in juicedb')]
"""

from juicedb.dj.runner import DjRun, run_config
from juicedb.dj.tracer import export_trace
from juicedb.dj.translate import DjRecipe, Step, Tracer, load_config, parse_override, translate

__all__ = ["DjRecipe", "DjRun", "Step", "Tracer", "export_trace", "load_config", "parse_override", "run_config",
           "translate"]
