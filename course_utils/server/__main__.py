"""``python -m course_utils.server``: serve the course model (``--help`` lists the options)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
