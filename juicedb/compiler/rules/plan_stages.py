"""Plan stat computation survivors-first, fusing neighbours of one cost class.

Walking the ordered conjuncts, each call is computed at the first conjunct
that needs it, on the rows every earlier stage kept. Neighbouring conjuncts
whose new calls share a cost class and an input are fused into one stage:
computed together on one batch, so they share intermediates (the words of a
text) instead of splitting words once per operator. A costlier neighbour on the
same input joins the stage too when computing it on the rows the stage drops
costs less than reading the input again for a stage of its own
(``cost x (1 - P) < REFETCH_COST x P``, P the stage's pass rate, 0.5 per
conjunct when unknown): a cheap pass after a trivial one does, a word-level one
does not. Only a conjunct with nothing cached joins so: a re-run keeps the
survivors-first stages of the run that filled the cache, and computes nothing.
Model operators are never fused (two models share no intermediates, and a fused
stage would run the second model on rows the first one drops): each model is a
stage of its own, on the rows that reach it; only the stats of one model call
(``lang``, ``lang_score``) share a stage. A deduplicator is a stage of its own.
Calls outside the WHERE (select list, GROUP BY, ORDER BY) are computed last, on
the final survivors only.
"""

from __future__ import annotations

from juicedb.compiler.plan import Context, Stage
from juicedb.compiler.rules.order_conjuncts import UNKNOWN_PASS_RATE
from juicedb.registry import COST_CLASSES

UNFUSED_COSTS = frozenset({"model", "gpu_model"})
# Reading a stage's input again (DuckDB decoding the column and handing it over as Arrow), per row, in
# COST_CLASSES units: measured ~1.5x a cheap pass over the code points (200k documents: ~0.5 CPU-s to
# fetch the texts, ~0.35 CPU-s for the alnum and special-character counts).
REFETCH_COST = 1.5 * COST_CLASSES["cheap"]


def _pass_rate(ctx: Context, stage: Stage) -> float:
    rate = 1.0
    for i in stage.conjuncts:
        p = ctx.conjuncts[i].estimate.pass_rate
        rate *= UNKNOWN_PASS_RATE if p is None else p
    return rate


def _joins_stage(ctx: Context, stage: Stage, inputs: tuple[str, ...], cost: str) -> bool:
    """Whether new calls of class ``cost`` on ``inputs`` are better computed with ``stage`` than after it."""
    if not stage.calls or cost in UNFUSED_COSTS or stage.cost_class in UNFUSED_COSTS:
        return False
    if tuple(sorted({ctx.calls[i].input_sql for i in stage.calls})) != inputs:
        return False
    p = _pass_rate(ctx, stage)
    return COST_CLASSES[cost] * (1.0 - p) < REFETCH_COST * p


def plan_stages(ctx: Context) -> Context:
    if ctx.kind != "planned":
        return ctx
    computed: set[int] = set()
    stages: list[Stage] = []
    fusable_key: tuple | None = None
    for idx, c in enumerate(ctx.conjuncts):
        new = tuple(i for i in c.calls if i not in computed)
        computed.update(new)
        if not new:
            if stages:
                last = stages[-1]
                stages[-1] = Stage((*last.conjuncts, idx), last.calls, last.cost_class)
            else:
                stages.append(Stage((idx,), ()))
            continue
        top = max((ctx.calls[i] for i in new), key=lambda call: call.cost)
        inputs = tuple(sorted({ctx.calls[i].input_sql for i in new}))
        key = (top.spec.cost, inputs)
        if top.spec.cost in UNFUSED_COSTS:  # only the stats of one model run (lang and lang_score) go together
            key = (*key, tuple(sorted({ctx.calls[i].fingerprint for i in new})))
        cold = c.estimate.cached == 0.0
        if c.dedup is None and stages and fusable_key is not None and (
                key == fusable_key or (cold and _joins_stage(ctx, stages[-1], inputs, top.spec.cost))):
            last = stages[-1]
            cost_class = max(last.cost_class, top.spec.cost, key=lambda k: COST_CLASSES.get(k, 0.0))
            stages[-1] = Stage((*last.conjuncts, idx), (*last.calls, *new), cost_class)
            key = (cost_class, inputs) if key != fusable_key else key
        else:
            stages.append(Stage((idx,), new, top.spec.cost))
        fusable_key = None if c.dedup is not None else key
    ctx.stages = stages
    ctx.post_calls = tuple(i for i in sorted(ctx.calls) if i not in computed)
    return ctx
