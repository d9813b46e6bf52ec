"""The load generator and the benchmark (course_utils/bench/): what they count, against live servers."""

import time
import json

import pytest

from course_utils.server import BackgroundServer, Engine, create_app


@pytest.fixture(scope="module")
def batching_engine(tiny_dir):
    engine = Engine(str(tiny_dir), max_batch_size=4, max_concurrent_requests=16)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def live(batching_engine):
    with BackgroundServer(create_app(batching_engine)) as server:
        yield server.url


# ---------------------------------------------------------------- the load benchmark
def test_percentile():
    from course_utils.bench.loadtest import percentile

    assert percentile([], 50) is None and percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert 4.0 < percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) <= 5.0


@pytest.mark.parametrize("api", ["openai", "tgi"])
def test_loadtest_counts_requests_and_tokens(live, api):
    import asyncio

    from course_utils.bench.loadtest import run

    report = asyncio.run(run(live, clients=3, duration=1.5, max_tokens=4, api=api))
    assert report.requests >= 3 and report.errors == 0
    assert 0 < report.generated_tokens <= 4 * report.requests
    assert report.tokens_per_s > 0 and report.ttft_p50_s <= report.latency_p50_s
    assert report.latency_p50_s <= report.latency_p95_s


def test_loadtest_cli_writes_json_and_counts_errors(live, tmp_path, unused_port):
    from course_utils.bench.loadtest import main

    out = tmp_path / "report.json"
    assert main(["--url", live, "--clients", "2", "--duration", "1", "--max-tokens", "3",
                 "--json", str(out)]) == 0
    numbers = json.loads(out.read_text())
    assert numbers["clients"] == 2 and numbers["errors"] == 0 and numbers["requests"] >= 2
    # a server that is not there: every request fails, and the CLI says so
    dead = f"http://127.0.0.1:{unused_port}"
    assert main(["--url", dead, "--clients", "1", "--duration", "0.3"]) == 1


@pytest.fixture
def unused_port():
    from course_utils.server import free_port

    return free_port()  # nothing listens there


def test_loadtest_against_the_naive_server(batching_engine):
    import asyncio

    from course_utils.bench.loadtest import run
    from course_utils.server import create_naive_app

    with BackgroundServer(create_naive_app(batching_engine)) as server:
        report = asyncio.run(run(server.url, clients=2, duration=1.0, max_tokens=3, api="naive",
                                 count_tokens=lambda text: len(text.split())))
    assert report.requests >= 2 and report.errors == 0
    assert report.ttft_p50_s == report.latency_p50_s  # no stream: the first token comes with the rest


def test_benchmark_commands():
    from course_utils.bench.benchmark import server_command

    command, api = server_command("reference-8", "/m", "bfloat16", 9000)
    assert command[-2:] == ["--max-batch-size", "8"] and api == "openai" and "--scheduler" not in command
    command, api = server_command("reference-static-8", "/m", "bfloat16", 9000)
    assert command[-4:] == ["--scheduler", "static", "--max-batch-size", "8"] and api == "openai"
    command, api = server_command("reference-compiled-16", "/m", "bfloat16", 9000)
    assert command[-3:] == ["--max-batch-size", "16", "--compile-decode"] and api == "openai"
    assert server_command("naive", "/m", "bfloat16", 9000) == (
        [*server_command("reference-1", "/m", "bfloat16", 9000)[0][:-2], "--naive"], "naive")
    assert "--continuous-batching" in server_command("transformers-cb", "/m", "bfloat16", 9000)[0]
    assert server_command("vllm", "/m", "bfloat16", 9000) == (["vllm", "--dtype", "bfloat16"], "openai")
    with pytest.raises(ValueError, match="unknown server"):
        server_command("tgi", "/m", "bfloat16", 9000)


