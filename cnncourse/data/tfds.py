"""Real datasets from TensorFlow Datasets (tfds), for scaling up on a GPU: opt-in, never downloaded by default.

One function, :func:`load_tfds`, gives six datasets in this package's conventions:

==================  ====================================================================
``mnist``           ``(images, labels)`` batches: float32 ``(B, 28, 28, 1)`` in [0, 1], int32
``fashion_mnist``   same as mnist
``cifar10``         ``(images, labels)`` batches: float32 ``(B, 32, 32, 3)`` in [0, 1], int32
``oxford_iiit_pet`` Keras dicts ``{"images", "labels", "segmentation_masks"}``, resized to
                    ``image_size``; masks: 0 = background, 1 = pet, 2 = outline
``voc/2007``        Keras dicts ``{"images", "bounding_boxes": {"boxes", "labels"}}``,
                    resized to ``image_size``; boxes in pixels of the resized image in
                    ``bounding_box_format``, padded with -1 to ``max_boxes``
``imdb_reviews``    ``(texts, labels)`` batches: tf.string ``(B,)`` movie reviews, int32
                    ``(B,)`` (1 positive, 0 negative); tokenise with ``TextVectorization``
==================  ====================================================================

Nothing is downloaded unless you pass ``download=True``. When the data is not already
prepared in ``data_dir`` (default: tfds's own, ``~/tensorflow_datasets`` or
``$TFDS_DATA_DIR``), :class:`DatasetNotAvailableError` says what to download, how big it
is, where it was looked for, and which offline dataset of this package to use instead.

Example::

    >>> from cnncourse.data import load_tfds
    >>> train = load_tfds("mnist", split="train", batch_size=128)       # prepared data only
    >>> train = load_tfds("mnist", split="train", download=True)        # opt in to a download
"""

from __future__ import annotations

import contextlib
import os

from cnncourse._validation import (
    check_bool,
    check_box_format,
    check_choice,
    check_int,
    check_positive_int,
    check_seed,
)

#: Download sizes (from the URL checksum files that ship with tensorflow-datasets).
DOWNLOAD_SIZES = {
    "mnist": "11.06 MiB",
    "fashion_mnist": "29.45 MiB",
    "cifar10": "162.17 MiB",
    "oxford_iiit_pet": "773.52 MiB",
    "voc/2007": "868.85 MiB",
    "imdb_reviews": "80.23 MiB",
}

#: What to use instead, offline.
OFFLINE_SUBSTITUTES = {
    "mnist": "cnncourse.data.load_digits() (scikit-learn's 1,797 digits, 28x28)",
    "fashion_mnist": "cnncourse.data.load_shape_classes('shapes') (10 classes of 32x32 RGB)",
    "cifar10": "cnncourse.data.load_shape_classes('shapes') or ('textures') (10 classes of 32x32 RGB)",
    "oxford_iiit_pet": "cnncourse.data.make_shapes(...) (semantic masks) or make_single_shapes(...)",
    "voc/2007": "cnncourse.data.make_shapes(...) (boxes, labels and masks)",
    "imdb_reviews": "cnncourse.data.make_negation_sentences(...) (generated sentences with negation)",
}

SUPPORTED_DATASETS = tuple(DOWNLOAD_SIZES)
_CLASSIFICATION = ("mnist", "fashion_mnist", "cifar10")


class DatasetNotAvailableError(RuntimeError):
    """A tfds dataset is not prepared locally and downloading was not requested.

    Attributes:
        name: the tfds dataset name.
        download_size: human-readable download size.
        data_dir: the directory that was searched.
        substitute: the offline dataset of this package to use instead.
    """

    def __init__(self, name: str, data_dir: str, detail: str = ""):
        self.name = name
        self.download_size = DOWNLOAD_SIZES[name]
        self.data_dir = data_dir
        self.substitute = OFFLINE_SUBSTITUTES[name]
        message = (
            f"tfds dataset {name!r} is not available offline: it was not found prepared in {data_dir}, "
            f"and load_tfds does not download unless asked (download=False). "
            f"To use it, run load_tfds({name!r}, download=True) on a machine with internet access "
            f"(download size {self.download_size}), or copy a prepared tensorflow_datasets folder and "
            f"pass data_dir=... . Offline substitute: {self.substitute}."
        )
        if detail:
            message += f" (tfds said: {detail})"
        super().__init__(message)


@contextlib.contextmanager
def _quiet_absl():
    """Silence absl's WARNING lines (tfds logs through absl) for the duration."""
    from absl import logging as absl_logging

    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(before)


def _default_data_dir() -> str:
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def yxyx_relative_to_boxes(boxes, height, width, bounding_box_format: str = "xyxy"):
    """tfds's normalised ``[ymin, xmin, ymax, xmax]`` boxes ``(..., 4)`` to ``bounding_box_format`` in pixels.

    Works on TensorFlow tensors (inside ``tf.data``) and NumPy arrays alike, through
    ``keras.utils.bounding_boxes.convert_format``.

    Args:
        boxes: ``(..., 4)`` float boxes in ``rel_yxyx``.
        height, width: the image size the pixel boxes refer to.
        bounding_box_format: target Keras format name.
    """
    import keras

    bounding_box_format = check_box_format("bounding_box_format", bounding_box_format)
    return keras.utils.bounding_boxes.convert_format(
        boxes, source="rel_yxyx", target=bounding_box_format, height=height, width=width
    )


