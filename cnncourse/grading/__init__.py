"""Grading: checks for students, and the authoring tools for instructors.

- :mod:`cnncourse.grading.check`: the verdict helpers test cells call
  (``check.equal``, ``check.close``, ``check.function``, …);
- :mod:`cnncourse.grading.notebook_format`: cell roles, markers, validation;
- :mod:`cnncourse.grading.generate`: solution notebook → student notebook;
- :mod:`cnncourse.grading.execute`: re-execute solution notebooks in place;
- :mod:`cnncourse.grading.selfcheck`: ``cnncourse validate``, a student's dry run of grading;
- :mod:`cnncourse.grading.prepare`, :mod:`~cnncourse.grading.parts`: restore locked cells, cut tests cells;
- :mod:`cnncourse.grading.runner` (the one run path of grading and ``validate``),
  :mod:`~cnncourse.grading.kernel` (start, stop, I/O), :mod:`~cnncourse.grading.scoring`
  (verdicts), :mod:`~cnncourse.grading.harness` (the grader inside the kernel),
  :mod:`~cnncourse.grading.options`, :mod:`~cnncourse.grading.sandbox` (limits, environment),
  :mod:`~cnncourse.grading.forbid` (exercises that must not delegate);
- :mod:`cnncourse.grading.autograde`, :mod:`~cnncourse.grading.submissions`,
  :mod:`~cnncourse.grading.containment`, :mod:`~cnncourse.grading.review`,
  :mod:`~cnncourse.grading.gradebook`, :mod:`~cnncourse.grading.feedback`,
  :mod:`~cnncourse.grading.release` (instructor only): grade a class into a gradebook, write
  feedback, build the student release.

See ``docs/grading.md`` for the grading model and its threat model.

Importing this package inside a notebook also makes an unfinished exercise
(``raise NotImplementedError()``) show a friendly verdict instead of a traceback.
"""

from cnncourse.grading import check
from cnncourse.grading.notebook_hooks import install_notebook_hooks

install_notebook_hooks()

__all__ = ["check"]
