"""Lesson 03's checks (three predictions, four exercises) against wrong and right answers.

Each question's full test file (public and hidden cases, as the grader runs it) is run directly
against answers written as source code: at least three wrong but plausible answers, each caught
with the message it must get, and valid answers written differently from the solution. The
names an answer may use (``GenerateBody``, ``FastAPI``, ...) come from the lesson's own cells.
"""

import ast
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from exercise_harness import failure_text, run_check, timeouts_scaled

LESSON = "03_web_server"
SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions" / f"{LESSON}.ipynb"

# The imports the lesson's cells make before the exercises (section 1, 3.1, 3.3, 3.5).
PRELUDE = """
import json, logging, threading, time, uuid
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool
"""


def _solution_cells() -> list[str]:
    nb = nbformat.read(SOLUTIONS, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def _top_level_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def solution(name: str) -> str:
    """The solutions notebook's cell that defines ``name``."""
    cells = [src for src in _solution_cells() if name in _top_level_names(src)]
    assert cells, f"no cell of {SOLUTIONS.name} defines {name}"
    return cells[0]


def _generate_body_source() -> str:
    source = solution("GenerateBody")
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "GenerateBody")
    return ast.get_source_segment(source, node)


@pytest.fixture(scope="module")
def env() -> dict:
    """The names the exercises' answer cells may use, as the lesson defines them."""
    namespace: dict = {}
    exec(compile(PRELUDE, "<lesson imports>", "exec", dont_inherit=True), namespace)
    exec(compile(_generate_body_source(), "<GenerateBody>", "exec", dont_inherit=True), namespace)
    return namespace


def with_answer(env: dict, source: str) -> dict:
    """A copy of ``env`` with an answer cell's code run in it, compiled as a notebook compiles it.

    ``dont_inherit=True``: without it ``compile`` takes this module's ``__future__`` flags, and an
    answer's pydantic annotations would become strings that pydantic cannot resolve (the
    harness's own ``with_answer`` has that problem; this module has no ``__future__`` import).
    """
    namespace = dict(env)
    exec(compile(textwrap.dedent(source), "<answer>", "exec", dont_inherit=True), namespace)
    return namespace


def check(env, question, answer_source):
    return run_check(LESSON, question, with_answer(env, answer_source))


def assert_caught(result, *fragments):
    """The answer lost its point, and the learner reads a message with each fragment."""
    text = failure_text(result)
    assert not result.passed, f"a wrong answer passed {result.name}"
    for fragment in fragments:
        assert fragment in text, f"expected {fragment!r} in the messages:\n{text}"


# ------------------------------------------------------------------ the solutions pass
@pytest.mark.parametrize("question, names", [
    ("predict_bad_input", ["predicted_statuses"]),
    ("predict_health_wait", ["health_prediction"]),
    ("predict_blocking_kinds", ["blocking_kinds"]),
    ("chat_body", ["ChatBody"]),
    ("limited_app", ["make_app"]),
    ("error_ids", ["add_safe_errors"]),
    ("streaming_app", ["make_streaming_app"]),
])
def test_the_solution_passes(env, question, names):
    namespace = dict(env)
    if question == "streaming_app":  # its answer uses `logging`, imported by exercise 3's cell
        namespace = with_answer(namespace, solution("add_safe_errors"))
    for name in names:
        namespace = with_answer(namespace, solution(name))
    result = run_check(LESSON, question, namespace)
    assert result.passed, failure_text(result)


@pytest.mark.parametrize("question, stub", [
    ("predict_bad_input", "predicted_statuses = ..."),
    ("predict_health_wait", "health_prediction = ..."),
    ("predict_blocking_kinds", "blocking_kinds = ..."),
    ("limited_app", "def make_app(generate_text, max_concurrent):\n    ..."),
    ("error_ids", "def add_safe_errors(app):\n    ..."),
    ("streaming_app", "def make_streaming_app(stream_text):\n    ..."),
])
def test_an_unanswered_cell_is_told_to_answer(env, question, stub):
    result = check(env, question, stub)
    hint = "first" if question.startswith("predict") else "write "
    assert not result.passed and all(hint in case.message for case in result.failures()), \
        failure_text(result)