def load_tfds(
    name: str,
    split: str = "train",
    *,
    data_dir: str | None = None,
    batch_size: int = 32,
    shuffle: bool | None = None,
    seed: int = 0,
    image_size: int | None = None,
    max_boxes: int = 64,
    bounding_box_format: str = "xyxy",
    download: bool = False,
):
    """A tfds dataset as a batched, prefetched ``tf.data.Dataset`` in this package's conventions.

    Args:
        name: one of ``mnist``, ``fashion_mnist``, ``cifar10``, ``oxford_iiit_pet``,
            ``voc/2007``, ``imdb_reviews``.
        split: a tfds split string (``"train"``, ``"test"``, ``"train[:10%]"``, …; VOC also
            has ``"validation"``).
        data_dir: where the prepared data lives (passed to ``tfds.builder``); ``None`` means
            tfds's default.
        batch_size: examples per batch.
        shuffle: reshuffle every epoch (deterministically from ``seed``); default: for
            splits starting with ``"train"``.
        seed: shuffle seed.
        image_size: resize to ``S × S`` (bilinear; masks nearest). Default: the native size
            for mnist / fashion_mnist / cifar10, 128 for pets, 256 for VOC (whose images
            have various sizes, so they must be resized to be batched).
        max_boxes: VOC only: boxes per image after padding with -1 (extra boxes are dropped).
        bounding_box_format: VOC only: Keras format name of the returned boxes.
        download: allow tfds to download and prepare the data (off by default).

    Returns:
        ``tf.data.Dataset`` (see the table in the module docstring).

    Raises:
        DatasetNotAvailableError: the data is not prepared in ``data_dir`` and
            ``download=False``.
        ValueError / TypeError: for bad arguments.
    """
    check_choice("name", name, SUPPORTED_DATASETS, "supported tfds dataset")
    if not isinstance(split, str) or not split:
        raise TypeError(f"split must be a tfds split string such as 'train' or 'test[:10%]', got {split!r}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a path or None, got {data_dir!r} ({type(data_dir).__name__})")
    batch_size = check_positive_int("batch_size", batch_size)
    if shuffle is None:
        shuffle = split.startswith("train")
    shuffle = check_bool("shuffle", shuffle)
    seed = check_seed("seed", seed)
    if image_size is not None:
        image_size = check_int("image_size", image_size, minimum=8, maximum=2048)
    max_boxes = check_positive_int("max_boxes", max_boxes)
    bounding_box_format = check_box_format("bounding_box_format", bounding_box_format)
    download = check_bool("download", download)

    from cnncourse.runtime import import_tensorflow

    tf = import_tensorflow()
    import tensorflow_datasets as tfds

    data_dir = os.fspath(data_dir) if data_dir is not None else None
    with _quiet_absl():  # tfds warns about missing metadata before our own, clearer error
        builder = tfds.builder(name, data_dir=data_dir)
    if download:
        builder.download_and_prepare()
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    try:
        dataset = builder.as_dataset(split=split, shuffle_files=shuffle, read_config=read_config)
    except AssertionError as error:  # tfds: "Dataset X: could not find data in DIR ..."
        raise DatasetNotAvailableError(name, str(getattr(builder, "data_dir", None) or data_dir or _default_data_dir()), str(error).split(".")[0]) from None
    if shuffle:
        dataset = dataset.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    if name in _CLASSIFICATION:
        dataset = dataset.map(_classification_example(tf, image_size), num_parallel_calls=tf.data.AUTOTUNE)
    elif name == "oxford_iiit_pet":
        dataset = dataset.map(_pet_example(tf, image_size or 128), num_parallel_calls=tf.data.AUTOTUNE)
    elif name == "imdb_reviews":
        dataset = dataset.map(lambda example: (example["text"], tf.cast(example["label"], tf.int32)),
                              num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(
            _voc_example(tf, image_size or 256, max_boxes, bounding_box_format), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _scaled(tf, image):
    return tf.cast(image, tf.float32) / 255.0


def _classification_example(tf, image_size):
    def convert(example):
        image = _scaled(tf, example["image"])
        if image_size is not None:
            image = tf.image.resize(image, (image_size, image_size))
        return image, tf.cast(example["label"], tf.int32)

    return convert


def _pet_example(tf, image_size: int):
    def convert(example):
        image = tf.image.resize(_scaled(tf, example["image"]), (image_size, image_size))
        trimap = tf.cast(example["segmentation_mask"], tf.int32)  # 1 pet, 2 background, 3 outline
        trimap = tf.clip_by_value(trimap, 0, 3)  # guards the look-up below
        mask = tf.gather(tf.constant([0, 1, 0, 2], tf.int32), trimap)  # -> 0 background, 1 pet, 2 outline
        mask = tf.image.resize(mask, (image_size, image_size), method="nearest")
        return {"images": image, "labels": tf.cast(example["label"], tf.int32), "segmentation_masks": tf.cast(mask, tf.int32)}

    return convert


def _voc_example(tf, image_size: int, max_boxes: int, bounding_box_format: str):
    def convert(example):
        image = tf.image.resize(_scaled(tf, example["image"]), (image_size, image_size))
        boxes = tf.reshape(tf.cast(example["objects"]["bbox"], tf.float32), (-1, 4))
        labels = tf.cast(example["objects"]["label"], tf.int32)
        count = tf.minimum(tf.minimum(tf.shape(boxes)[0], tf.shape(labels)[0]), max_boxes)
        boxes, labels = boxes[:count], labels[:count]
        boxes = yxyx_relative_to_boxes(boxes, image_size, image_size, bounding_box_format)
        padding = max_boxes - count
        boxes = tf.pad(boxes, [[0, padding], [0, 0]], constant_values=-1.0)
        labels = tf.pad(labels, [[0, padding]], constant_values=-1)
        boxes = tf.ensure_shape(boxes, (max_boxes, 4))
        labels = tf.ensure_shape(labels, (max_boxes,))
        return {"images": image, "bounding_boxes": {"boxes": boxes, "labels": labels}}

    return convert