def test_benchmark_compares_real_servers(tiny_dir):
    from course_utils.bench.benchmark import compare
    from course_utils.bench.loadtest import open_loop_schedule

    printed, arrivals = [], len(open_loop_schedule(6, 0.5, "2:4", seed=1))
    assert arrivals == 4
    rows = compare(["naive", "reference-2"], clients=[2], duration=0.5, max_tokens=3, model=str(tiny_dir),
                   progress=printed.append, rates=[6], seed=1, open_max_tokens="2:4", threads=1)
    # the thread count each server was given, from its /info where it has one (naive: as given)
    assert {row["threads"] for row in rows} == {"1"}
    assert [(row["server"], row["scenario"]) for row in rows] == [
        ("naive", "closed 2 clients, 3 tok"), ("naive", "open 6 req/s, 2:4 tok"),
        ("reference-2", "closed 2 clients, 3 tok"), ("reference-2", "open 6 req/s, 2:4 tok")]
    for row in rows:
        assert row["errors"] == 0 and row["refused"] == 0 and row["tokens_per_s"] > 0, row
        assert row["stalled"] is False and row["ttft_p95_s"] is not None, row
        assert row["requests"] == arrivals if row["mode"] == "open" else row["requests"] >= 2, row
        assert row["runs"] == 1 and row["tokens_per_s_low"] == row["tokens_per_s"] == row["tokens_per_s_high"]
    assert len(printed) == 5 and all("tok/s" in line for line in printed[1:])


def test_benchmark_table_shows_a_stalled_server():
    from course_utils.bench.benchmark import format_table

    base = {"server": "reference-static-8", "requests": 5, "refused": 1, "errors": 0, "tokens_per_s": 42.0,
            "latency_p50_s": 1.0, "latency_p95_s": 2.0, "ttft_p95_s": None, "longest_gap_s": 12.34}
    rows = [{**base, "scenario": "open 4 req/s", "stalled": True},
            {**base, "scenario": "closed 4 clients", "stalled": False}]
    stalled, fine = format_table(rows).splitlines()[1:]
    assert "STALLED (no token for 12.3 s)" in stalled and "tok/s" not in stalled and "42.0" not in stalled
    assert "STALLED" not in fine and "42.0 tok/s" in fine and "refused   1" in fine
    repeated = format_table([{**base, "scenario": "closed 4 clients", "stalled": False, "runs": 3,
                              "tokens_per_s_low": 40.5, "tokens_per_s_high": 47.25}]).splitlines()[1]
    assert "42.0 tok/s (40.5-47.2, 3 runs)" in repeated  # the median with the lowest and highest


