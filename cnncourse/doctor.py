"""``cnncourse doctor``: is this machine ready for the course?

Reports versions (Python, TensorFlow, Keras), the GPUs TensorFlow sees, the active profile,
which offline datasets load, which optional downloads (tfds datasets, Keras ImageNet weights)
are already cached, and whether the cache folders are writable. Each problem comes with its
fix; the exit code is non-zero when something a notebook needs is missing.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

#: tfds datasets a student may scale up to on a GPU
OPTIONAL_TFDS = ("mnist", "fashion_mnist", "cifar10", "oxford_iiit_pet", "voc")
#: Keras application weights the transfer-learning notebook can use when cached
OPTIONAL_WEIGHTS = ("mobilenet_v2", "resnet50", "vgg16", "efficientnet")


@dataclass
class Finding:
    """One line of the report. ``required`` findings that are not ``ok`` fail the doctor."""

    topic: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _probe(topic: str, action: Callable[[], str], fix: str, required: bool = True) -> Finding:
    try:
        return Finding(topic, True, action(), required=required)
    except Exception as error:  # noqa: BLE001 - every failure becomes a finding
        return Finding(topic, False, f"{type(error).__name__}: {error}".strip()[:200], fix, required)


def _versions() -> list[Finding]:
    findings = [Finding("python", sys.version_info >= (3, 11),
                        f"{platform.python_version()} at {sys.executable}",
                        "use Python 3.11 or newer")]

    def tensorflow() -> str:
        from cnncourse.runtime import import_tensorflow

        return import_tensorflow().__version__

    def keras() -> str:
        module = importlib.import_module("keras")
        major = int(module.__version__.split(".")[0])
        if major < 3:
            raise RuntimeError(f"Keras {module.__version__} is too old; the course needs Keras 3")
        return f"{module.__version__} (backend {module.backend.backend()})"

    reinstall = "reinstall the course environment: `make install` (or `pip install -e .`)"
    findings.append(_probe("tensorflow", tensorflow, reinstall))
    findings.append(_probe("keras", keras, reinstall))
    for name in ("numpy", "sklearn", "skimage", "matplotlib", "nbclient", "nbval", "tensorflow_datasets"):
        findings.append(_probe(name, lambda n=name: importlib.import_module(n).__version__, reinstall))
    return findings


def _devices() -> list[Finding]:
    from cnncourse.config import current_profile, gpu_available

    def gpus() -> str:
        from cnncourse.runtime import import_tensorflow

        found = import_tensorflow().config.list_physical_devices("GPU")
        return ", ".join(d.name for d in found) if found else "none (the CPU will do; notebooks use the quick profile)"

    findings = [_probe("gpu", gpus, "install the GPU extra: pip install -e '.[gpu]'", required=False)]
    findings.append(_probe(
        "profile",
        lambda: f"{current_profile()} (CNNCOURSE_PROFILE={os.environ.get('CNNCOURSE_PROFILE', 'unset')}, "
                f"default is {'full' if gpu_available() else 'quick'} here)",
        "set CNNCOURSE_PROFILE to quick or full"))
    return findings


def _offline_data() -> list[Finding]:
    def digits() -> str:
        from sklearn.datasets import load_digits

        return f"{len(load_digits().images)} handwritten digits (scikit-learn)"

    def photos() -> str:
        from skimage import data

        names = ("astronaut", "camera", "coffee", "chelsea", "rocket")
        for name in names:
            getattr(data, name)()
        return f"{len(names)} scikit-image photos ({', '.join(names)})"

    def faces() -> str:
        from skimage import data

        return f"{len(data.lfw_subset())} face / not-face patches (scikit-image)"

    fix = "the data ships with scikit-learn / scikit-image: reinstall them (`make install`)"
    return [_probe("data: digits", digits, fix), _probe("data: photos", photos, fix),
            _probe("data: faces", faces, fix),
            Finding("data: shapes", True, "generated on the fly, nothing to download")]


def _tfds_dir() -> Path:
    return Path(os.environ.get("TFDS_DATA_DIR", Path.home() / "tensorflow_datasets"))


def _keras_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def _optional_downloads() -> list[Finding]:
    tfds_dir, weights_dir = _tfds_dir(), _keras_dir() / "models"
    cached = [name for name in OPTIONAL_TFDS if (tfds_dir / name).is_dir()]
    weights = sorted(p.name for p in weights_dir.glob("*.h5")) if weights_dir.is_dir() else []
    return [
        Finding("tfds cache", True,
                f"{tfds_dir}: {', '.join(cached) if cached else 'no course dataset cached'} "
                f"(optional: {', '.join(OPTIONAL_TFDS)})", required=False),
        Finding("keras weights", True,
                f"{weights_dir}: {len(weights)} file(s) cached" + (f" ({', '.join(weights[:4])}…)" if weights else
                                                                  " (optional: ImageNet weights for transfer learning)"),
                required=False),
    ]


def _writable(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder):
        pass
    return f"{folder} is writable"


def _cache_dirs() -> list[Finding]:
    import matplotlib

    folders = {"keras home": _keras_dir(), "tfds data dir": _tfds_dir(),
               "matplotlib cache": Path(matplotlib.get_cachedir())}
    return [_probe(f"writable: {name}", lambda f=folder: _writable(f),
                   f"make {folder} writable or point the matching variable (KERAS_HOME, TFDS_DATA_DIR, "
                   f"MPLCONFIGDIR) to a writable folder") for name, folder in folders.items()]


def _kernel() -> list[Finding]:
    def python3_kernel() -> str:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
        runs = sys.executable if spec.argv[0] in ("python", "python3") else spec.argv[0]
        return f"python3 kernel runs {runs}"

    return [_probe("jupyter kernel", python3_kernel, "pip install ipykernel in the course environment")]


def diagnose() -> list[Finding]:
    """Run every probe and return the findings, in report order."""
    return _versions() + _devices() + _offline_data() + _optional_downloads() + _cache_dirs() + _kernel()


def report(findings: list[Finding]) -> tuple[str, int]:
    """Format ``findings`` as text; return it with the exit code (1 if a required one failed)."""
    width = max(len(f.topic) for f in findings)
    lines = []
    for finding in findings:
        mark = "✔" if finding.ok else ("✘" if finding.required else "·")
        lines.append(f"{mark} {finding.topic:<{width}}  {finding.detail}")
        if not finding.ok and finding.fix:
            lines.append(f"  {'':<{width}}  fix: {finding.fix}")
    failed = [f for f in findings if f.required and not f.ok]
    lines.append("")
    lines.append(f"{len(failed)} problem(s) found: fix them before running the notebooks" if failed
                 else "Everything the notebooks need is here.")
    return "\n".join(lines), 1 if failed else 0
