"""The running batch: rows that join and leave between decoding steps, over one KV cache.

Every row of the batch is a request. The batch keeps, for all rows at once, transformers'
``DynamicCache`` (keys and values of shape ``[rows, heads, length, head_dim]`` per layer, with room
to grow: ``kvcache.py``), an
attention mask with the rows' prompts padded on the left, each row's next position and its last
token. Then:

- ``Batch.prefill(rows)`` runs the new rows' prompts (left-padded together) through the model and
  gives the logits of their first token; the start of a prompt that a recent prompt shared comes
  from the prefix cache instead (``prefix.py``);
- ``merge(other)`` puts two batches together: the shorter one's cache and mask get padding on the
  left, then both are concatenated along the batch dimension;
- ``decode()`` runs one step for every row: one token in, the logits of the next one out (through
  ``model(...)``, or the same arithmetic without transformers' overhead: ``decode.py``);
- ``keep(indices)`` drops the rows that ended (``batch_select_indices`` on the cache), then the
  columns that only padding still uses.

This is the design of TGI's Python server (``CausalLMBatch.concatenate`` and ``filter`` in
``server/text_generation_server/models/causal_lm.py``). It needs a cache whose layers are plain
``DynamicLayer`` (Llama, Qwen2, SmolLM2, Mistral without a sliding window...); ``Batch.supports``
says whether a model's is.
"""

from __future__ import annotations

from .events import Finished, Token, TopToken
from .prefix import PrefixCache
from .request import Request
from .sampling import Choice, RowState
from .text import Detokenizer, StopStrings


class Row:
    """One request in the batch: its sampling state, its text so far, and when it ends."""

    def __init__(self, request: Request, tokenizer, device, eos_ids: set[int], special_ids: set[int],
                 grammars=None) -> None:
        self.request = request
        constraint = request.params.constraint
        matcher = grammars.matcher(constraint) if constraint is not None and grammars is not None else None
        self.state = RowState(request.params, request.prompt_ids, device, matcher)
        self.tokenizer, self.eos_ids, self.special_ids = tokenizer, eos_ids, special_ids
        self.detokenizer = Detokenizer(tokenizer)
        self.stops = StopStrings(request.params.stop)
        self.ids: list[int] = []
        self.text = ""
        self.cached_tokens = 0  # prompt tokens taken from the prefix cache (``prefix.py``)

    def accept(self, choice: Choice, now: float) -> bool:
        """Hand the new token to the reader; True when the request ended with it."""
        piece = self.detokenizer.add(choice.id)
        self.ids.append(choice.id)
        before = len(self.text)
        self.text, stop = self.stops.check(self.text + piece, len(piece))
        piece = self.text[before:]  # cut just after a stop string, which may end inside this token
        top = tuple(TopToken(i, self.tokenizer.decode([i]), lp) for i, lp in choice.top)
        self.request.channel.put(Token(choice.id, piece, choice.logprob, choice.id in self.special_ids, top))
        if stop is not None:
            reason = "stop_sequence"
        elif choice.id in self.eos_ids:
            reason = "eos_token"
        elif len(self.ids) >= self.request.params.max_new_tokens:
            reason = "length"
        else:
            return False
        started = self.request.started or now
        self.request.finish(
            Finished(
                reason,
                self.text,
                tuple(self.ids),
                len(self.request.prompt_ids),
                started - self.request.enqueued,
                now - started,
                self.state.seed,
                stop,
                self.cached_tokens,
            )
        )
        return True


