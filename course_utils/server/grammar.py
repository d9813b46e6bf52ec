"""Structured output: a request's grammar, and the mask of allowed tokens at each step.

A request may constrain its answer: a JSON Schema (OpenAI's ``response_format`` and tools, TGI's
``grammar: {"type": "json"}``), any JSON object (``json_object``), a regular expression (TGI's
``grammar: {"type": "regex"}``), or a Lark grammar (the tool-call formats, ``tools.py``). It is
carried as a ``Constraint`` in the request's ``SamplingParams``; before every decoding step the
sampler asks the row's ``Matcher`` which tokens keep the answer valid, and every other token's
logit becomes ``-inf`` (``sampling.Sampler``). The end-of-sequence token is allowed exactly when
the answer is complete. Rows without a constraint are not touched.

The grammar engine is llguidance (``llguidance`` on PyPI, the "guidance" backend of vLLM),
chosen over xgrammar and outlines-core after measuring all three on the course tokenizer
(``python -m course_utils.bench.grammars``): every one masks a step in well under a millisecond
(a decoding step takes 25 ms), llguidance compiles JSON schemas in 0.4-3 ms, needs no PyTorch or
Triton of its own (xgrammar pulls Triton on Linux), and covers recursive ``$ref``, ``{}`` and
Lark grammars (outlines-core only regular expressions). Writing a JSON Schema compiler here would
be the wrong kind of lesson: lesson 08 builds the mechanism on small automata, then uses this.

Bad constraints never reach the model: ``Grammars.check`` refuses a schema that is not valid JSON
Schema, or that uses a keyword llguidance cannot enforce (naming it), or a grammar that does not
compile within ``COMPILE_SECONDS``; nothing is ever silently left unconstrained.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from .errors import ValidationFailed

COMPILE_SECONDS = 2.0  # a grammar that takes longer to check is refused
# How constrained JSON is laid out: no free whitespace (a model that likes blank lines would fill
# its whole budget with them, inside a valid object), ", " and ": " as Python's json.dumps writes.
JSON_LAYOUT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


class InvalidConstraint(ValidationFailed):
    """A constraint the server refuses: a 400 (OpenAI) or 422 (TGI) naming ``param``."""


@dataclass(frozen=True)
class Constraint:
    """What a request's answer must match. ``kind``: ``json_schema`` (``source`` is the schema as
    JSON text), ``regex`` or ``lark``; ``param``: the request field it came from, for errors."""

    kind: str
    source: str
    param: str = "response_format"

    @classmethod
    def json_schema(cls, schema, param: str = "response_format") -> Constraint:
        if not isinstance(schema, (dict, bool)):
            raise InvalidConstraint("the JSON schema must be an object", param)
        return cls("json_schema", json.dumps(schema), param)  # key order kept: it is the output's

    def grammar(self) -> str:
        """The grammar in llguidance's form (a JSON text)."""
        import llguidance

        if self.kind == "json_schema":
            return llguidance.LLMatcher.grammar_from_json_schema(self.source, defaults=JSON_LAYOUT)
        if self.kind == "regex":
            return llguidance.LLMatcher.grammar_from_regex(self.source)
        if self.kind == "lark":
            return llguidance.LLMatcher.grammar_from_lark(self.source)
        raise InvalidConstraint(f"unknown kind of constraint {self.kind!r}", self.param)


