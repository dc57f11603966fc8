"""What juicedb knows about Data-Juicer's configs: its keys, its operators, and how each maps here.

Data-Juicer's config keys and operator argument names come from its
``config_all.yaml`` (``dj_catalog.json``, names only). The tables below say
how juicedb treats each: honoured, without effect here (a note when the value is
not DJ's default), or refused; and for every operator juicedb has, the DJ
arguments it does not implement, with DJ's default (giving the default is fine).

>>> "text_length_filter" in dj_operators() and "clean_ip_mapper" in dj_operators()
True
>>> nearest("text_lenght_filter", dj_operators())[0]
'text_length_filter'
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@cache
def _catalog() -> dict[str, Any]:
    return json.loads(resources.files("juicedb.dj").joinpath("dj_catalog.json").read_text(encoding="utf-8"))


@cache
def dj_operators() -> dict[str, frozenset[str]]:
    """Every Data-Juicer operator name with the names of its arguments."""
    return {name: frozenset(args) for name, args in _catalog()["operators"].items()}


def nearest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(name, sorted(choices), n=n, cutoff=0.6)


# ---------------------------------------------------------------- top-level keys

# Special tokens and their DJ defaults (juicedb's operators read the defaults).
SPECIAL_TOKENS = {"image_special_token": "<__dj__image>", "video_special_token": "<__dj__video>",
                  "audio_special_token": "<__dj__audio>", "eoc_special_token": "<|__dj__eoc|>"}

# Keys juicedb honours (read by the translator).
HONOURED = frozenset({
    "project_name", "dataset_path", "dataset", "export_path", "export_type", "keep_stats_in_res_ds", "np",
    "text_keys", "image_key", "video_key", "audio_key", "open_tracer", "op_list_to_trace", "trace_num", "process",
    "work_dir", *SPECIAL_TOKENS,
})

# Keys of DJ's executor that change how DJ runs, not which rows it keeps: accepted; a value other
# than DJ's default gets a note saying what juicedb does instead.
NO_EFFECT: dict[str, tuple[Any, str]] = {
    "op_fusion": (False, "juicedb always orders predicates by cost and fuses neighbours (its plan, "
                         "`juicedb explain`)"),
    "fusion_strategy": ("probe", "juicedb orders by cost classes and cached pass rates"),
    "executor_type": ("default", "juicedb runs on this machine (DuckDB)"),
    "ray_address": ("auto", "juicedb runs on this machine (DuckDB)"),
    "export_shard_size": (0, "the result is written as one file"),
    "export_in_parallel": (False, "DuckDB writes the file"),
    "use_cache": (True, "juicedb caches stats in the workspace"),
    "ds_cache_dir": (None, "juicedb caches stats in the workspace"),
    "cache_compress": (None, "juicedb caches stats in the workspace"),
    "use_checkpoint": (False, "juicedb caches stats in the workspace: a re-run recomputes nothing"),
    "temp_dir": (None, "DuckDB spills to the workspace's tmp/"),
    "open_monitor": (True, "no resource monitor"),
    "turbo": (False, "no effect"),
    "skip_op_error": (True, "a failing sample is an `errors` row and the run goes on"),
    "adaptive_batch_size": (False, "juicedb sizes batches per operator"),
    "suffixes": ([], "juicedb reads the one file dataset_path names"),
    "keep_hashes_in_res_ds": (False, "deduplicator hashes are not exported"),
    "export_extra_args": ({}, "not used for jsonl/json/parquet"),
    "image_bytes_key": ("image_bytes", "inline image bytes are read from the images list"),
    "validators": ([], "not run: the loader checks each line's text field (bad lines go to `errors`)"),
    "percentiles": ([], "analyzer setting"),
    "export_original_dataset": (False, "analyzer setting"),
    "save_stats_in_one_file": (False, "analyzer setting"),
    "data_probe_algo": ("uniform", "analyzer setting"),
    "data_probe_ratio": (1.0, "analyzer setting"),
    "auto": (False, "analyzer setting"),
    "auto_num": (1000, "analyzer setting"),
    "hpo_config": (None, "HPO tool setting"),
    "open_insight_mining": (False, "not supported"),
    "op_list_to_mine": ([], "not supported"),
    "notification": (None, "not supported"),
    "annotation": (None, "not supported"),
    "debug": (False, "no effect"),
    "config": (None, "no effect"),
}

# Keys juicedb cannot honour: only DJ's default is accepted.
REFUSED: dict[str, tuple[Any, str]] = {
    "custom_operator_paths": ([], "juicedb cannot run Data-Juicer's Python operators; remove them from the config"),
    "generated_dataset_config": (None, "juicedb reads a dataset file; set dataset_path"),
}

# A sandbox pipeline config has jobs, not a process list.
SANDBOX_KEYS = frozenset({"probe_job_configs", "refine_recipe_job_configs", "execution_job_configs",
                          "evaluation_job_configs", "pipelines"})


def config_keys() -> frozenset[str]:
    return frozenset(_catalog()["config_keys"]) | HONOURED | set(NO_EFFECT) | set(REFUSED)


# ---------------------------------------------------------------- operator arguments

# Arguments every DJ operator accepts that set how DJ runs it (no effect on its result).
RUNTIME_ARGS = frozenset({"accelerator", "batch_size", "num_proc", "cpu_required", "gpu_required", "mem_required",
                          "turbo", "skip_op_error", "work_dir", "auto_op_parallelism", "runtime_np"})
# Field-name arguments with DJ's defaults; text_key, image_key and video_key choose the input column.
FIELD_ARGS = {"text_key": "text", "image_key": "images", "video_key": "videos", "audio_key": "audios",
              "image_bytes_key": "image_bytes", "query_key": "query", "response_key": "response",
              "history_key": "history", "index_key": None}
# A filter's keep-rule switches (DJ's Filter.get_keep_boolean), passed through to the filter call.
RULE_FLAGS = frozenset({"min_closed_interval", "max_closed_interval", "reversed_range"})


@dataclass(frozen=True)
class DjOnly:
    """A DJ argument juicedb does not implement.

    ``default``: DJ's default, accepted (the only value accepted unless ``any_value``).
    ``why``: why another value cannot run here. ``alias``: the juicedb parameter it maps to.
    ``note``: said whenever the argument is given.
    """

    default: Any = None
    why: str = ""
    any_value: bool = False
    alias: str | None = None
    note: str = ""


_TOKENIZATION = DjOnly(False, "tokenization=True counts the tokens of DJ's sentencepiece/HuggingFace "
                              "tokenizers, which juicedb does not have")
_WORDS_AUG = {"use_words_aug": DjOnly(False, "use_words_aug (word augmentation for zh/vi) is not implemented"),
              "words_aug_group_sizes": DjOnly(any_value=True), "words_aug_join_char": DjOnly(any_value=True)}
_NSFW = DjOnly(any_value=True)  # the model: see MODEL_NOTES
_CLIP = DjOnly(alias="model")

DJ_ONLY_ARGS: dict[str, dict[str, DjOnly]] = {
    "alphanumeric_filter": {"tokenization": _TOKENIZATION},
    "flagged_words_filter": {"tokenization": _TOKENIZATION, **_WORDS_AUG, "flagged_words_dir": DjOnly(any_value=True)},
    "stopwords_filter": {"tokenization": _TOKENIZATION, **_WORDS_AUG, "stopwords_dir": DjOnly(any_value=True)},
    "words_num_filter": {"tokenization": _TOKENIZATION, "lang": DjOnly(any_value=True)},
    "word_repetition_filter": {"tokenization": _TOKENIZATION, "lang": DjOnly(any_value=True)},
    "language_id_score_filter": {"lang": DjOnly(any_value=True)},  # a predicate on the `lang` stat
    "token_num_filter": {"hf_tokenizer": DjOnly(any_value=True)},  # a tokenizer.json path, else juicedb's default
    "image_text_similarity_filter": {"hf_clip": _CLIP},
    "video_frames_text_similarity_filter": {"hf_clip": _CLIP},
    "image_nsfw_filter": {"hf_nsfw_model": _NSFW},
    "video_nsfw_filter": {"hf_nsfw_model": _NSFW},
    "image_deduplicator": {"consider_text": DjOnly(False, "consider_text=True (image and text together) is "
                                                          "not implemented")},
    "video_deduplicator": {"consider_text": DjOnly(False, "consider_text=True (video and text together) is "
                                                          "not implemented")},
    "video_motion_score_filter": {"divisible": DjOnly(1, "divisible (resizing frames to a multiple) is not "
                                                         "implemented")},
    "document_minhash_deduplicator": {"tokenizer_model": DjOnly(None, "tokenizer_model (sentencepiece "
                                                                      "shingles) is not implemented")},
    "video_ocr_area_ratio_filter": {"languages_to_detect": DjOnly(any_value=True)},  # detection is script-agnostic
}

# Operators whose model juicedb replaces: said whenever the operator runs.
MODEL_NOTES = {
    "perplexity_filter": "DJ scores with KenLM models that are not packaged anywhere; juicedb's default model "
                         "(SmolLM2-135M) has another perplexity scale: choose max_ppl from the stats",
    "token_num_filter": "counts cl100k_base tokens unless hf_tokenizer names a local tokenizer.json (DJ "
                        "downloads EleutherAI/pythia-6.9b-deduped's tokenizer)",
    "image_nsfw_filter": "scores come from the packaged Open-NSFW model, not DJ's HuggingFace classifier: "
                         "choose max_score from the stats",
    "video_nsfw_filter": "scores come from the packaged Open-NSFW model, not DJ's HuggingFace classifier: "
                         "choose max_score from the stats",
}