class Batch:
    """The rows being generated, with their KV cache; see the module docstring."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.cache = None
        self.mask = None  # [rows, length]: 1 for a real token, 0 for left padding
        self.positions = None  # [rows]: the position of each row's next token
        self.last = None  # [rows]: each row's last token, the next step's input
        # one request, computed alone since its prefill: generate()'s own bits (with DecodeStep)
        self.alone = True

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def supports(model) -> bool:
        """Whether the model's cache can be merged and cut like this (plain ``DynamicLayer`` layers)."""
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache(config=model.config)
        return all(type(layer) is DynamicLayer for layer in cache.layers)

    @classmethod
    def prefill(cls, model, rows: list[Row], pad_id: int, prefixes: PrefixCache | None = None):
        """A new batch of ``rows``, their prompts run through the model; returns it and the logits
        of each row's first token (``[rows, vocab]``).

        With ``prefixes``, the start of each prompt that a recent prompt shared is taken from there
        (``prefix.py``) and only the rest is computed; each prompt is then remembered. The cache
        holds the reused positions (right-aligned, ``reused`` columns), the computed ones after them
        (right-aligned, ``width`` columns); the mask marks padding and any gap between the two.
        """
        import torch

        from .kvcache import new_cache

        found = [prefixes.lookup(row.request.prompt_ids) if prefixes is not None else (0, None)
                 for row in rows]
        reused = max(n for n, _ in found)
        width = max(len(row.request.prompt_ids) - n for row, (n, _) in zip(rows, found, strict=True))
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), reused + width), dtype=torch.long)
        for i, (row, (n, _)) in enumerate(zip(rows, found, strict=True)):
            rest = row.request.prompt_ids[n:]
            ids[i, width - len(rest) :] = torch.tensor(rest)
            mask[i, reused - n : reused] = 1
            mask[i, reused + width - len(rest) :] = 1
            row.cached_tokens = n
        device = model.device
        ids, mask = ids.to(device), mask.to(device)
        batch = cls()
        batch.rows, batch.mask, batch.cache = list(rows), mask, new_cache(model)
        batch.alone = len(rows) == 1
        if reused:
            _fill(batch.cache, found, reused)
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0)[:, reused:],
            past_key_values=batch.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        batch.positions = mask.sum(-1)
        if prefixes is not None:
            batch._remember(prefixes)
        return batch, out.logits[:, -1]

    def _remember(self, prefixes: PrefixCache) -> None:
        """Give each row's prompt keys and values (its columns the mask marks) to ``prefixes``."""
        for i, row in enumerate(self.rows):
            if row.request.prompt_ids in prefixes:
                continue
            columns = self.mask[i].nonzero().squeeze(1)
            layers = [(layer.keys[i : i + 1, :, columns], layer.values[i : i + 1, :, columns])
                      for layer in self.cache.layers]
            prefixes.store(row.request.prompt_ids, layers)

    def decode(self, model, step=None):
        """One step for every row: returns the logits of each row's next token (``[rows, vocab]``).

        ``step``: a ``decode.DecodeStep`` for ``model``, faster; None: ``model(...)``. The same logits
        as ``model(...)``, but for rows that have shared a batch and no longer need padding: there
        ``DecodeStep`` keeps the faster attention of padded batches (``exact=False``, see
        ``decode.py``), as their answers already left ``generate()``'s rounding when they were padded.
        A ``compiled.CompiledStep`` (opt-in) rounds otherwise for one row, even one that ran alone.
        """
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
        if step is not None:
            logits = step(self.last, self.mask, self.positions, self.cache, exact=self.alone)
        else:
            logits = model(
                input_ids=self.last[:, None],
                attention_mask=self.mask,
                position_ids=self.positions[:, None],
                past_key_values=self.cache,
                use_cache=True,
            ).logits[:, -1]
        self.positions = self.positions + 1
        return logits

    def set_next(self, choices: list[Choice]) -> None:
        import torch

        self.last = torch.tensor([c.id for c in choices], dtype=torch.long, device=self.mask.device)

    def merge(self, other: Batch) -> None:
        """Add ``other``'s rows (their caches padded on the left to the same length)."""
        import torch

        if not other.rows:
            return
        if not self.rows:
            self.__dict__.update(other.__dict__)
            return
        mine, theirs = self.mask.shape[1], other.mask.shape[1]
        length = max(mine, theirs)
        for a, b in zip(self.cache.layers, other.cache.layers, strict=True):
            a.keys = torch.cat([_pad_left(a.keys, length - mine, 2), _pad_left(b.keys, length - theirs, 2)])
            a.values = torch.cat(
                [_pad_left(a.values, length - mine, 2), _pad_left(b.values, length - theirs, 2)]
            )
        self.mask = torch.cat(
            [_pad_left(self.mask, length - mine, 1), _pad_left(other.mask, length - theirs, 1)]
        )
        self.positions = torch.cat([self.positions, other.positions])
        self.last = torch.cat([self.last, other.last])
        self.rows += other.rows
        self.alone = False

    def keep(self, indices: list[int]) -> None:
        """Keep only the rows at ``indices``; then drop the columns where every row has padding."""
        import torch

        if len(indices) == len(self.rows):
            return
        if not indices:
            self.__init__()
            return
        index = torch.tensor(indices, device=self.mask.device)
        mask = self.mask[index]
        first = int(mask.any(dim=0).nonzero()[0])  # the first column a remaining row still uses
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, first:]
            layer.values = layer.values[index, :, first:]
        self.mask = mask[:, first:]
        self.positions = self.positions[index]
        self.last = None if self.last is None else self.last[index]
        self.rows = [self.rows[i] for i in indices]


def _fill(cache, found, reused: int) -> None:
    """Put the reused keys and values in ``cache``: ``reused`` columns, each row's right-aligned."""
    layers = next(kv for n, kv in found if n)
    for index, (keys, values) in enumerate(layers):
        shape = (len(found), keys.shape[1], reused, keys.shape[3])
        all_keys, all_values = keys.new_zeros(shape), values.new_zeros(shape[:3] + (values.shape[3],))
        for row, (n, kv) in enumerate(found):
            if n:
                all_keys[row, :, reused - n :] = kv[index][0][0]
                all_values[row, :, reused - n :] = kv[index][1][0]
        cache.update(all_keys, all_values, index)


def _pad_left(tensor, n: int, dim: int):
    if n == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = n
    import torch

    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)
