"""Building the course (contributor tooling; learners never import it).

- ``assign``: generate the student and solutions notebooks and the tests from each master;
- ``skeleton``: the common skeleton every notebook follows, and the check that enforces it.

``python -m course_utils.build`` regenerates every lesson; ``--check`` fails if anything committed
is out of date.
"""
