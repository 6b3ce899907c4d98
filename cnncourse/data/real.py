"""Real images that ship inside installed packages: nothing is downloaded.

- :func:`load_digits`: scikit-learn's 1,797 handwritten digits (8×8, 10 classes), resized to
  an MNIST-like 28×28 (the digit fills the central 20×20, as in MNIST).
- :func:`load_faces`: scikit-image's ``lfw_subset``: 100 face and 100 non-face 25×25 patches.
- :func:`sample_image` / :func:`sample_images`: photos shipped with scikit-image and
  scikit-learn (astronaut, camera, coffee, chelsea, rocket, china, flower, …) for the
  convolution-by-hand notebooks.

Conventions (the same for every loader in :mod:`cnncourse.data`):

- images are float32 in ``[0, 1]``, channels last: ``(N, H, W, C)``;
- labels are int32 class indices, with the names in ``class_names``;
- splits are stratified and deterministic: the same ``seed`` gives the same split.

Example::

    >>> from cnncourse.data import load_digits
    >>> (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_train.dtype, y_train[:5]
    ((1257, 28, 28, 1), dtype('float32'), array([...], dtype=int32))
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_int_tuple,
    check_names,
    check_positive_int,
    check_seed,
)
from cnncourse.data.splits import Splits, make_splits

DIGIT_CLASS_NAMES = tuple(str(d) for d in range(10))
FACE_CLASS_NAMES = ("not face", "face")

#: Photos that load offline, with where they come from. Every entry is a file inside the
#: scikit-image or scikit-learn wheel (a test loads each one with the network blocked).
#: scikit-image's other images (``brain``, ``cells3d``, ``eagle``, ``kidney``, ``lily``, …)
#: need a download through ``pooch`` and are deliberately left out.
SAMPLE_IMAGES: dict[str, str] = {
    "astronaut": "skimage: astronaut Eileen Collins, 512×512 RGB",
    "camera": "skimage: cameraman, 512×512 gray",
    "coffee": "skimage: a cup of coffee, 400×600 RGB",
    "chelsea": "skimage: Chelsea the cat, 300×451 RGB",
    "rocket": "skimage: a rocket on the launch pad, 427×640 RGB",
    "coins": "skimage: Greek coins, 303×384 gray",
    "moon": "skimage: surface of the moon, 512×512 gray",
    "brick": "skimage: brick wall texture, 512×512 gray",
    "grass": "skimage: grass texture, 512×512 gray",
    "gravel": "skimage: gravel texture, 512×512 gray",
    "text": "skimage: text on a page, 172×448 gray",
    "page": "skimage: scanned page, 191×384 gray",
    "clock": "skimage: motion-blurred clock, 300×400 gray",
    "cell": "skimage: cell under a microscope, 660×550 gray",
    "checkerboard": "skimage: checkerboard, 200×200 gray",
    "horse": "skimage: horse silhouette, 328×400 binary",
    "hubble_deep_field": "skimage: Hubble deep field, 872×1000 RGB",
    "immunohistochemistry": "skimage: immunohistochemistry stain, 512×512 RGB",
    "colorwheel": "skimage: colour wheel, 370×371 RGB",
    "retina": "skimage: human retina, 1411×1411 RGB",
    "microaneurysms": "skimage: retina with microaneurysms, 102×102 gray",
    "shepp_logan_phantom": "skimage: Shepp-Logan phantom, 400×400 gray",
    "logo": "skimage: scikit-image logo (composited on white), 500×500 RGB",
    "china": "sklearn: a Chinese temple, 427×640 RGB",
    "flower": "sklearn: a flower, 427×640 RGB",
}


def _check_fractions(val_fraction, test_fraction, n: int, num_classes: int) -> tuple[float, float]:
    val_fraction = check_float("val_fraction", val_fraction, minimum=0.0, maximum=1.0, include_maximum=False)
    test_fraction = check_float("test_fraction", test_fraction, minimum=0.0, maximum=1.0, include_maximum=False)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 (something must be left to train on), "
            f"got {val_fraction} + {test_fraction}"
        )
    smallest = (num_classes - 0.5) / n
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if 0 < value and round(value * n) < num_classes:
            raise ValueError(
                f"{name}={value} gives fewer than {num_classes} of the {n} examples, too few for a "
                f"stratified split of {num_classes} classes; use 0 or a value >= {smallest:.3f}"
            )
    return val_fraction, test_fraction


def _resize_stack(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a stack ``(N, h, w)`` to ``(N, *size)`` (float64 in, float32 out)."""
    from skimage.transform import resize

    if images.shape[1:] == tuple(size):
        return images.astype(np.float32)
    # The stack axis goes last so that scikit-image treats it as channels (no mixing).
    stacked = np.moveaxis(images, 0, -1)
    resized = resize(stacked, (*size, images.shape[0]), order=1, mode="edge", anti_aliasing=False)
    return np.clip(np.moveaxis(resized, -1, 0), 0.0, 1.0).astype(np.float32)


