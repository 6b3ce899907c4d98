"""cnncourse: the helper package of a Keras 3 course on convolutional neural networks.

Modules (one concern each; see the README for the full map):

- :mod:`cnncourse.config`: the ``quick`` / ``full`` profiles and per-notebook settings;
- :mod:`cnncourse.runtime`: quiet TensorFlow, :func:`seed_everything`, :func:`setup`;
- :mod:`cnncourse.grading`: checks for students, generate / execute for instructors;
- :mod:`cnncourse.cli`: the ``cnncourse`` command.

Importing the package is cheap: TensorFlow is loaded only by the functions that need it.
"""

from cnncourse.runtime import seed_everything, setup

__version__ = "0.1.0"

__all__ = ["__version__", "seed_everything", "setup"]
