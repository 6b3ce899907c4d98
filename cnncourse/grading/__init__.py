"""Grading: checks for students, and the authoring tools for instructors.

- :mod:`cnncourse.grading.check`: the verdict helpers test cells call
  (``check.equal``, ``check.close``, ``check.function``, …);
- :mod:`cnncourse.grading.notebook_format`: cell roles, markers, validation;
- :mod:`cnncourse.grading.generate`: solution notebook → student notebook;
- :mod:`cnncourse.grading.execute`: re-execute solution notebooks in place.

Importing this package inside a notebook also makes an unfinished exercise
(``raise NotImplementedError()``) show a friendly verdict instead of a traceback.
"""

from cnncourse.grading import check

check.install_notebook_hooks()

__all__ = ["check"]
