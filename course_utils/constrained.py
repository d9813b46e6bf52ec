"""Constrained decoding in ``generate()`` (lesson 08): the vocabulary as text, and a grammar engine's
mask as a logits processor.

Lesson 08's learners build the mechanism themselves (a mask from an automaton, a logits processor
that applies it at every step). What they reuse is here:

- ``token_texts(tokenizer)``: each token's text, the alphabet an automaton reads;
- ``GrammarProcessor``: the same mechanism with llguidance (full JSON Schema, regular expressions,
  Lark grammars), through the course server's ``course_utils.server.grammar``, so that the lesson
  and the server mask with one engine. transformers has no grammar-constrained logits processor of
  its own, and llguidance's helpers fill a bitmask but do not plug into ``generate()``: these forty
  lines are the plug.
"""

from __future__ import annotations

import time

__all__ = ["GrammarProcessor", "token_texts"]


def token_texts(tokenizer) -> list[str | None]:
    """The text each token id adds to a decoded answer, or None for a token an automaton must never
    allow: a special token (``<|im_end|>``, ...), a token with no text, and a token that is only part
    of a character (a byte-level BPE token holding some of the UTF-8 bytes of, say, an emoji decodes
    to ``"\\ufffd"`` alone). Byte-level BPE (SmolLM2's) decodes a sequence to the concatenation of
    its tokens' texts, so an automaton fed these texts reads exactly the answer's characters."""
    special = set(tokenizer.all_special_ids)
    texts: list[str | None] = []
    for token_id in range(len(tokenizer)):
        text = None if token_id in special else tokenizer.decode([token_id])
        texts.append(text if text and "\ufffd" not in text else None)
    return texts


class GrammarProcessor:
    """A ``transformers`` logits processor that holds every row of a ``generate()`` call to one
    constraint (``course_utils.server.grammar.Constraint``: a JSON Schema, a regular expression or
    a Lark grammar), with llguidance.

    Use one per ``generate()`` call: the first call sees only the prompts (left-padded to one
    length), and from then on each row's new token is given to that row's matcher before its next
    mask is filled. A row whose grammar is complete, or that has produced the end token, may only
    produce the end token. ``seconds`` and ``calls`` add up the time spent masking."""

    def __init__(self, grammars, constraint, eos_id: int) -> None:
        self.grammars, self.constraint, self.eos_id = grammars, constraint, eos_id
        self.grammar = grammars.check(constraint)  # an invalid constraint fails here, not mid-batch
        self.matchers: list = []
        self.finished: list[bool] = []
        self.seconds, self.calls = 0.0, 0

    def __call__(self, input_ids, scores):
        import llguidance.torch

        from .server.grammar import Matcher, apply_bitmask

        if scores.is_cuda:
            import torch

            torch.cuda.synchronize()  # the forward pass still queued on the GPU is not the mask's time
        started = time.perf_counter()
        if not self.matchers:  # the first step: nothing generated yet
            self.matchers = [Matcher(self.grammars, self.grammar) for _ in range(input_ids.shape[0])]
            self.finished = [False] * input_ids.shape[0]
        else:
            for row, token in enumerate(input_ids[:, -1].tolist()):
                if self.finished[row] or token == self.eos_id:
                    self.finished[row] = True
                else:
                    self.matchers[row].accept(token)
        vocab_size = self.matchers[0].tokenizer.vocab_size
        bitmask = llguidance.torch.allocate_token_bitmask(scores.shape[0], vocab_size)
        for row, matcher in enumerate(self.matchers):
            if not (self.finished[row] or matcher.done):
                matcher.fill(bitmask, row)
        scores = scores.clone()
        apply_bitmask(scores, bitmask)
        for row, matcher in enumerate(self.matchers):
            if self.finished[row] or matcher.done:  # only the end token
                end = scores[row, self.eos_id].clone()
                scores[row] = float("-inf")
                scores[row, self.eos_id] = end if end > float("-inf") else 0.0
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return scores
