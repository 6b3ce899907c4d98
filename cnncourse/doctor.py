"""``cnncourse doctor``: is this machine ready for the course?

Reports versions (Python, TensorFlow, Keras), the GPUs TensorFlow sees (memory, compute
capability), the CUDA / cuDNN versions TensorFlow was built with, whether XLA, mixed precision
and a multi-GPU strategy will be used, a warning when an NVIDIA driver is here but the ``gpu``
extra is not, the active profile,
which offline datasets load, which optional downloads (tfds datasets, Keras ImageNet weights)
are already cached, and whether the cache folders are writable. Each problem comes with its
fix; the exit code is non-zero when something a notebook needs is missing.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
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


GPU_EXTRA_FIX = "install the GPU extra: pip install -c constraints.txt -e '.[gpu]' (TensorFlow with CUDA and cuDNN)"


def real_gpus() -> list[dict]:
    """Every GPU TensorFlow sees: ``{"name", "compute_capability" (major, minor) or None, "memory_bytes" or None}``."""
    from cnncourse.runtime import gpu_details, import_tensorflow

    tf = import_tensorflow()
    details = gpu_details()
    if not details:
        return []
    from tensorflow.python.client import device_lib  # memory TensorFlow may use on each GPU

    memory = [d.memory_limit for d in device_lib.list_local_devices() if d.device_type == "GPU"]
    physical = tf.config.list_physical_devices("GPU")
    return [{"name": detail.get("device_name") or physical[index].name,
             "compute_capability": tuple(detail["compute_capability"]) if detail.get("compute_capability") else None,
             "memory_bytes": memory[index] if index < len(memory) else None}
            for index, detail in enumerate(details)]


def real_build_info() -> dict:
    """``tf.sysconfig.get_build_info()``: whether TensorFlow was built with CUDA, and which CUDA / cuDNN."""
    from cnncourse.runtime import import_tensorflow

    return dict(import_tensorflow().sysconfig.get_build_info())


def real_nvidia_driver() -> str | None:
    """The NVIDIA driver on this machine (from /proc/driver/nvidia/version or nvidia-smi), or None."""
    version_file = Path("/proc/driver/nvidia/version")
    if version_file.is_file():
        first = version_file.read_text(errors="replace").splitlines()[:1]
        return f"{first[0].strip() if first else 'present'} ({version_file})"
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            result = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return f"nvidia-smi at {smi}"
        version = result.stdout.strip().splitlines()[:1]
        return f"driver {version[0]} (nvidia-smi)" if result.returncode == 0 and version else f"nvidia-smi at {smi}"
    return None


def real_gpu_extra_installed() -> bool:
    """True when the ``gpu`` extra's CUDA libraries (the nvidia-cudnn-cu* wheel) are installed."""
    from importlib import metadata

    return any((dist.metadata["Name"] or "").lower().startswith("nvidia-cudnn-cu") for dist in metadata.distributions())


def _gigabytes(count) -> str:
    return f"{count / 2**30:.1f} GiB" if count else "memory unknown"


def gpu_findings(gpus: list[dict] | None = None, build_info: dict | None = None, driver: str | None | bool = False,
                 gpu_extra: bool | None = None, profile: str | None = None) -> list[Finding]:
    """The GPU part of the report; every argument left out is probed on this machine (tests pass fakes).

    Args:
        gpus: as :func:`real_gpus` returns them.
        build_info: as ``tf.sysconfig.get_build_info()`` returns it.
        driver: a description of the NVIDIA driver, ``None`` for no driver; ``False`` probes.
        gpu_extra: whether the ``gpu`` extra is installed.
        profile: the active profile (default: :func:`cnncourse.config.current_profile`).
    """
    from cnncourse.runtime import precision_policy

    gpus = real_gpus() if gpus is None else gpus
    build_info = real_build_info() if build_info is None else build_info
    driver = real_nvidia_driver() if driver is False else driver
    gpu_extra = real_gpu_extra_installed() if gpu_extra is None else gpu_extra
    if profile is None:
        from cnncourse.config import current_profile

        try:
            profile = current_profile()
        except ValueError:  # a bad CNNCOURSE_PROFILE: its own finding says so
            profile = None
    findings = []
    if gpus:
        listed = "; ".join(f"GPU {i}: {g.get('name', '?')}, {_gigabytes(g.get('memory_bytes'))}, compute capability "
                           f"{'.'.join(map(str, g['compute_capability'])) if g.get('compute_capability') else 'unknown'}"
                           for i, g in enumerate(gpus))
        findings.append(Finding("gpu", True, f"{len(gpus)} GPU(s): {listed}", required=False))
    elif driver:
        findings.append(Finding("gpu", False, f"an NVIDIA driver is here ({driver}) but TensorFlow sees no GPU",
                                GPU_EXTRA_FIX if not gpu_extra else
                                "the gpu extra is installed: check that the driver supports the CUDA version below "
                                "(nvidia-smi shows the newest CUDA it supports)", required=False))
    else:
        findings.append(Finding("gpu", True, "none (the CPU will do; notebooks use the quick profile)",
                                required=False))
    if build_info.get("is_cuda_build"):
        findings.append(Finding("cuda build", True, f"TensorFlow built with CUDA {build_info.get('cuda_version', '?')}, "
                                f"cuDNN {build_info.get('cudnn_version', '?')}", required=False))
    else:
        findings.append(Finding("cuda build", True, "TensorFlow built without CUDA (a CPU-only build)", required=False))
    if driver and not gpu_extra:
        findings.append(Finding("gpu extra", bool(gpus), "not installed on a machine with an NVIDIA driver"
                                + (" (this TensorFlow finds its CUDA libraries elsewhere)" if gpus else ""),
                                GPU_EXTRA_FIX, required=False))
    else:
        findings.append(Finding("gpu extra", True, "installed" if gpu_extra else "not installed (no NVIDIA driver here)",
                                required=False))
    findings.append(Finding("xla", True, "model.compile(jit_compile='auto') compiles with XLA on the GPU (not under a "
                            "multi-GPU MirroredStrategy)" if gpus else "not used by model.compile on a CPU-only machine "
                            "(tf.function(jit_compile=True) still works)", required=False))
    if profile is None:
        findings.append(Finding("mixed precision", True, "depends on the profile (see below)", required=False))
    else:
        policy = precision_policy(profile, [{"compute_capability": g.get("compute_capability")} for g in gpus])
        if policy != "float32":
            why = ""
        elif profile != "full":
            why = " (mixed_float16 is for the full profile on a GPU)"
        elif not gpus:
            why = " (no GPU)"
        else:
            why = " (mixed_float16 needs compute capability ≥ 7.0 on every GPU)"
        findings.append(Finding("mixed precision", True, f"{policy} in the {profile} profile{why}", required=False))
    findings.append(Finding("distribution", True,
                            f"MirroredStrategy over {len(gpus)} GPUs (cnncourse.distribute.pick_strategy)"
                            if len(gpus) >= 2 else "one device, the default strategy", required=False))
    return findings


def _devices() -> list[Finding]:
    from cnncourse.config import current_profile, gpu_available

    try:
        findings = gpu_findings()
    except Exception as error:  # noqa: BLE001 - a broken TensorFlow is reported by its own finding
        findings = [Finding("gpu", False, f"{type(error).__name__}: {error}"[:200], GPU_EXTRA_FIX, required=False)]
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