def test_unanswered_chat_models(env):
    stub = "class ChatMessage(BaseModel):\n    ...\n\nclass ChatBody(BaseModel):\n    ..."
    result = check(env, "chat_body", stub)
    assert not result.passed and failure_text(result) == (
        "write `ChatBody` first: its answer cell still holds `...`"), failure_text(result)


# (the predictions: tests/test_predictions.py, the same for every lesson)


# ------------------------------------------------------------------ exercise 1: chat_body
CHAT_MESSAGE = """
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=4000, pattern=r"\\S")
"""

CHAT_BODY_FIELDS = """
    model_config = ConfigDict(extra="forbid")
    messages: list[ChatMessage] = Field(min_length=1, max_length=32)
    max_new_tokens: int = Field(64, ge=1, le=512, strict=True)
    temperature: float = Field(0.0, ge=0.0, le=2.0, strict=True)
"""

LAST_IS_USER = """
    @field_validator("messages")
    @classmethod
    def ends_with_the_user(cls, messages):
        if messages[-1].role != "user":
            raise ValueError("the last message must be the user's")
        return messages
"""


def chat_answer(message=CHAT_MESSAGE, fields=CHAT_BODY_FIELDS, validator=LAST_IS_USER):
    return message + "\n\nclass ChatBody(BaseModel):" + fields + validator


@pytest.mark.parametrize("answer, message", [
    # GenerateBody's numbers copied: default 32, at most 256
    (chat_answer(fields=CHAT_BODY_FIELDS.replace("64, ge=1, le=512", "32, ge=1, le=256")),
     "max_new_tokens must default to 64"),
    # no rule on the last message
    (chat_answer(validator=""), "a chat that ends with the assistant's message should be refused with a 422"),
    # unknown fields silently ignored (pydantic's default)
    (chat_answer(fields=CHAT_BODY_FIELDS.replace('model_config = ConfigDict(extra="forbid")', "")),
     "an unknown field in the body (max_tokens)"),
    (chat_answer(message=CHAT_MESSAGE.replace('model_config = ConfigDict(extra="forbid")', "")),
     "an unknown field in a message (name)"),
    # temperature not strict: "0.5" becomes 0.5
    (chat_answer(fields=CHAT_BODY_FIELDS.replace("le=2.0, strict=True", "le=2.0")),
     'temperature "0.5" (a string) should be refused'),
    # temperature as an integer: 0.7 refused
    (chat_answer(fields=CHAT_BODY_FIELDS.replace("temperature: float", "temperature: int")),
     "max_new_tokens 1 with temperature 0.7 is valid"),
    # max_new_tokens not strict
    (chat_answer(fields=CHAT_BODY_FIELDS.replace("le=512, strict=True", "le=512")),
     'max_new_tokens "64" (a string) should be refused'),
    # content without the "not only whitespace" rule
    (chat_answer(message=CHAT_MESSAGE.replace(', pattern=r"\\S"', "")), "content of only whitespace"),
    # role as any string
    (chat_answer(message=CHAT_MESSAGE.replace('Literal["system", "user", "assistant"]', "str")),
     "an unknown role should be refused"),
    # temperature's upper bound exclusive: 2 refused (hidden)
    (chat_answer(fields=CHAT_BODY_FIELDS.replace("le=2.0", "lt=2.0")),
     "max_new_tokens 512 and temperature 2 is within the rules"),
    # a "before" validator that assumes a dict: a list body becomes a 500 (hidden)
    (chat_answer(validator="""
    @model_validator(mode="before")
    @classmethod
    def ends_with_the_user(cls, data):
        if data["messages"][-1]["role"] != "user":
            raise ValueError("the last message must be the user's")
        return data
"""), "should be refused with a 422, got 500"),
    # the last-message rule outside pydantic: an HTTPException from a validator (hidden)
    (chat_answer(validator="""
    @field_validator("messages")
    @classmethod
    def ends_with_the_user(cls, messages):
        from fastapi import HTTPException
        if messages[-1].role != "user":
            raise HTTPException(422, "the last message must be the user's")
        return messages
"""), "the last-message rule raised HTTPException"),
    # "not only whitespace" written as "has a word character": refuses "?" (hidden)
    (chat_answer(message=CHAT_MESSAGE.replace('pattern=r"\\S"', 'pattern=r"\\w"')),
     "content of punctuation only (?) is within the rules"),
    # content allowed up to 4001 characters (hidden)
    (chat_answer(message=CHAT_MESSAGE.replace("max_length=4000", "max_length=4001")),
     "content of 4001 characters breaks a rule"),
    # false pass "request bodies whose whitespace is never compared": pydantic strips every string,
    # so "not only whitespace" holds, but each content is changed and " " + 4000 characters passes
    # (hidden)
    (chat_answer(message=CHAT_MESSAGE.replace('extra="forbid")', 'extra="forbid", str_strip_whitespace=True)')
                 .replace(', pattern=r"\\S"', "")),
     "keep each message's content exactly as sent"),
    # the same kind: a role that differs only in whitespace made valid by a lenient validator (hidden)
    (chat_answer(message=CHAT_MESSAGE + """
    @field_validator("role", mode="before")
    @classmethod
    def tidy(cls, role):
        return role.strip() if isinstance(role, str) else role
"""), "the role with a space around it"),
])
def test_chat_body_wrong(env, answer, message):
    assert_caught(check(env, "chat_body", answer), message)


