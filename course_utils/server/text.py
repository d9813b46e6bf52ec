"""Token ids to text, one token at a time, and stop strings.

``Detokenizer`` turns a row's new token into the text it adds, without decoding the whole answer
again at every step, and without cutting a character in half: a byte-level tokenizer may spread
one character (an emoji, an accented letter) over several tokens, and decoding the first of them
alone gives "\\ufffd". The method is TGI's (``decode_token`` in its Python server): decode the
last few tokens with and without the new one, and hand out the difference once it is whole.

``StopStrings`` finds a stop string in the text as it grows, also one spread over several tokens.
``held_back`` says how much of the end of a text could still become a stop string: the OpenAI
stream waits with those characters, because OpenAI's answers leave the stop string out.
"""

from __future__ import annotations


class Detokenizer:
    """The text each new token adds to an answer (special tokens such as end-of-sequence add "")."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0  # decoding starts here: a few tokens of context
        self.read_offset = 0  # text up to here has been handed out

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix_offset:self.read_offset], skip_special_tokens=True)
        after = decode(self.ids[self.prefix_offset:], skip_special_tokens=True)
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
            return after[len(before):]
        return ""


class StopStrings:
    """Watches a growing text for any of ``stops``; ``check`` returns the text cut after the first."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = list(stops)
        self.longest = max((len(s) for s in self.stops), default=0)

    def check(self, text: str, new: int) -> tuple[str, str | None]:
        """``text`` ends with ``new`` new characters. Returns (text, stop) with the text cut just after
        the earliest stop string found in the new part, or (text, None)."""
        if not self.stops:
            return text, None
        start = max(0, len(text) - new - self.longest + 1)  # a stop may begin in earlier text
        found = [(text.find(s, start), s) for s in self.stops]
        found = [(at + len(s), s) for at, s in found if at >= 0]
        if not found:
            return text, None
        end, stop = min(found)
        return text[:end], stop


def held_back(text: str, stops: list[str]) -> int:
    """How many characters at the end of ``text`` could be the beginning of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop), len(text)), 0, -1):
            if stop.startswith(text[-n:]):
                longest = max(longest, n)
                break
    return longest
