"""The sandbox: data pools, trainers and evaluators, and the Probe-Analyze-Refine workflow.

>>> import juicedb
>>> from juicedb.sandbox import run_sandbox                      # doctest: +SKIP
>>> with juicedb.open(".juicedb") as ws:                          # doctest: +SKIP
...     result = run_sandbox(ws, "recipes/sandbox_demo.yaml", log=print)
...     result.ranking[0].label, result.report

Pools are uid sets in workspace tables (``pools``, ``pool_members``, ``pool_buckets``), jobs and
their metrics too (``sandbox_jobs``, ``sandbox_metrics``); see ``juicedb.sandbox.workflow`` for
the stages and ``juicedb.sandbox.plugins`` for the trainer and evaluator protocol.
"""

from juicedb.sandbox.config import SandboxConfig, load
from juicedb.sandbox.plugins import Artifact, Evaluator, Metric, PoolData, Trainer, make_evaluator, make_trainer
from juicedb.sandbox.pools import Pool, Pools
from juicedb.sandbox.store import Store
from juicedb.sandbox.workflow import Result, Sandbox, relative_change, run_sandbox

__all__ = ["Artifact", "Evaluator", "Metric", "Pool", "PoolData", "Pools", "Result", "Sandbox", "SandboxConfig",
           "Store", "Trainer", "load", "make_evaluator", "make_trainer", "relative_change", "run_sandbox"]