CHAT_BODY_ANNOTATED = """
import enum
from typing import Annotated
from pydantic import StrictInt, StringConstraints, AfterValidator


class Role(str, enum.Enum):
    system = "system"
    user = "user"
    assistant = "assistant"


def not_blank(text):
    if not text.strip():
        raise ValueError("content must not be only whitespace")
    return text


class ChatMessage(BaseModel, extra="forbid"):
    role: Role
    content: Annotated[str, StringConstraints(min_length=1, max_length=4000), AfterValidator(not_blank)]


class ChatBody(BaseModel, extra="forbid"):
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=32)]
    max_new_tokens: Annotated[StrictInt, Field(ge=1, le=512)] = 64
    temperature: Annotated[float, Field(ge=0, le=2, strict=True)] = 0

    @model_validator(mode="after")
    def last_message_is_the_users(self):
        assert self.messages[-1].role == Role.user, "the last message must be the user's"
        return self
"""


def test_chat_body_valid_alternative(env):
    result = check(env, "chat_body", CHAT_BODY_ANNOTATED)
    assert result.passed, failure_text(result)


# ------------------------------------------------------------------ exercise 2: limited_app
LOCK_ONE_AT_A_TIME = """
def make_app(generate_text, max_concurrent):
    app = FastAPI()
    lock = threading.Lock()

    @app.post("/generate")
    def generate(body: GenerateBody):
        with lock:
            return {"generated_text": generate_text(body.prompt, body.max_new_tokens)}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

NO_LIMIT = LOCK_ONE_AT_A_TIME.replace("        with lock:\n            return", "        return")

BLOCKS_THE_LOOP = """
import asyncio

def make_app(generate_text, max_concurrent):
    app = FastAPI()
    slots = asyncio.Semaphore(max_concurrent)

    @app.post("/generate")
    async def generate(body: GenerateBody):
        async with slots:
            return {"generated_text": generate_text(body.prompt, body.max_new_tokens)}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

LOCK_ACROSS_AWAIT = """
def make_app(generate_text, max_concurrent):
    app = FastAPI()
    slots = threading.Semaphore(max_concurrent)

    @app.post("/generate")
    async def generate(body: GenerateBody):
        with slots:  # a threading semaphore held across an await: deadlock
            text = await run_in_threadpool(generate_text, body.prompt, body.max_new_tokens)
        return {"generated_text": text}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

SLOT_LEAKS_ON_ERROR = """
def make_app(generate_text, max_concurrent):
    app = FastAPI()
    slots = threading.Semaphore(max_concurrent)

    @app.post("/generate")
    def generate(body: GenerateBody):
        slots.acquire()
        text = generate_text(body.prompt, body.max_new_tokens)
        slots.release()
        return {"generated_text": text}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

HARD_CODED_TWO = LOCK_ONE_AT_A_TIME.replace("lock = threading.Lock()", "lock = threading.Semaphore(2)")

# False pass "a race that only shows when many waiters are released at once": a count checked, then
# increased, in two steps. CPython's GIL almost never switches threads between the two, so requests
# that arrive one by one, or a few at once, never see it; many at once, with a pause between the
# lines (as the check makes), all pass the check before any of them counts itself.
COUNT_THEN_INCREMENT = """
def make_app(generate_text, max_concurrent):
    app = FastAPI()
    running = [0]

    @app.post("/generate")
    def generate(body: GenerateBody):
        while running[0] >= max_concurrent:  # wait for a free slot
            time.sleep(0.01)
        running[0] += 1
        try:
            return {"generated_text": generate_text(body.prompt, body.max_new_tokens)}
        finally:
            running[0] -= 1

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

# The same kind, already caught before: an event that wakes every waiter, and an `if` where a
# `while` must check again, so one freed slot lets all the waiters in.
WAKES_EVERY_WAITER = """
import asyncio

