"""The prefix cache: which cached prompt a new one shares most with, how much, and what is dropped
(course_utils/server/prefix.py). How the batch uses it: tests/test_server_step.py."""

import pytest
import torch

from course_utils.server.prefix import PrefixCache


def layers(ids, n_layers=2):
    """Fake keys and values ``[1, 1, len, 1]`` whose entries are the tokens, so slices can be read."""
    t = torch.tensor(ids, dtype=torch.float32).view(1, 1, -1, 1)
    return [(t + layer, -t - layer) for layer in range(n_layers)]


def test_lookup_finds_the_longest_shared_start_and_its_keys_and_values():
    cache = PrefixCache(100)
    cache.store([1, 2, 3, 4, 5], layers([1, 2, 3, 4, 5]))
    cache.store([1, 2, 9, 9], layers([1, 2, 9, 9]))
    n, found = cache.lookup([1, 2, 3, 7, 7, 7])
    assert n == 3
    assert len(found) == 2
    assert found[0][0].flatten().tolist() == [1, 2, 3] and found[1][1].flatten().tolist() == [-2, -3, -4]


def test_the_last_prompt_token_is_always_computed():
    cache = PrefixCache(100)
    cache.store([1, 2, 3], layers([1, 2, 3]))
    assert cache.lookup([1, 2, 3])[0] == 2, "the same prompt again: all but its last token"
    assert cache.lookup([1, 2])[0] == 1
    assert cache.lookup([1]) == (0, None), "a one-token prompt has nothing to reuse"


def test_nothing_shared_gives_nothing():
    cache = PrefixCache(100)
    assert cache.lookup([5, 6]) == (0, None), "empty cache"
    cache.store([1, 2, 3], layers([1, 2, 3]))
    assert cache.lookup([2, 1, 3]) == (0, None)


def test_counts_tokens_looked_up_and_found():
    cache = PrefixCache(100)
    cache.store([1, 2, 3, 4], layers([1, 2, 3, 4]))
    cache.lookup([1, 2, 8])
    cache.lookup([7, 7, 7, 7])
    assert (cache.queried, cache.hits) == (7, 2)


def test_least_recently_used_prompts_leave_first_when_full():
    cache = PrefixCache(10)
    cache.store([1, 1, 1, 1], layers([1, 1, 1, 1]))
    cache.store([2, 2, 2, 2], layers([2, 2, 2, 2]))
    cache.lookup([1, 1, 5])  # uses the first: now the second is the least recently used
    cache.store([3, 3, 3, 3], layers([3, 3, 3, 3]))
    assert [1, 1, 1, 1] in cache and [3, 3, 3, 3] in cache and [2, 2, 2, 2] not in cache
    assert cache.tokens == 8 and len(cache) == 2


def test_a_prompt_stored_twice_is_held_once_and_one_too_long_not_at_all():
    cache = PrefixCache(6)
    cache.store([1, 2, 3], layers([1, 2, 3]))
    cache.store([1, 2, 3], layers([1, 2, 3]))
    assert cache.tokens == 3 and len(cache) == 1
    cache.store(list(range(7)), layers(list(range(7))))
    assert cache.tokens == 3 and len(cache) == 1, "a prompt longer than the whole cache is not kept"


def test_a_cache_of_no_room_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match="do not make a PrefixCache"):
        PrefixCache(0)
