"""pytest configuration shared by the package tests and nbval on solutions/.

nbval compares the outputs of cells marked ``# NBVAL_CHECK_OUTPUT``. Output written to
stderr (library warnings, TensorFlow notices) is not part of what a cell teaches, so it is
left out of the comparison on both sides.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CNNCOURSE_PROFILE", "quick")


def _without_stderr(outputs):
    return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval not installed: nothing to adjust
    IPyNbCell = None

if IPyNbCell is not None and not getattr(IPyNbCell, "_cnncourse_ignores_stderr", False):
    _compare_outputs = IPyNbCell.compare_outputs

    def compare_outputs(self, test, ref, skip_compare=None):
        if os.environ.get("CNNCOURSE_PROFILE", "").strip().lower() == "full":
            # the stored outputs are the quick profile's: in the full profile nbval checks that every
            # cell runs and every check in it passes, not that it prints the quick numbers
            return True
        return _compare_outputs(self, _without_stderr(test), _without_stderr(ref), skip_compare)

    IPyNbCell.compare_outputs = compare_outputs
    IPyNbCell._cnncourse_ignores_stderr = True