def make_app(generate_text, max_concurrent):
    app = FastAPI()
    state = {"running": 0, "freed": None}

    @app.post("/generate")
    async def generate(body: GenerateBody):
        if state["freed"] is None:
            state["freed"] = asyncio.Event()
        if state["running"] >= max_concurrent:  # wait for a free slot
            state["freed"].clear()
            await state["freed"].wait()
        state["running"] += 1
        try:
            text = await run_in_threadpool(generate_text, body.prompt, body.max_new_tokens)
        finally:
            state["running"] -= 1
            state["freed"].set()
        return {"generated_text": text}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

REFUSES_WHEN_FULL = """
from fastapi import HTTPException

def make_app(generate_text, max_concurrent):
    app = FastAPI()
    slots = threading.Semaphore(max_concurrent)

    @app.post("/generate")
    def generate(body: GenerateBody):
        if not slots.acquire(blocking=False):
            raise HTTPException(429, "busy")
        try:
            return {"generated_text": generate_text(body.prompt, body.max_new_tokens)}
        finally:
            slots.release()

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

QUERY_PARAMETERS = HARD_CODED_TWO.replace(
    "def generate(body: GenerateBody):", "def generate(prompt: str, max_new_tokens: int = 32):").replace(
    "generate_text(body.prompt, body.max_new_tokens)", "generate_text(prompt, max_new_tokens)")

DEFAULT_TOKENS = HARD_CODED_TWO.replace("threading.Semaphore(2)", "threading.Semaphore(max_concurrent)") \
    .replace("generate_text(body.prompt, body.max_new_tokens)", "generate_text(body.prompt, 32)")


@pytest.mark.parametrize("answer, message", [
    (LOCK_ONE_AT_A_TIME, "only one generation ran although max_concurrent=2 allows two"),
    (NO_LIMIT, "a third generation started although max_concurrent=2 allows only two"),
    (BLOCKS_THE_LOOP, "/health did not answer while a generation ran"),
    (REFUSES_WHEN_FULL, "every request must be answered 200 (they wait for a slot)"),
    (QUERY_PARAMETERS, "POST /generate answered 422 without calling generate_text"),
    (DEFAULT_TOKENS, "with the prompt and max_new_tokens of the request"),
    (SLOT_LEAKS_ON_ERROR, "give the slot back even when it raises"),  # hidden
    (HARD_CODED_TWO, "use the max_concurrent you are given"),  # hidden
    # hidden; the race shows when the 9 arrive or, on a busy machine, when a slot is freed: each
    # message says how many "ran at once" and names the limit
    (COUNT_THEN_INCREMENT, ("ran at once", "(max_concurrent=3)")),
    (WAKES_EVERY_WAITER, "the freed slot let in more than one waiting request"),  # hidden
])
def test_limited_app_wrong(env, answer, message):
    assert_caught(check(env, "limited_app", answer), *([message] if isinstance(message, str) else message))


def test_limited_app_deadlock_is_reported_in_time(env):
    started = time.monotonic()
    with timeouts_scaled(0.2) as asked:  # waits a fifth of each limit the learner gets
        result = check(env, "limited_app", LOCK_ACROSS_AWAIT)
    took = time.monotonic() - started
    assert_caught(result, "is a lock held across an await")
    assert asked and max(asked) <= 40, asked
    # bounded: a fifth of each case's limit (40 s for the first and for 9 requests at once, 30 s for
    # the limits, a few seconds for the rest: about 30 s in all)
    assert took < 45, f"the deadlocking answer took {took:.0f} s to be reported"


ASYNC_SEMAPHORE = """
import asyncio

def make_app(generate_text, max_concurrent):
    app = FastAPI()
    slots = asyncio.Semaphore(max_concurrent)

    @app.post("/generate")
    async def generate(body: GenerateBody):
        async with slots:
            text = await run_in_threadpool(generate_text, body.prompt, body.max_new_tokens)
        return {"generated_text": text}

    @app.get("/health")
    def health():
        return {"status": "ok"}

    return app