# ---------------------------------------------------------------- open loop, budgets, 429s, stalls
def recording(app, bodies: list):
    """``app`` behind an ASGI wrapper that keeps the JSON body of every chat completion request."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/v1/chat/completions":
            return await app(scope, receive, send)
        chunks = []

        async def receive_and_keep():
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    bodies.append(json.loads(b"".join(chunks)))
            return message

        return await app(scope, receive_and_keep, send)

    return wrapped


def stalling_app(pause: float):
    """An OpenAI-style server that streams one token, sends nothing for ``pause`` seconds, then ends."""
    import asyncio

    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat():
        async def events():
            yield 'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'
            await asyncio.sleep(pause)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def stalling():
    with BackgroundServer(stalling_app(1.0)) as server:  # 1 s without a token in every reply
        yield server.url


def test_open_loop_schedule_is_seeded_poisson():
    from course_utils.bench.loadtest import open_loop_schedule

    schedule = open_loop_schedule(50, 20, (16, 256), seed=0)
    times, budgets = [at for at, _ in schedule], [b for _, b in schedule]
    assert schedule == open_loop_schedule(50, 20, "16:256", seed=0)  # seeded: the same run again
    assert schedule != open_loop_schedule(50, 20, (16, 256), seed=1)
    assert times == sorted(times) and 0 < times[0] and times[-1] < 20
    assert 1000 - 5 * 32 < len(schedule) < 1000 + 5 * 32  # Poisson: mean 50 x 20, sd sqrt(1000)
    gaps = [b - a for a, b in zip([0.0, *times], times)]
    assert 0.017 < sum(gaps) / len(gaps) < 0.023  # exponential waits, mean 1/50
    assert min(budgets) >= 16 and max(budgets) <= 256 and len(set(budgets)) > 50  # uniform, mixed
    assert {b for _, b in open_loop_schedule(50, 2, 7)} == {7}


def test_open_loop_sends_the_schedule_with_drawn_budgets(batching_engine):
    import asyncio

    from course_utils.bench.loadtest import open_loop_schedule, run

    schedule = open_loop_schedule(8, 1.0, "2:6", seed=3)
    budgets = sorted(b for _, b in schedule)
    assert len(schedule) == 11 and budgets[0] < budgets[-1]  # seed 3 gives 11 arrivals, mixed budgets
    bodies = []
    with BackgroundServer(recording(create_app(batching_engine), bodies)) as server:
        report = asyncio.run(run(server.url, None, 1.0, "2:6", rate=8, seed=3))
    assert report.requests == len(schedule) == len(bodies)
    assert sorted(body["max_tokens"] for body in bodies) == budgets
    assert report.mode == "open" and report.offered_rate == 8 and report.clients is None
    assert report.errors == report.refused == 0 and report.max_tokens == "2:6"
    assert 0 < report.generated_tokens <= sum(budgets) and report.ttft_p95_s is not None
    assert report.stalled is False and 0 < report.longest_gap_s < report.stall_seconds


def test_closed_loop_draws_budgets_too(batching_engine):
    import asyncio

    from course_utils.bench.loadtest import run

    bodies = []
    with BackgroundServer(recording(create_app(batching_engine), bodies)) as server:
        report = asyncio.run(run(server.url, 2, 1.0, (1, 3), system="Answer in French."))
    assert report.requests == len(bodies) >= 4 and report.mode == "closed" and report.offered_rate is None
    # every request starts with the same system message (what a prefix cache can reuse)
    assert all(body["messages"][0] == {"role": "system", "content": "Answer in French."}
               and body["messages"][1]["role"] == "user" for body in bodies)
    assert {body["max_tokens"] for body in bodies} <= {1, 2, 3} and report.errors == 0
    assert len({body["max_tokens"] for body in bodies}) > 1


def test_a_system_message_is_refused_for_apis_without_messages():
    import asyncio

    from course_utils.bench.loadtest import run

    with pytest.raises(ValueError, match="OpenAI API only"):
        asyncio.run(run("http://127.0.0.1:9", 1, 0.1, 4, api="tgi", system="Be brief."))


def test_requests_refused_with_429_are_counted_apart(tiny_dir):
    import asyncio

    from course_utils.bench.loadtest import run

    engine = Engine(str(tiny_dir), max_batch_size=1, max_concurrent_requests=1)
    try:
        with BackgroundServer(create_app(engine)) as server:
            report = asyncio.run(run(server.url, None, 0.5, 32, rate=100))  # ~50 requests, one at a time
    finally:
        engine.close()
    answered = round(report.requests_per_s * report.elapsed_s)
    assert report.refused >= 5 and report.errors == 0 and "429" not in report.error_kinds, report
    assert answered >= 1 and answered + report.refused == report.requests
    assert "refused %d" % report.refused in report.lines()[1]


def test_open_loop_does_not_wait_for_earlier_requests(stalling):
    import asyncio

    from course_utils.bench.loadtest import open_loop_schedule, run

    assert len(open_loop_schedule(8, 0.5, 4, seed=3)) == 7
    report = asyncio.run(run(stalling, None, 0.5, 4, rate=8, seed=3, stall_seconds=5))
    assert report.requests == 7 and report.errors == 0 and report.generated_tokens == 7
    assert report.elapsed_s < 2.5  # one after the other would take at least 7 s
    assert report.latency_p50_s >= 0.9 and report.ttft_p95_s < 0.5


def test_a_stalled_server_is_reported_and_fails_the_cli(stalling, tmp_path, capsys):
    from course_utils.bench.loadtest import main

    out = tmp_path / "stalled.json"
    args = ["--url", stalling, "--clients", "1", "--duration", "0.2", "--json", str(out)]
    assert main([*args, "--stall-seconds", "0.5"]) == 1
    numbers = json.loads(out.read_text())
    assert numbers["stalled"] is True and 0.9 <= numbers["longest_gap_s"] < 2.0, numbers
    assert numbers["errors"] == numbers["refused"] == 0 and numbers["requests"] == 1
    assert "STALLED: no token for 1.0 s" in capsys.readouterr().out
    assert main([*args, "--stall-seconds", "5"]) == 0  # the same gap, under the threshold: fine
    numbers = json.loads(out.read_text())
    assert numbers["stalled"] is False and 0.9 <= numbers["longest_gap_s"] < 2.0, numbers


def test_requests_still_running_after_the_timeout_are_errors(stalling):
    import asyncio

    from course_utils.bench.loadtest import run

    report = asyncio.run(run(stalling, 1, 0.1, 4, timeout=0.3))
    assert report.requests == 1 and report.errors == 1 and report.error_kinds == {"timeout": 1}
    assert report.elapsed_s < 0.8 and report.generated_tokens == 0


@pytest.mark.parametrize("bad, message", [
    (["--max-tokens", "5:2"], "LO:HI"), (["--max-tokens", "abc"], "LO:HI"), (["--max-tokens", "0"], "N >= 1"),
    (["--rate", "2", "--clients", "3"], "not allowed with"), (["--rate", "0"], "above 0")])
def test_cli_refuses_bad_arguments(bad, message, capsys):
    from course_utils.bench import benchmark, loadtest

    with pytest.raises(SystemExit) as exited:
        loadtest.main(["--url", "http://127.0.0.1:9", *bad])
    assert exited.value.code == 2 and message in capsys.readouterr().err
    if bad[0] == "--max-tokens":
        with pytest.raises(SystemExit):
            benchmark.main(["--servers", "naive", *bad])
        assert message in capsys.readouterr().err
    assert loadtest.parse_max_tokens("16:256") == (16, 256) and loadtest.parse_max_tokens("8") == (8, 8)


def test_cache_benchmark_times_both_caches_on_a_model(tiny_dir, capsys):
    import re

    from course_utils.bench.cache import main

    assert main(["--model", str(tiny_dir), "--rows", "2", "--steps", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    step = re.search(r"decoding step, 2 rows after 70 tokens: DynamicCache ([\d.]+) ms \(.*2 runs\), "
                     r"GrowingLayer ([\d.]+) ms \(.*2 runs\): [\d.]+x", out)
    prefill = re.search(r"prompts of up to (\d+) tokens: all computed ([\d.]+) s \(1 run\), "
                        r"the first (\d+) tokens of each from the prefix cache ([\d.]+) s \(1 run\)", out)
    assert step and prefill, out
    length, shared = int(prefill[1]), int(prefill[3])
    assert 0 < shared < length, "the chat template's start is reused, the question is not"


# ---------------------------------------------------------------- remembered measurements
def test_remembered_measures_once_per_key_and_says_when(tmp_path, monkeypatch):
    from course_utils.bench.remember import remembered

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    calls = []

    def measure():
        calls.append(1)
        return [{"config": "a", "tokens_per_s": 10.0 * len(calls)}]

    rows, when = remembered("tune", {"configs": ["a"]}, measure)
    assert when == "now" and rows == [{"config": "a", "tokens_per_s": 10.0}]
    again, when = remembered("tune", {"configs": ["a"]}, measure)
    assert again == rows and when.endswith("UTC") and len(calls) == 1
    other, when = remembered("tune", {"configs": ["b"]}, measure)  # another key: measured
    assert when == "now" and other[0]["tokens_per_s"] == 20.0
    fresh, when = remembered("tune", {"configs": ["a"]}, measure, fresh=True)
    assert when == "now" and fresh[0]["tokens_per_s"] == 30.0 and len(calls) == 3
    for kept in (tmp_path / "measurements").glob("tune-*.json"):
        kept.write_text("{not json")  # unreadable: measured again, not an error
    assert remembered("tune", {"configs": ["a"]}, measure)[1] == "now" and len(calls) == 4
    # COURSE_REMEMBER_SINCE: kept rows from before it are measured again, later ones reused
    monkeypatch.setenv("COURSE_REMEMBER_SINCE", str(time.time() + 60))
    assert remembered("tune", {"configs": ["a"]}, measure)[1] == "now" and len(calls) == 5
    monkeypatch.setenv("COURSE_REMEMBER_SINCE", str(time.time() - 60))
    assert remembered("tune", {"configs": ["a"]}, measure)[0][0]["tokens_per_s"] == 50.0 and len(calls) == 5


def test_remembered_async_awaits_the_measurement_once(tmp_path, monkeypatch):
    import asyncio

    from course_utils.bench.remember import remembered, remembered_async

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    calls = []

    async def measure():
        await asyncio.sleep(0)
        calls.append(1)
        return [{"clients": 16, "tokens_per_s": 5.0 * len(calls)}]

    rows, when = asyncio.run(remembered_async("load", {"n": 16}, measure))
    assert when == "now" and rows == [{"clients": 16, "tokens_per_s": 5.0}]
    assert asyncio.run(remembered_async("load", {"n": 16}, measure))[0] == rows and len(calls) == 1
    assert remembered("load", {"n": 16}, lambda: 1 / 0)[0] == rows  # the same store, sync or not
    assert asyncio.run(remembered_async("load", {"n": 16}, measure, fresh=True))[0][0]["tokens_per_s"] == 10.0


def test_grammar_costs_are_measured_along_valid_answers(tiny_dir):
    """bench.grammars walks a valid answer to each schema through the server's matcher: every
    token is accepted (the schema's key order is the answer's), and each step has a mask time."""
    from transformers import AutoTokenizer

    from course_utils.bench.grammars import SCHEMAS, measure_llguidance

    rows = measure_llguidance(AutoTokenizer.from_pretrained(tiny_dir))
    assert [r["schema"] for r in rows] == list(SCHEMAS)
    for row in rows:
        assert row["answer_accepted"] and row["steps"] > 2, row
        assert 0 < row["mask_ms_median"] <= row["mask_ms_max"] and row["compile_ms"] > 0, row


def test_repeated_runs_give_medians_and_keep_every_error():
    from course_utils.bench.benchmark import _median_row
    from course_utils.bench.loadtest import Report

    def report(speed, p95, errors=0, stalled=False, ttft=None):
        return Report("u", "openai", 16, 30, 64, requests=10, errors=errors, tokens_per_s=speed,
                      latency_p50_s=p95 / 2, latency_p95_s=p95, ttft_p95_s=ttft, stalled=stalled)

    row = _median_row([report(300.0, 9.0), report(400.0, 5.0, errors=1, ttft=0.2),
                       report(350.0, 7.0, stalled=True)])
    assert (row["tokens_per_s"], row["tokens_per_s_low"], row["tokens_per_s_high"]) == (350.0, 300.0, 400.0)
    assert row["latency_p95_s"] == 7.0 and row["latency_p50_s"] == 3.5  # each figure's own median
    assert row["ttft_p95_s"] == 0.2  # only the runs that measured it
    assert row["errors"] == 1 and row["stalled"] is True and row["runs"] == 3 and row["clients"] == 16


def test_bandwidth_ceiling_counts_the_weights_and_rates_one_stream(tiny_dir):
    from transformers import AutoModelForCausalLM

    from course_utils.bench.benchmark import bandwidth_ceiling, ceiling_lines

    ceiling = bandwidth_ceiling(str(tiny_dir), "bfloat16", threads=1, gib=0.01)
    params = AutoModelForCausalLM.from_pretrained(tiny_dir).num_parameters()  # tied weights once
    assert ceiling["weight_bytes"] == 2 * params and ceiling["threads"] == 1
    assert ceiling["read_gb_s"] > 0.1 and ceiling["ceiling_tok_s"] == pytest.approx(
        ceiling["read_gb_s"] * 1e9 / ceiling["weight_bytes"])
    row = {"server": "s", "mode": "closed", "clients": 1, "stalled": False,
           "tokens_per_s": ceiling["ceiling_tok_s"] / 4}
    lines = ceiling_lines([row, {**row, "clients": 16}], ceiling)
    assert len(lines) == 2 and "25% of the ceiling" in lines[1]


def test_each_one_client_row_gets_the_bandwidth_measured_before_its_runs(monkeypatch):
    from course_utils.bench import benchmark
    from course_utils.bench.loadtest import Report

    calls, reads = [], iter([30.0, 20.0, 40.0, 99.0])

    def read():
        calls.append("read")
        return next(reads)

    async def fake_run(url, clients, duration, max_tokens=64, api="openai", rate=None, **options):
        calls.append((clients, rate))
        return Report(url, api, clients, duration, 64, requests=3, tokens_per_s=60.0, latency_p50_s=1.0,
                      latency_p95_s=1.0, ttft_p95_s=0.1, mode="open" if rate else "closed", offered_rate=rate)

    monkeypatch.setattr(benchmark, "run", fake_run)
    monkeypatch.setattr(benchmark, "IDLE_BEFORE_READ_S", 0.0)
    loads = [(1, None, 64), (16, None, 64), (1, 0.5, 64)]
    rows = benchmark._measure("s", "u", "openai", "bfloat16", loads, 1.0,
                              {"model": "m", "count_tokens": None}, None, runs=3, read=read)
    assert calls.count((1, None)) == 4, "a warm-up and three runs of one client"
    assert all(calls[i + 1] == (1, None) for i, call in enumerate(calls) if call == "read"), (
        f"each read right before a run of one client: {calls}")
    assert calls.count("read") == 3
    assert rows[0]["read_gb_s"] == 30.0, "the median of the three reads before its runs"
    assert "read_gb_s" not in rows[1] and "read_gb_s" not in rows[2], "only one client, closed loop"
    assert next(reads) == 99.0, "read three times, not before the other loads"
    weights = 1e9  # bytes: 30 GB/s reads them 30 times a second
    lines = benchmark.ceiling_lines(rows, {"read_gb_s": 60.0, "threads": 2, "weight_bytes": weights,
                                           "ceiling_tok_s": 60.0})
    assert "200% of its own ceiling (30.0 GB/s" in lines[1], lines
    assert "100% of the ceiling" in benchmark.ceiling_lines([{**rows[0], "read_gb_s": None}], {
        "read_gb_s": 60.0, "threads": 2, "weight_bytes": weights, "ceiling_tok_s": 60.0})[1]
    no_bytes = {"read_gb_s": 60.0, "threads": 2, "weight_bytes": 0, "ceiling_tok_s": float("nan")}
    assert "of the ceiling" in benchmark.ceiling_lines(rows, no_bytes)[1], "no weights: no division by 0"


def test_a_running_vllm_reports_its_threads_from_its_log(monkeypatch, tiny_dir):
    from course_utils.bench import benchmark

    class Running:  # what VLLMServer offers: its URL and its log
        url = "http://127.0.0.1:9"

        def log(self):
            return "INFO ... OMP threads binding of Process 1:\\n... core ids=[0, 1] ...\\n"

    seen = {}

    def measure(name, url, api, dtype, loads, duration, options, progress, threads="", runs=1, read=None):
        seen.update(name=name, url=url, threads=threads)
        return []

    monkeypatch.setattr(benchmark, "_measure", measure)
    benchmark.compare(["vllm"], clients=[1], model=str(tiny_dir), dtype="bfloat16", progress=None,
                      running={"vllm": Running()})
    assert seen == {"name": "vllm", "url": Running.url, "threads": "2 (cores 0, 1)"}
