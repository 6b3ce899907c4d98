"""Grading: checks for students, and the authoring tools for instructors.

- :mod:`cnncourse.grading.check`: the verdict helpers test cells call
  (``check.equal``, ``check.close``, ``check.function``, …);
- :mod:`cnncourse.grading.notebook_format`: cell roles, markers, validation;
- :mod:`cnncourse.grading.generate`: solution notebook → student notebook;
- :mod:`cnncourse.grading.execute`: re-execute solution notebooks in place;
- :mod:`cnncourse.grading.selfcheck`: ``cnncourse validate``, a student's dry run of grading;
- :mod:`cnncourse.grading.prepare`, :mod:`~cnncourse.grading.runner`,
  :mod:`~cnncourse.grading.sandbox`: restore locked cells, run a submission contained, score it;
- :mod:`cnncourse.grading.autograde`, :mod:`~cnncourse.grading.gradebook`,
  :mod:`~cnncourse.grading.feedback`, :mod:`~cnncourse.grading.release` (instructor only):
  grade a class into a gradebook, write feedback, build the student release.

See ``docs/grading.md`` for the grading model and its threat model.

Importing this package inside a notebook also makes an unfinished exercise
(``raise NotImplementedError()``) show a friendly verdict instead of a traceback.
"""

from cnncourse.grading import check

check.install_notebook_hooks()

__all__ = ["check"]