"""

CAPACITY_LIMITER = """
import anyio

def make_app(generate_text, max_concurrent):
    app = FastAPI()
    limiter = anyio.CapacityLimiter(max_concurrent)

    @app.post("/generate")
    async def generate(body: GenerateBody):
        text = await anyio.to_thread.run_sync(generate_text, body.prompt, body.max_new_tokens,
                                              limiter=limiter)
        return {"generated_text": text}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""

EXECUTOR = """
import asyncio
from concurrent.futures import ThreadPoolExecutor

def make_app(generate_text, max_concurrent):
    app = FastAPI()
    pool = ThreadPoolExecutor(max_workers=max_concurrent)

    @app.post("/generate")
    async def generate(body: GenerateBody):
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(pool, generate_text, body.prompt, body.max_new_tokens)
        return {"generated_text": text}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""


PLAIN_DEF_SEMAPHORE = """
def make_app(generate_text, max_concurrent):
    app = FastAPI()
    slots = threading.BoundedSemaphore(max_concurrent)

    @app.post("/generate")
    def generate(body: GenerateBody):  # waits for a slot inside one of the pool's threads
        with slots:
            return {"generated_text": generate_text(body.prompt, body.max_new_tokens)}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
"""


@pytest.mark.parametrize("answer", [ASYNC_SEMAPHORE, CAPACITY_LIMITER, EXECUTOR, PLAIN_DEF_SEMAPHORE],
                         ids=["asyncio.Semaphore", "anyio.CapacityLimiter", "ThreadPoolExecutor",
                              "threading.BoundedSemaphore in a plain def"])
def test_limited_app_valid_alternatives(env, answer):
    result = check(env, "limited_app", answer)
    assert result.passed, failure_text(result)


# ------------------------------------------------------------------ exercise 3: error_ids
def error_handler(body: str, log_call: str, extra: str = "") -> str:
    return f"""
import logging, time, uuid
from starlette.exceptions import HTTPException as StarletteHTTPException

def add_safe_errors(app):
    log = logging.getLogger("server")
{extra}
    @app.exception_handler(Exception)
    async def internal_error(request, exc):
        error_id = uuid.uuid4().hex
        {log_call}
        return JSONResponse({body}, status_code=500)

    return app
"""


GOOD_BODY = '{"error": "Internal server error", "error_id": error_id}'
GOOD_LOG = 'log.exception("error %s on %s", error_id, request.url.path)'


@pytest.mark.parametrize("answer, message", [
    # section 3.4 verbatim: no id
    (error_handler('{"error": "Internal server error"}', 'log.exception("error on %s", request.url.path)'),
     'exactly two keys, "error" and "error_id"'),
    # one id for every error
    (error_handler('{"error": "Internal server error", "error_id": "E1"}', 'log.exception("error E1")'),
     "every error needs a new error_id"),
    # the id is not in the log
    (error_handler(GOOD_BODY, 'log.exception("error on %s", request.url.path)'),
     "the log message must contain the error_id"),
    # logged without the traceback
    (error_handler(GOOD_BODY, 'log.error("error %s", error_id)'), "log the exception with its traceback"),
    # the exception's text in the body
    (error_handler('{"error": "Internal server error", "error_id": error_id, "detail": str(exc)}', GOOD_LOG),
     "must not contain anything from the exception"),
    # logged on the root logger, not "server"
    (error_handler(GOOD_BODY, 'logging.exception("error %s", error_id)'),
     'on logging.getLogger("server")'),
    # printed instead of logged
    (error_handler(GOOD_BODY, 'print("error", error_id, repr(exc))'), 'on logging.getLogger("server")'),
    # a 200 with an error body
    (error_handler(GOOD_BODY, GOOD_LOG).replace("status_code=500", "status_code=200"),
     "must be answered with a 500, got 200"),
    # only one exception type handled
    (error_handler(GOOD_BODY, GOOD_LOG).replace("@app.exception_handler(Exception)",
                                                "@app.exception_handler(RuntimeError)"),
     "handle every exception (Exception), not one type"),
    # false pass "a race that only shows when many are released at once": an id from the clock is
    # new for errors one after another, and the same for errors at the same moment (hidden). How
    # often two land in one millisecond depends on the machine, so the check asks for ids that do
    # not follow one another, which a clock or a counter never gives (on a busy machine the
    # same-id case comes first: either message names the fault).
    (error_handler(GOOD_BODY, GOOD_LOG).replace("error_id = uuid.uuid4().hex",
                                                "error_id = str(int(time.time() * 1000))"),
     "errors at the same moment got "),
    # the same kind: a counter, unique in one process, repeated by every replica and restart (hidden)
    (error_handler(GOOD_BODY, GOOD_LOG, extra="    import itertools\n    numbers = itertools.count(1)\n")
     .replace("error_id = uuid.uuid4().hex", 'error_id = f"ERR-{next(numbers):06d}"'),
     "An id from the clock or a counter repeats"),
    # HTTP errors turned into 500s too (hidden)
    (error_handler(GOOD_BODY, GOOD_LOG, extra="""
    @app.exception_handler(StarletteHTTPException)
    async def any_http_error(request, exc):
        return JSONResponse({"error": "Internal server error", "error_id": uuid.uuid4().hex}, status_code=500)
