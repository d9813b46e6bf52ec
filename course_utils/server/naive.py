"""The server many tutorials show, kept to measure what goes wrong (lesson 03): ``--naive``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ..generation import GenerationParams
from .engine import DEFAULT_MAX_NEW_TOKENS


def create_naive_app(engine) -> FastAPI:
    """An ``async def`` endpoint calls the model directly and waits for it (the event loop stalls,
    /health waits), the prompt is a query parameter (one user message), and ``str(e)`` goes back
    in a 500.
    """
    app = FastAPI(title="naive server (for comparison only)")

    @app.post("/generate")
    async def generate(prompt: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
        try:
            text = engine.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                        tokenize=False, add_generation_prompt=True)
            answer = engine.generate(text, GenerationParams(max_new_tokens=max_new_tokens))
            return {"generated_text": answer["text"]}
        except Exception as e:  # noqa: BLE001 - the point of this version
            return JSONResponse({"error": str(e)}, status_code=500)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app
