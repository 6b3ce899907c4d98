"""`cnncourse doctor`'s GPU report, checked with faked GPUs, builds and drivers (no GPU needed)."""

import pytest

from cnncourse import doctor

CUDA_BUILD = {"is_cuda_build": True, "cuda_version": "12.5.1", "cudnn_version": "9"}
CPU_BUILD = {"is_cuda_build": False}
T4 = {"name": "Tesla T4", "compute_capability": (7, 5), "memory_bytes": 14_800 * 2**20}
P100 = {"name": "Tesla P100-PCIE-16GB", "compute_capability": (6, 0), "memory_bytes": 15_900 * 2**20}


def by_topic(findings):
    topics = [f.topic for f in findings]
    assert len(topics) == len(set(topics)), topics
    return {f.topic: f for f in findings}


def test_two_t4s_report_memory_capability_cuda_xla_mixed_precision_and_mirroring():
    found = by_topic(doctor.gpu_findings(gpus=[T4, T4], build_info=CUDA_BUILD, driver="driver 550.54 (nvidia-smi)",
                                         gpu_extra=True, profile="full"))
    assert found["gpu"].ok
    assert found["gpu"].detail == ("2 GPU(s): GPU 0: Tesla T4, 14.5 GiB, compute capability 7.5; "
                                   "GPU 1: Tesla T4, 14.5 GiB, compute capability 7.5")
    assert found["cuda build"].detail == "TensorFlow built with CUDA 12.5.1, cuDNN 9"
    assert found["gpu extra"].ok and found["gpu extra"].detail == "installed"
    assert "compiles with XLA on the GPU" in found["xla"].detail
    assert found["mixed precision"].detail == "mixed_float16 in the full profile"
    assert found["distribution"].detail == "MirroredStrategy over 2 GPUs (cnncourse.distribute.pick_strategy)"
    assert all(f.ok for f in found.values())


def test_old_gpu_keeps_float32_and_says_why():
    found = by_topic(doctor.gpu_findings(gpus=[P100], build_info=CUDA_BUILD, driver="d", gpu_extra=True,
                                         profile="full"))
    assert found["mixed precision"].detail == ("float32 in the full profile "
                                               "(mixed_float16 needs compute capability ≥ 7.0 on every GPU)")
    assert found["distribution"].detail == "one device, the default strategy"


def test_one_old_gpu_among_new_ones_keeps_float32():
    found = by_topic(doctor.gpu_findings(gpus=[T4, P100], build_info=CUDA_BUILD, driver="d", gpu_extra=True,
                                         profile="full"))
    assert found["mixed precision"].detail.startswith("float32 in the full profile")


def test_quick_profile_on_a_gpu_stays_float32():
    found = by_topic(doctor.gpu_findings(gpus=[T4], build_info=CUDA_BUILD, driver="d", gpu_extra=True,
                                         profile="quick"))
    assert found["mixed precision"].detail == "float32 in the quick profile (mixed_float16 is for the full profile on a GPU)"


def test_driver_without_the_gpu_extra_warns_with_the_fix():
    found = by_topic(doctor.gpu_findings(gpus=[], build_info=CUDA_BUILD, driver="NVRM version: 550.54 (/proc)",
                                         gpu_extra=False, profile="quick"))
    for topic in ("gpu", "gpu extra"):
        assert not found[topic].ok and not found[topic].required, topic  # a warning, not a failure
        assert found[topic].fix == doctor.GPU_EXTRA_FIX
    assert "an NVIDIA driver is here (NVRM version: 550.54 (/proc)) but TensorFlow sees no GPU" == found["gpu"].detail
    text, code = doctor.report(list(found.values()))
    assert code == 0
    assert "· gpu extra" in text and "fix: install the GPU extra: pip install -c constraints.txt -e '.[gpu]'" in text


def test_driver_with_the_extra_but_no_gpu_points_at_the_driver():
    found = by_topic(doctor.gpu_findings(gpus=[], build_info=CUDA_BUILD, driver="d", gpu_extra=True,
                                         profile="full"))
    assert not found["gpu"].ok and "check that the driver supports the CUDA version" in found["gpu"].fix
    assert found["gpu extra"].ok
    assert found["mixed precision"].detail == "float32 in the full profile (no GPU)"


def test_no_driver_no_gpu_cpu_build_is_all_fine():
    found = by_topic(doctor.gpu_findings(gpus=[], build_info=CPU_BUILD, driver=None, gpu_extra=False,
                                         profile="quick"))
    assert all(f.ok for f in found.values())
    assert found["gpu"].detail.startswith("none")
    assert found["cuda build"].detail == "TensorFlow built without CUDA (a CPU-only build)"
    assert found["gpu extra"].detail == "not installed (no NVIDIA driver here)"
    assert found["xla"].detail.startswith("not used by model.compile on a CPU-only machine")


def test_real_probes_on_this_machine_agree_with_tensorflow():
    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    gpus = doctor.real_gpus()
    assert len(gpus) == len(tf.config.list_physical_devices("GPU"))
    assert doctor.real_build_info()["is_cuda_build"] == tf.test.is_built_with_cuda()
    assert isinstance(doctor.real_gpu_extra_installed(), bool)


def test_driver_probe_reads_proc_then_nvidia_smi(monkeypatch, tmp_path):
    version = tmp_path / "version"
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\nGCC version: 12\n")
    real_path = doctor.Path
    monkeypatch.setattr(doctor, "Path", lambda p: version if p == "/proc/driver/nvidia/version" else real_path(p))
    assert doctor.real_nvidia_driver() == f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15 ({version})"

    monkeypatch.setattr(doctor, "Path", lambda p: tmp_path / "absent" if p == "/proc/driver/nvidia/version"
                        else real_path(p))
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 550.54.15\n")
    smi.chmod(0o755)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: str(smi) if name == "nvidia-smi" else None)
    assert doctor.real_nvidia_driver() == "driver 550.54.15 (nvidia-smi)"
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    assert doctor.real_nvidia_driver() is None


@pytest.mark.gpu
def test_on_a_gpu_machine_the_doctor_sees_it():
    from cnncourse.runtime import import_tensorflow

    if not import_tensorflow().config.list_physical_devices("GPU"):
        pytest.skip("no GPU visible to TensorFlow")
    found = by_topic(doctor.gpu_findings(profile="full"))
    assert found["gpu"].ok and "compute capability" in found["gpu"].detail
    assert found["cuda build"].detail.startswith("TensorFlow built with CUDA")