"""), "keep the 404 of an unknown path"),
])
def test_error_ids_wrong(env, answer, message):
    assert_caught(check(env, "error_ids", answer), message)


MIDDLEWARE = """
import logging, secrets

def add_safe_errors(app):
    log = logging.getLogger("server.errors")

    @app.middleware("http")
    async def catch_everything(request, call_next):
        try:
            return await call_next(request)
        except Exception as exc:
            error_id = secrets.token_hex(8)
            log.error("request failed, error id %s", error_id, exc_info=exc)
            return JSONResponse({"error_id": error_id, "error": "Internal server error"}, status_code=500)
"""


def test_error_ids_valid_middleware(env):
    result = check(env, "error_ids", MIDDLEWARE)
    assert result.passed, failure_text(result)


# ------------------------------------------------------------------ exercise 4: streaming_app
CATCH_AND_LOG = """
        except Exception:
            log.exception("error while streaming")
            yield {"error": "Internal server error"}
        else:
            yield {"generated_text": "".join(pieces)}"""


RAW_DONE = 'yield ServerSentEvent(raw_data="[DONE]")'


def streaming(loop: str, on_error: str = CATCH_AND_LOG, done: str = RAW_DONE,
              endpoint: str = "def generate_stream(body: GenerateBody):") -> str:
    return f"""
import logging
from fastapi.sse import ServerSentEvent

def make_streaming_app(stream_text):
    log = logging.getLogger("server")
    app = FastAPI()

    @app.post("/generate_stream", response_class=EventSourceResponse)
    {endpoint}
        pieces = []
        try:
{loop}{on_error}
        {done}

    return app
