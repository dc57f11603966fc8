"""Plan stat computation survivors-first, fusing neighbours of one cost class.

Walking the ordered conjuncts, each call is computed at the first conjunct
that needs it, on the rows every earlier stage kept. Neighbouring conjuncts
whose new calls share a cost class and an input are fused into one stage:
computed together on one batch, so they share intermediates (the words of a
text) instead of splitting words once per operator. Model operators are never
fused (two models share no intermediates, and a fused stage would run the second
model on rows the first one drops): each model is a stage of its own, on the
rows that reach it; only the stats of one model call (``lang``, ``lang_score``)
share a stage. A deduplicator is a stage of its own. Calls outside the WHERE (select list, GROUP BY, ORDER BY) are
computed last, on the final survivors only.
"""

from __future__ import annotations

from juicedb.compiler.plan import Context, Stage

UNFUSED_COSTS = frozenset({"model", "gpu_model"})


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
        key = (top.spec.cost, tuple(sorted({ctx.calls[i].input_sql for i in new})))
        if top.spec.cost in UNFUSED_COSTS:  # only the stats of one model run (lang and lang_score) go together
            key = (*key, tuple(sorted({ctx.calls[i].fingerprint for i in new})))
        if c.dedup is None and key == fusable_key and stages:
            last = stages[-1]
            stages[-1] = Stage((*last.conjuncts, idx), (*last.calls, *new), last.cost_class)
        else:
            stages.append(Stage((idx,), new, top.spec.cost))
        fusable_key = None if c.dedup is not None else key
    ctx.stages = stages
    ctx.post_calls = tuple(i for i in sorted(ctx.calls) if i not in computed)
    return ctx
