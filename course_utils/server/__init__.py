"""The course's reference server (lessons 03-05): one model behind FastAPI, TGI and OpenAI APIs.

``python -m course_utils.server`` serves the course model; in a notebook or a test::

    from course_utils.server import BackgroundServer, Engine, create_app

    with BackgroundServer(create_app(Engine(model_path))) as server:
        ...

Where each concern lives: the docstring of ``course_utils/server/app.py`` (and the README).
"""

from .app import create_app
from .background import BackgroundServer, free_port
from .engine import Engine
from .naive import create_naive_app

__all__ = ["BackgroundServer", "Engine", "create_app", "create_naive_app", "free_port"]
