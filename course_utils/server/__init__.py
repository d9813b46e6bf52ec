"""The course's reference server (lessons 03 and 04): one model behind FastAPI, TGI and OpenAI APIs.

``python -m course_utils.server`` serves the course model; in a notebook or a test::

    from course_utils.server import BackgroundServer, Engine, create_app

    with BackgroundServer(create_app(Engine(model_path))) as server:
        ...
"""

from .app import BackgroundServer, create_app, create_naive_app, free_port
from .engine import Engine

__all__ = ["BackgroundServer", "Engine", "create_app", "create_naive_app", "free_port"]