"""


ONE_BY_ONE = """            for index, piece in enumerate(stream_text(body.prompt, body.max_new_tokens)):
                pieces.append(piece)
                yield {"index": index, "text": piece}"""


@pytest.mark.parametrize("answer, message", [
    # section 3.5's shape: no [DONE]
    (streaming(ONE_BY_ONE, done="pass"), "end the stream with the line data: [DONE]"),
    # [DONE] yielded as a string: JSON-encoded, with quotes
    (streaming(ONE_BY_ONE, done='yield "[DONE]"'), 'with quotes: FastAPI JSON-encoded your string'),
    # indices from 1
    (streaming(ONE_BY_ONE.replace("enumerate(stream_text(body.prompt, body.max_new_tokens))",
                                  "enumerate(stream_text(body.prompt, body.max_new_tokens), start=1)")),
     "i counting from 0"),
    # no error handling: the stream breaks off
    (streaming(ONE_BY_ONE, on_error="""
        finally:
            pass
        yield {"generated_text": "".join(pieces)}"""),
     "when stream_text raises, the stream must still end with data: [DONE]"),
    # the exception's message in the error event
    (streaming(ONE_BY_ONE, on_error="""
        except Exception as exc:
            log.exception("error while streaming")
            yield {"error": str(exc)}
        else:
            yield {"generated_text": "".join(pieces)}"""),
     "nothing from the exception may reach the client"),
    # error caught but not logged
    (streaming(ONE_BY_ONE, on_error="""
        except Exception:
            yield {"error": "Internal server error"}
        else:
            yield {"generated_text": "".join(pieces)}"""),
     "log the exception with its traceback"),
    # generated_text sent after the error too
    (streaming(ONE_BY_ONE, on_error="""
        except Exception:
            log.exception("error while streaming")
            yield {"error": "Internal server error"}
        yield {"generated_text": "".join(pieces)}"""),
     "and no generated_text"),
    # stream_text called a second time to build generated_text
    (streaming(ONE_BY_ONE, on_error=CATCH_AND_LOG.replace(
        '"".join(pieces)', '"".join(stream_text(body.prompt, body.max_new_tokens))')),
     "call stream_text(prompt, max_new_tokens) once"),
    # the prompt ignored: a fixed max_new_tokens
    (streaming(ONE_BY_ONE.replace("body.max_new_tokens", "32")),
     "with the request's prompt and max_new_tokens"),
    # an async def endpoint looping over the blocking generator: the event loop waits with it (hidden)
    (streaming(ONE_BY_ONE, endpoint="async def generate_stream(body: GenerateBody):"),
     "do not loop over a blocking generator inside an async def endpoint"),
    # false pass "no text with a space before punctuation": the joined text stripped, right while
    # no reply starts or ends with a space or a new line (hidden)
    (streaming(ONE_BY_ONE, on_error=CATCH_AND_LOG.replace('"".join(pieces)', '"".join(pieces).strip()')),
     "the pieces joined exactly as yielded"),
    # the same kind: pieces stripped and joined with spaces, right while every piece starts with a
    # word (hidden)
    (streaming(ONE_BY_ONE, on_error=CATCH_AND_LOG.replace('"".join(pieces)',
                                                           '" ".join(piece.strip() for piece in pieces)')),
     "the pieces joined exactly as yielded"),
    # every piece collected before the first event (hidden)
    (streaming("""            collected = list(stream_text(body.prompt, body.max_new_tokens))
            for index, piece in enumerate(collected):
                pieces.append(piece)
                yield {"index": index, "text": piece}"""),
     "the first piece arrived only with the later ones"),
])
def test_streaming_app_wrong(env, answer, message):
    assert_caught(check(env, "streaming_app", answer), message)


RAW_TEXT_FRAMING = """
import json, logging
from fastapi.responses import StreamingResponse

def make_streaming_app(stream_text):
    app = FastAPI()

    @app.post("/generate_stream")
    def generate_stream(body: GenerateBody):
        def events():
            pieces = []
            for index, piece in enumerate(stream_text(body.prompt, body.max_new_tokens)):
                pieces.append(piece)
                yield f'data: {{"index": {index}, "text": "{piece}"}}\\n\\n'
            yield f'data: {{"generated_text": "{"".join(pieces)}"}}\\n\\n'
            yield "data: [DONE]\\n\\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    return app
"""


def test_streaming_app_raw_text_framing_is_caught(env):
    """Hand-written framing without JSON encoding and without error handling."""
    assert_caught(check(env, "streaming_app", RAW_TEXT_FRAMING),
                  "the stream must still end with data: [DONE]", "a piece with a newline broke an event")


HAND_FRAMED = """
import json, logging
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

def make_streaming_app(stream_text):
    app = FastAPI()
    log = logging.getLogger("server")

    def sse(data):
        return f"data: {data}\\n\\n"

    def events(prompt, max_new_tokens):
        text = ""
        try:
            for index, piece in enumerate(stream_text(prompt, max_new_tokens)):
                text += piece
                yield sse(json.dumps({"index": index, "text": piece}))
            yield sse(json.dumps({"generated_text": text}))
        except Exception:
            log.error("stream failed", exc_info=True)
            yield sse(json.dumps({"error": "Internal server error"}))
        yield sse("[DONE]")

    @app.post("/generate_stream")
    async def generate_stream(body: GenerateBody):
        return StreamingResponse(iterate_in_threadpool(events(body.prompt, body.max_new_tokens)),
                                 media_type="text/event-stream")

    return app
"""


def test_streaming_app_valid_hand_framed(env):
    result = check(env, "streaming_app", HAND_FRAMED)
    assert result.passed, failure_text(result)


SERVER_SENT_EVENTS = streaming(ONE_BY_ONE.replace(
    'yield {"index": index, "text": piece}', 'yield ServerSentEvent(data={"index": index, "text": piece})'))


def test_streaming_app_valid_server_sent_event_objects(env):
    result = check(env, "streaming_app", SERVER_SENT_EVENTS)
    assert result.passed, failure_text(result)
