"""Generation settings: user-facing parameters to ``generate()`` keyword arguments, validated.

One set of rules for lesson 02 and for the course's web server (lesson 03), worded like TGI's
validation errors where TGI has one:

- ``temperature`` 0 means greedy; a temperature must be strictly positive when sampling;
- ``0 < top_p <= 1``; ``top_k >= 0`` (0 turns it off); ``repetition_penalty > 0``;
- ``1 <= max_new_tokens <= max_new_tokens_limit``, and prompt tokens + ``max_new_tokens`` must fit
  the context (``max_total_tokens``);
- at most 4 stop strings, none empty;
- numbers may be given as integers (``temperature=2``, as JSON sends it): they come back as floats,
  because transformers' temperature and repetition-penalty processors refuse a Python ``int``;
- sampling is on when ``do_sample`` says so, else when a temperature > 0, ``top_k`` or ``top_p`` is
  given; greedy otherwise. Sampling settings are passed to ``generate()`` only when sampling, so
  transformers does not warn about flags it would ignore.

The seed is not a ``generate()`` argument: call ``transformers.set_seed(seed)`` just before.
Also here: the named presets (``PRESETS``) and ``distinct_n``, a diversity measure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

MAX_STOP_SEQUENCES = 4
MAX_NEW_TOKENS_LIMIT = 1024
MAX_RETURN_SEQUENCES = 8


class InvalidGenerationParams(ValueError):
    """A generation parameter is out of range; ``param`` names it, the message says what is allowed."""

    def __init__(self, message: str, param: str):
        super().__init__(message)
        self.param = param


@dataclass
class GenerationParams:
    """What a learner or a client may ask for; ``None`` means "not given"."""

    max_new_tokens: int = 64
    do_sample: bool | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    num_return_sequences: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def sampling(self) -> bool:
        """Whether these settings sample (see the module docstring for the rule)."""
        if self.do_sample is not None:
            return bool(self.do_sample)
        if self.temperature is not None and self.temperature == 0:
            return False
        return any(v is not None for v in (self.temperature, self.top_k, self.top_p))


def _number(params: GenerationParams, name: str, *, integer: bool = False) -> float | int | None:
    value = getattr(params, name)
    if value is None:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = "an integer" if integer else "a number"
        raise InvalidGenerationParams(f"`{name}` must be {wanted}, got {value!r}", name)
    if not math.isfinite(value):
        raise InvalidGenerationParams(f"`{name}` must be a finite number, got {value!r}", name)
    return value


def validate(params: GenerationParams | dict | None = None, *,
             max_new_tokens_limit: int = MAX_NEW_TOKENS_LIMIT,
             prompt_tokens: int | None = None, max_total_tokens: int | None = None,
             **overrides) -> GenerationParams:
    """Check every rule; return the parameters (a dict or keyword overrides become a dataclass).

    Raises ``InvalidGenerationParams`` naming the first parameter that breaks a rule.
    """
    if params is None:
        params = GenerationParams()
    elif isinstance(params, GenerationParams):
        params = replace(params)  # a copy: the caller's object is left as it was
    elif isinstance(params, dict):
        unknown = set(params) - set(GenerationParams.__dataclass_fields__)
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidGenerationParams(f"unknown generation parameter `{name}`", name)
        params = GenerationParams(**params)
    if overrides:
        params = GenerationParams(**{**asdict(params), **overrides})

    max_new = _number(params, "max_new_tokens", integer=True)
    if max_new is None or not 1 <= max_new <= max_new_tokens_limit:
        raise InvalidGenerationParams(
            f"`max_new_tokens` must be between 1 and {max_new_tokens_limit}, got {max_new}",
            "max_new_tokens")
    if prompt_tokens is not None and max_total_tokens is not None \
            and prompt_tokens + max_new > max_total_tokens:
        raise InvalidGenerationParams(
            f"`inputs` tokens + `max_new_tokens` must be <= {max_total_tokens}. Given: "
            f"{prompt_tokens} `inputs` tokens and {max_new} `max_new_tokens`", "max_new_tokens")
    if params.do_sample is not None and not isinstance(params.do_sample, bool):
        raise InvalidGenerationParams(f"`do_sample` must be true or false, got {params.do_sample!r}",
                                      "do_sample")
    temperature = _number(params, "temperature")
    if temperature is not None:
        if temperature < 0 or (temperature == 0 and params.do_sample):
            raise InvalidGenerationParams(
                "`temperature` must be strictly positive when sampling (use 0, or leave "
                "do_sample false, for greedy decoding)", "temperature")
    top_p = _number(params, "top_p")
    if top_p is not None and not 0 < top_p <= 1:
        raise InvalidGenerationParams(f"`top_p` must be > 0.0 and <= 1.0, got {top_p}", "top_p")
    top_k = _number(params, "top_k", integer=True)
    if top_k is not None and top_k < 0:
        raise InvalidGenerationParams(f"`top_k` must be >= 0 (0 turns it off), got {top_k}", "top_k")
    penalty = _number(params, "repetition_penalty")
    if penalty is not None and penalty <= 0:
        raise InvalidGenerationParams(
            f"`repetition_penalty` must be strictly positive (1.0 means no penalty), got {penalty}",
            "repetition_penalty")
    n = _number(params, "num_return_sequences", integer=True)
    if n is None or not 1 <= n <= MAX_RETURN_SEQUENCES:
        raise InvalidGenerationParams(
            f"`num_return_sequences` must be between 1 and {MAX_RETURN_SEQUENCES}, got {n}",
            "num_return_sequences")
    if n > 1 and not params.sampling():
        raise InvalidGenerationParams(
            "`num_return_sequences` > 1 needs sampling: greedy decoding would return the same text "
            f"{n} times. Set do_sample=true or a temperature > 0", "num_return_sequences")
    stop = [params.stop] if isinstance(params.stop, str) else params.stop
    if stop is None:
        stop = []
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidGenerationParams("`stop` must be a list of strings", "stop")
    if len(stop) > MAX_STOP_SEQUENCES:
        raise InvalidGenerationParams(
            f"`stop` must contain at most {MAX_STOP_SEQUENCES} sequences, got {len(stop)}", "stop")
    if any(s == "" for s in stop):
        raise InvalidGenerationParams("`stop` sequences must not be empty", "stop")
    seed = _number(params, "seed", integer=True)
    if seed is not None and seed < 0:
        raise InvalidGenerationParams(f"`seed` must be >= 0, got {seed}", "seed")
    params.stop = stop
    for name, value in (("temperature", temperature), ("top_p", top_p), ("repetition_penalty", penalty)):
        if value is not None:  # JSON's 2 is an int; transformers' warpers require a float
            setattr(params, name, float(value))
    return params


def generate_kwargs(params: GenerationParams | dict | None = None, *, tokenizer=None,
                    **validate_options) -> dict:
    """Validated keyword arguments for ``model.generate()`` or a text-generation pipeline.

    Stop strings need the tokenizer (``generate(stop_strings=..., tokenizer=...)``): pass it here.
    """
    params = validate(params, **validate_options)
    kwargs = {"max_new_tokens": params.max_new_tokens, "do_sample": params.sampling()}
    if kwargs["do_sample"]:
        for name in ("temperature", "top_k", "top_p"):
            if getattr(params, name) is not None:
                kwargs[name] = getattr(params, name)
        if params.num_return_sequences > 1:
            kwargs["num_return_sequences"] = params.num_return_sequences
    if params.repetition_penalty is not None:
        kwargs["repetition_penalty"] = params.repetition_penalty
    if params.stop:
        if tokenizer is None:
            raise InvalidGenerationParams("stop strings need the tokenizer: pass tokenizer=...", "stop")
        kwargs["stop_strings"] = list(params.stop)
        kwargs["tokenizer"] = tokenizer
    return kwargs


def presets():
    """Named settings as ``GenerationConfig`` objects: precise, balanced, creative."""
    from transformers import GenerationConfig

    return {
        # One best answer, the same every time: facts, extraction, code.
        "precise": GenerationConfig(do_sample=False, repetition_penalty=1.1, max_new_tokens=128),
        # Varied but on topic: chat, explanations.
        "balanced": GenerationConfig(do_sample=True, temperature=0.7, top_p=0.9, top_k=50,
                                     repetition_penalty=1.05, max_new_tokens=128),
        # Surprising word choices: brainstorming, stories. More risk of drifting off.
        "creative": GenerationConfig(do_sample=True, temperature=1.1, top_p=0.95, top_k=0,
                                     max_new_tokens=128),
    }


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Distinct-n (Li et al., 2016): unique word n-grams / all word n-grams over ``texts``.

    1.0 when no n-gram repeats; near 0 when the texts repeat themselves or each other.
    """
    grams = []
    for text in texts:
        words = text.split()
        grams += [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
