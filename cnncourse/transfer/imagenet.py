"""ImageNet backbones from ``keras.applications``, as an opt-in that never downloads by surprise.

:func:`load_imagenet_backbone` builds MobileNetV2, ResNet50 or VGG16 and loads their ImageNet
weights from Keras's cache folder, ``$KERAS_HOME/models`` (default ``~/.keras/models``,
read when the function is called). When the file is not there it downloads it only if asked
(``allow_download=True``, or ``allow_download=None`` with the environment variable
``CNNCOURSE_ALLOW_DOWNLOADS=1``); otherwise it raises :class:`WeightsNotAvailableError`, one
message naming the file, its size, the cache folder, how to get it, and the offline
backbone to use instead (:func:`cnncourse.transfer.load_backbone`).

A cached file is loaded as it is (``model.load_weights``): copy the original file from a
machine that downloaded it (same name). Downloads go through ``keras.utils.get_file``, which
checks the hash Keras publishes where it has one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnncourse._validation import check_array, check_bool, check_choice, check_int_tuple, describe

DOWNLOAD_VARIABLE = "CNNCOURSE_ALLOW_DOWNLOADS"
_ORIGIN = "https://storage.googleapis.com/tensorflow/keras-applications/"
_MOBILENET_ROWS = (96, 128, 160, 192, 224)

#: The weights files, as Keras names them (``include_top=False`` / ``True``), with their
#: approximate download sizes and Keras's published hashes (``None``: Keras has none).
IMAGENET_WEIGHTS = {
    "mobilenet_v2": {
        "no_top": ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5", "about 9 MB", None),
        "top": ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}.h5", "about 14 MB", None),
        "folder": "mobilenet_v2/",
    },
    "resnet50": {
        "no_top": ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "about 95 MB",
                   "4d473c1dd8becc155b73f8504c6f6626"),
        "top": ("resnet50_weights_tf_dim_ordering_tf_kernels.h5", "about 103 MB", "2cb95161c43110f7111970584f804107"),
        "folder": "resnet/",
    },
    "vgg16": {
        "no_top": ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "about 59 MB",
                   "6d6bbae143d832006294945121d1f1fc"),
        "top": ("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "about 553 MB", "64373286793e3c8b2b4e3219cbf3544b"),
        "folder": "vgg16/",
    },
}
IMAGENET_BACKBONES = tuple(IMAGENET_WEIGHTS)
_OFFLINE = ("cnncourse.transfer.load_backbone() (the course CNN, pre-trained offline, weights shipped "
            "with the package, input (N, 32, 32, 3) in [0, 1])")


class WeightsNotAvailableError(RuntimeError):
    """ImageNet weights are not in Keras's cache and downloading was not allowed.

    Attributes:
        name: the backbone (``"mobilenet_v2"``, ``"resnet50"``, ``"vgg16"``).
        file_name: the weights file Keras expects; size: its approximate download size.
        cache_dir: the folder searched (``$KERAS_HOME/models``); url: where the file comes from.
        substitute: the offline backbone to use instead.
    """

    def __init__(self, name: str, file_name: str, size: str, cache_dir: Path, url: str):
        self.name, self.file_name, self.size, self.cache_dir, self.url = name, file_name, size, cache_dir, url
        self.substitute = _OFFLINE
        super().__init__(
            f"ImageNet weights for {name} are not available offline: {file_name} ({size}) is not in the Keras "
            f"cache folder {cache_dir}, and downloads are off. To use them, either call "
            f"load_imagenet_backbone({name!r}, allow_download=True) (or set {DOWNLOAD_VARIABLE}=1) on a machine "
            f"with internet access, or copy {file_name} from {url} into {cache_dir}. "
            f"Offline alternative: {_OFFLINE}."
        )


def keras_cache_dir() -> Path:
    """Keras's weights cache, read now: ``$KERAS_HOME/models``, default ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def downloads_allowed(allow_download=None) -> bool:
    """``allow_download`` if it is a bool; for ``None``, whether ``CNNCOURSE_ALLOW_DOWNLOADS`` is
    ``1`` / ``true`` / ``yes`` (case-insensitive)."""
    if allow_download is None:
        return os.environ.get(DOWNLOAD_VARIABLE, "").strip().lower() in ("1", "true", "yes")
    return check_bool("allow_download", allow_download)


