"""``python -m course_utils.build [LESSON ...] [--check] [--run-tests]``: see ``assign``."""

from .assign import main

if __name__ == "__main__":
    raise SystemExit(main())