def digit_images(image_size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as ``(images[N, S, S, 1] float32 in [0, 1], labels[N] int32)``.

    The 8×8 originals (values 0..16) are scaled to ``[0, 1]`` and bilinearly resized so that
    the digit fills the central ``round(S·20/28)`` pixels, leaving a black margin like MNIST.
    """
    image_size = check_int("image_size", image_size, minimum=8, maximum=512)
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    raw = bunch.images / 16.0
    inner = max(8, round(image_size * 20 / 28))
    resized = _resize_stack(raw, (inner, inner))
    before = (image_size - inner) // 2
    after = image_size - inner - before
    images = np.pad(resized, ((0, 0), (before, after), (before, after)))
    return images[..., None].astype(np.float32), bunch.target.astype(np.int32)


def load_digits(
    image_size: int = 28,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    as_dataset: bool = False,
    batch_size: int = 32,
) -> Splits:
    """scikit-learn's handwritten digits, MNIST-like, split into train / val / test.

    Args:
        image_size: side ``S`` of the square output images (8..512; default 28 as MNIST).
        val_fraction, test_fraction: shares of the 1,797 images for validation and test
            (stratified by class; the rest is for training).
        seed: fixes the split (and the shuffle order with ``as_dataset=True``).
        as_dataset: return ``tf.data.Dataset`` s of ``(images, labels)`` batches (train
            reshuffled every epoch, all prefetched) instead of NumPy arrays.
        batch_size: batch size of the datasets.

    Returns:
        :class:`~cnncourse.data.splits.Splits` with images float32 ``(N, S, S, 1)`` in
        ``[0, 1]`` (white digit on black), labels int32 ``(N,)`` in ``0..9`` and
        ``class_names = ('0', ..., '9')``. With the defaults: 1257 / 270 / 270 images.
    """
    images, labels = digit_images(image_size)
    return _checked_splits(images, labels, DIGIT_CLASS_NAMES, val_fraction, test_fraction, seed, as_dataset, batch_size)


def face_images(image_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """All 200 ``lfw_subset`` patches as ``(images[N, S, S, 1] float32, labels[N] int32)``.

    scikit-image stores 100 faces followed by 100 non-face patches; label 1 means face.
    """
    image_size = check_int("image_size", image_size, minimum=8, maximum=512)
    from skimage.data import lfw_subset

    raw = lfw_subset().astype(np.float64)
    labels = np.repeat(np.array([1, 0], dtype=np.int32), len(raw) // 2)
    images = _resize_stack(raw, (image_size, image_size))
    return images[..., None], labels


def load_faces(
    image_size: int = 32,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    as_dataset: bool = False,
    batch_size: int = 32,
) -> Splits:
    """scikit-image's ``lfw_subset``: face vs not-face patches, split into train / val / test.

    Args:
        image_size: side of the square output images (the originals are 25×25; default 32,
            a size that pools evenly).
        val_fraction, test_fraction, seed, as_dataset, batch_size: as in :func:`load_digits`.

    Returns:
        :class:`~cnncourse.data.splits.Splits` with images float32 ``(N, S, S, 1)`` in
        ``[0, 1]``, labels int32 (1 = face, 0 = not face) and
        ``class_names = ('not face', 'face')``. With the defaults: 140 / 30 / 30 images.
    """
    images, labels = face_images(image_size)
    return _checked_splits(images, labels, FACE_CLASS_NAMES, val_fraction, test_fraction, seed, as_dataset, batch_size)


def _checked_splits(images, labels, class_names, val_fraction, test_fraction, seed, as_dataset, batch_size) -> Splits:
    """Validate the split arguments shared by the loaders, then split (see :func:`make_splits`)."""
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction, len(labels), len(class_names))
    return make_splits(
        images,
        labels,
        class_names,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=check_seed("seed", seed),
        as_dataset=check_bool("as_dataset", as_dataset),
        batch_size=check_positive_int("batch_size", batch_size),
    )


def _read_photo(name: str) -> np.ndarray:
    """The photo as stored: uint8/bool/float, gray ``(H, W)`` or colour ``(H, W, 3|4)``."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    return getattr(skimage.data, name)()


def _to_float_rgb(photo: np.ndarray) -> np.ndarray:
    """Any stored photo as float32 ``(H, W, 3)`` in ``[0, 1]``."""
    if photo.dtype == np.uint8:
        image = photo.astype(np.float32) / 255.0
    else:  # bool masks and float phantoms are already in [0, 1]
        image = np.clip(photo.astype(np.float32), 0.0, 1.0)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.shape[-1] == 4:  # RGBA: composite over white
        alpha = image[..., 3:]
        image = image[..., :3] * alpha + (1.0 - alpha)
    return image


def sample_image(name: str, *, grayscale: bool = False, size=None) -> np.ndarray:
    """One real photo shipped with scikit-image / scikit-learn, as floats in ``[0, 1]``.

    Args:
        name: a key of :data:`SAMPLE_IMAGES` (e.g. ``"astronaut"``, ``"camera"``,
            ``"coffee"``, ``"chelsea"``, ``"rocket"``, ``"china"``, ``"flower"``).
        grayscale: return one luminance channel (``skimage.color.rgb2gray`` weights).
        size: ``None`` (original size), an int ``S`` (resize to ``S × S``) or a pair
            ``(height, width)``; resizing is anti-aliased.

    Returns:
        float32 array in ``[0, 1]``: ``(H, W, 3)`` (RGB, channels last; gray photos are
        repeated over the three channels), or ``(H, W)`` with ``grayscale=True``.

    Example::

        >>> img = sample_image("camera", grayscale=True, size=128)
        >>> img.shape, img.dtype
        ((128, 128), dtype('float32'))
    """
    check_choice("name", name, SAMPLE_IMAGES, "sample image")
    grayscale = check_bool("grayscale", grayscale)
    if size is not None:
        size = check_int_tuple("size", size, 2)
    image = _to_float_rgb(_read_photo(name))
    if size is not None and image.shape[:2] != size:
        from skimage.transform import resize

        image = resize(image, (*size, 3), order=1, anti_aliasing=True, mode="reflect")
        image = np.clip(image, 0.0, 1.0).astype(np.float32)
    if grayscale:
        from skimage.color import rgb2gray

        image = rgb2gray(image).astype(np.float32)
    return image


def sample_images(names=None, *, grayscale: bool = False, size=None) -> dict[str, np.ndarray]:
    """Several photos (default: all of :data:`SAMPLE_IMAGES`) as ``{name: image}``.

    Arguments as in :func:`sample_image`.
    """
    names = tuple(SAMPLE_IMAGES) if names is None else check_names("names", names, tuple(SAMPLE_IMAGES), "sample image")
    return {name: sample_image(name, grayscale=grayscale, size=size) for name in names}