def imagenet_weights_file(name: str, *, input_shape=(224, 224, 3), include_top: bool = False) -> tuple[str, str, str | None, str]:
    """``(file name, approximate size, hash or None, url)`` of the weights Keras uses for this model."""
    check_choice("name", name, IMAGENET_BACKBONES, "ImageNet backbone")
    entry = IMAGENET_WEIGHTS[name]
    file_name, size, file_hash = entry["top" if include_top else "no_top"]
    rows = input_shape[0] if input_shape[0] == input_shape[1] and input_shape[0] in _MOBILENET_ROWS else 224
    file_name = file_name.format(rows=rows)
    return file_name, size, file_hash, _ORIGIN + entry["folder"] + file_name


def _constructor(name: str):
    import keras

    return {"mobilenet_v2": keras.applications.MobileNetV2, "resnet50": keras.applications.ResNet50,
            "vgg16": keras.applications.VGG16}[name]


def load_imagenet_backbone(name: str, *, input_shape=(224, 224, 3), include_top: bool = False, allow_download=None):
    """A ``keras.applications`` network with ImageNet weights, from the cache or (if allowed) the web.

    Args:
        name: ``"mobilenet_v2"``, ``"resnet50"`` or ``"vgg16"``.
        input_shape: ``(H, W, 3)`` of the images (default ``(224, 224, 3)``; at least 32 × 32,
            and exactly ``(224, 224, 3)`` with ``include_top``). MobileNetV2's weights exist
            for square 96, 128, 160, 192 and 224 (other sizes use the 224 ones).
        include_top: keep the 1000-class ImageNet classifier.
        allow_download: ``True`` downloads a missing file, ``False`` never does, ``None``
            (default) reads ``CNNCOURSE_ALLOW_DOWNLOADS``.

    Returns:
        The ``keras.Model``: images ``(N, H, W, 3)`` preprocessed with
        :func:`imagenet_preprocess` → a 4-D feature map (``(N, 7, 7, 1280)`` MobileNetV2,
        ``(N, 7, 7, 2048)`` ResNet50, ``(N, 7, 7, 512)`` VGG16 at 224 × 224), or ``(N, 1000)``
        probabilities with ``include_top``.

    Raises:
        WeightsNotAvailableError: the weights are not cached and downloads are off.
    """
    check_choice("name", name, IMAGENET_BACKBONES, "ImageNet backbone")
    input_shape = check_int_tuple("input_shape", input_shape, length=3, minimum=1)
    if input_shape[2] != 3 or min(input_shape[:2]) < 32:
        raise ValueError(f"input_shape must be (H, W, 3) with H, W >= 32, got {input_shape}")
    include_top = check_bool("include_top", include_top)
    if include_top and input_shape != (224, 224, 3):
        raise ValueError(f"input_shape must be (224, 224, 3) with include_top=True, got {input_shape}")
    allowed = downloads_allowed(allow_download)
    file_name, size, file_hash, url = imagenet_weights_file(name, input_shape=input_shape, include_top=include_top)
    cache = keras_cache_dir()
    path = cache / file_name
    if not path.is_file():
        if not allowed:
            raise WeightsNotAvailableError(name, file_name, size, cache, url)
        import keras

        path = Path(keras.utils.get_file(file_name, url, cache_subdir="models", cache_dir=str(cache.parent),
                                         file_hash=file_hash))
    model = _constructor(name)(weights=None, include_top=include_top, input_shape=input_shape)
    model.load_weights(str(path))
    return model


def imagenet_preprocess(name: str, images) -> np.ndarray:
    """Images in ``[0, 1]`` as the ImageNet network ``name`` expects them.

    Args:
        name: ``"mobilenet_v2"`` (scaled to ``[-1, 1]``), ``"resnet50"`` or ``"vgg16"``
            (RGB → BGR, ImageNet channel means subtracted, 0..255 scale).
        images: float ``(N, H, W, 3)`` RGB in ``[0, 1]`` (gray images: see
            :func:`cnncourse.transfer.to_backbone_input`).

    Returns:
        float32 ``(N, H, W, 3)``.
    """
    check_choice("name", name, IMAGENET_BACKBONES, "ImageNet backbone")
    images = check_array("images", images, ndim=4, kinds="f", what="(N, H, W, 3) float in [0, 1]")
    if images.shape[-1] != 3:
        raise ValueError(f"images must have 3 channels (N, H, W, 3), got shape {images.shape}")
    import keras

    module = {"mobilenet_v2": keras.applications.mobilenet_v2, "resnet50": keras.applications.resnet50,
              "vgg16": keras.applications.vgg16}[name]
    return np.asarray(module.preprocess_input(images.astype(np.float32) * np.float32(255.0)), dtype=np.float32)
