"""Grading submitted notebooks (instructor and CI tooling; learners never import it).

``python -m course_utils.grade PATH ...`` grades one notebook, several, or a folder of them, in
parallel, into a report or a CSV (see ``__main__``). From Python::

    from course_utils.grade import grade_notebook
    result = grade_notebook("alice/01_pipeline_basics.ipynb")
    result.total, result.possible, result.status   # 3.0, 4.0, "ok"
    print(result.report())                        # what the learner reads

How a submission is executed, and why not with otter-grader's own runners: ``runner``.
"""

from .batch import find_submissions, grade_many, summary, write_csv
from .runner import (
    CellError,
    LessonTests,
    SubmissionResult,
    UnknownLesson,
    grade_notebook,
    lesson_of,
)

__all__ = ["CellError", "LessonTests", "SubmissionResult", "UnknownLesson", "find_submissions",
           "grade_many", "grade_notebook", "lesson_of", "summary", "write_csv"]
