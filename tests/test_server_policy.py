"""The batching policy, without a model (course_utils/server/policy.py)."""

import dataclasses

from course_utils.server.policy import StaticPolicy, StepPolicy, Waiting, compatibility_key, tokens_needed
from course_utils.server.sampling import PER_ROW, SamplingParams


@dataclasses.dataclass(eq=False)
class Entry:
    prompt_ids: list
    params: SamplingParams
    enqueued: float = 0.0


def entry(prompt=10, new=16, at=0.0, **settings):
    return Entry(list(range(prompt)), SamplingParams(max_new_tokens=new, **settings), at)


def test_tokens_needed_counts_the_prompt_and_the_budget():
    assert tokens_needed(entry(prompt=7, new=5)) == 12


def test_requests_join_oldest_first_up_to_the_batch_size():
    waiting = Waiting([entry(at=i) for i in range(5)])
    first = list(waiting)
    running = [entry(), entry()]
    joined = StepPolicy(max_batch_size=4).admit(waiting, running, now=1.0)
    assert joined == first[:2], "room for two: the two oldest join"
    assert list(waiting) == first[2:]
    assert StepPolicy(max_batch_size=2).admit(waiting, running, now=1.0) == []


def test_the_prefill_budget_counts_padded_prompts_and_nobody_overtakes():
    waiting = Waiting([entry(prompt=10), entry(prompt=30), entry(prompt=5)])
    first = list(waiting)
    # 10 and 30 padded to 30 each: 60 tokens > 50, so only the first joins; the third must not overtake
    assert StepPolicy(max_prefill_tokens=50).admit(waiting, [entry()], now=0) == first[:1]
    assert list(waiting) == first[1:]


def test_a_request_alone_always_starts_even_beyond_the_budgets():
    waiting = Waiting([entry(prompt=100, new=100)])
    policy = StepPolicy(max_prefill_tokens=10, max_batch_tokens=50)
    assert len(policy.admit(waiting, [], now=0)) == 1
    waiting = Waiting([entry(prompt=100, new=100)])
    assert policy.admit(waiting, [entry(prompt=1, new=1)], now=0) == [], "it waits while others run"


def test_the_batch_token_budget_includes_the_running_rows():
    running = [entry(prompt=10, new=20)]  # 30 tokens
    waiting = Waiting([entry(prompt=10, new=20), entry(prompt=10, new=20)])
    assert len(StepPolicy(max_batch_tokens=70).admit(waiting, running, now=0)) == 1
    assert len(waiting) == 1


def test_compatibility_is_derived_from_the_fields():
    greedy, hot = SamplingParams(temperature=None), SamplingParams(temperature=0.7, do_sample=True)
    assert compatibility_key(greedy, PER_ROW) == compatibility_key(hot, PER_ROW), (
        "the sampler varies these per row"
    )
    assert compatibility_key(greedy, frozenset()) != compatibility_key(hot, frozenset())

    @dataclasses.dataclass
    class Future(SamplingParams):  # a field added later, which the sampler does not know
        watermark: bool = False

    assert compatibility_key(Future(watermark=True), PER_ROW) != compatibility_key(Future(), PER_ROW)


def test_every_sampling_field_is_applied_per_row_or_keeps_batches_apart():
    fields = {f.name for f in dataclasses.fields(SamplingParams)}
    assert fields <= PER_ROW, (
        f"the sampler does not apply {fields - PER_ROW} per row: say so in PER_ROW or "
        "let compatibility_key keep such requests apart"
    )


def test_incompatible_requests_wait_for_a_batch_of_their_own(monkeypatch):
    waiting = Waiting(
        [entry(temperature=0.5, do_sample=True), entry(), entry(temperature=0.5, do_sample=True)]
    )
    first = list(waiting)
    policy = StepPolicy(per_row=frozenset())  # as if the sampler varied nothing per row
    assert policy.admit(waiting, [], now=0) == [first[0], first[2]]
    assert list(waiting) == [first[1]]


def test_static_waits_for_a_full_batch_or_max_wait_and_never_joins_a_running_one():
    policy = StaticPolicy(max_batch_size=3, max_wait=0.05)
    waiting = Waiting([entry(at=1.0), entry(at=1.01)])
    assert policy.admit(waiting, [], now=1.02) == [], "not full, not waited long enough"
    assert abs(policy.wake_in(waiting, [], now=1.02) - 0.03) < 1e-9
    assert len(policy.admit(waiting, [], now=1.06)) == 2, "the oldest waited max_wait"
    waiting = Waiting([entry(at=1.0) for _ in range(4)])
    assert len(policy.admit(waiting, [], now=1.0)) == 3, "a full batch starts at once"
    assert policy.admit(waiting, [entry()], now=9.0) == [], "nobody joins a running batch"
    assert policy.wake_in(waiting, [entry()], now=9.0) is None


def test_step_policy_never_needs_a_timer():
    assert StepPolicy().wake_in(Waiting([entry()]), [], now=0) is None


def test_waiting_removes_cancelled_entries_in_order():
    entries = [entry(at=i) for i in range(4)]
    waiting = Waiting(entries)
    gone = waiting.remove_if(lambda e: e.enqueued in (1, 3))
    assert gone == [entries[1], entries[3]] and list(waiting) == [entries[0], entries[2]]