def _check_schema(constraint: Constraint) -> None:
    """A JSON Schema must be one (Draft 2020-12's meta-schema)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(json.loads(constraint.source))
    except SchemaError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "the top level"
        raise InvalidConstraint(f"`{constraint.param}`: not a valid JSON Schema: {err.message} (at {where})",
                                constraint.param) from None


class Grammars:
    """The grammar engine for one tokenizer: checks constraints and makes matchers."""

    def __init__(self, tokenizer) -> None:
        self._hf = tokenizer
        self._tokenizer = None
        self._lock = threading.Lock()
        self._checked: dict[Constraint, str] = {}

    @property
    def tokenizer(self):
        """llguidance's view of the tokenizer (built once, about 0.5 s, at the first constraint)."""
        with self._lock:
            if self._tokenizer is None:
                import llguidance.hf

                self._tokenizer = llguidance.hf.from_tokenizer(self._hf)
            return self._tokenizer

    def check(self, constraint: Constraint) -> str:
        """The compiled grammar's text, or ``InvalidConstraint`` saying what is wrong."""
        if constraint in self._checked:
            return self._checked[constraint]
        if constraint.kind == "json_schema":
            _check_schema(constraint)
        result: dict = {}
        tokenizer = self.tokenizer  # built once, outside the time limit (a loaded machine took over 2 s)

        def compile_it() -> None:
            import llguidance

            try:
                grammar = constraint.grammar()
                error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar, tokenizer)
                result["value"] = (grammar, error, messages)
            except Exception as err:  # noqa: BLE001 - any failure of the engine is the request's
                result["value"] = (None, True, [str(err)])

        worker = threading.Thread(target=compile_it, daemon=True, name="grammar-check")
        worker.start()
        worker.join(COMPILE_SECONDS)
        if "value" not in result:
            raise InvalidConstraint(f"`{constraint.param}`: the grammar did not compile within "
                                    f"{COMPILE_SECONDS:g} s: simplify it", constraint.param)
        grammar, error, messages = result["value"]
        if error:
            detail = "; ".join(messages) or "it does not compile"
            if detail.startswith("Unimplemented keys"):
                keys = detail.split(":", 1)[1].strip()
                detail = f"it uses JSON Schema keywords this server cannot enforce: {keys}"
            raise InvalidConstraint(f"`{constraint.param}`: {detail}", constraint.param)
        self._checked[constraint] = grammar
        return grammar

    def matcher(self, constraint: Constraint) -> Matcher:
        return Matcher(self, self.check(constraint))


class Matcher:
    """One row's position in its grammar: which tokens may come next, and taking each one."""

    def __init__(self, grammars: Grammars, grammar: str) -> None:
        import llguidance

        self.tokenizer = grammars.tokenizer
        self.matcher = llguidance.LLMatcher(self.tokenizer, grammar)

    def fill(self, bitmask, row: int) -> None:
        """Write into row ``row`` of ``bitmask`` (``mask_tokens``'s) which tokens may come next."""
        import llguidance.torch

        llguidance.torch.fill_next_token_bitmask(self.matcher, bitmask, row)

    def accept(self, token_id: int) -> None:
        if not self.matcher.consume_token(token_id):
            raise RuntimeError(f"the grammar refused token {token_id}: {self.matcher.get_error()}")

    @property
    def done(self) -> bool:
        """The answer is complete and nothing more may follow (only the end token)."""
        return self.matcher.is_stopped()


def mask_tokens(scores, matchers: dict) -> None:
    """``scores`` ``[rows, vocab]``, in place: for each row ``i`` in ``matchers``, every token its
    grammar does not allow next gets ``-inf``; the other rows are left as they are."""
    import llguidance.torch

    if not matchers:
        return
    tokenizer = next(iter(matchers.values())).tokenizer
    bitmask = llguidance.torch.allocate_token_bitmask(scores.shape[0], tokenizer.vocab_size)  # all allowed
    for row, matcher in matchers.items():
        matcher.fill(bitmask, row)
    apply_bitmask(scores, bitmask)


def apply_bitmask(scores, bitmask) -> None:
    """``scores[i, t] = -inf`` where bit ``t`` of row ``i`` of ``bitmask`` (int32 words, llguidance's
    layout: token ``t`` is bit ``t % 32`` of word ``t // 32``) is 0; tokens past the mask are masked too.

    Plain PyTorch rather than ``llguidance.torch.apply_token_bitmask_inplace``: that one is a
    ``torch.compile``d kernel, and in the server it kept recompiling as the batch changed (measured
    with py-spy at 16 clients, each with a JSON schema: a third of the engine thread's time went to
    TorchDynamo, and tokens/s fell to half of the unconstrained run's)."""
    import torch

    rows, vocab = scores.shape
    bits = torch.arange(32, dtype=torch.int32, device=bitmask.device)
    allowed = ((bitmask.unsqueeze(-1) >> bits) & 1).reshape(bitmask.shape[0], -1).bool()
    if allowed.shape[1] < vocab:  # the model's vocabulary is larger than the tokenizer's
        scores[:, allowed.shape[1]:] = float("-inf")
    scores[:, : allowed.shape[1]].masked_fill_(~allowed[:rows, :vocab].to(scores.device), float("-inf"))
