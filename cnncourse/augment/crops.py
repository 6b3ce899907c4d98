"""AlexNet's first augmentation: random crops (translations) and horizontal reflections.

AlexNet trained on random 224 × 224 patches of 256 × 256 images and their mirror images,
"increasing the size of the training set by a factor of 2048" ((256 - 224)² · 2 = 2048);
at test time it averaged the predictions of ten patches (the four corners and the centre,
and their reflections). :func:`alexnet_crop_and_flip` builds the training-time pipeline from
Keras's own layers; :func:`ten_crops` is the test-time set.
"""

from __future__ import annotations

import numpy as np

from cnncourse._validation import check_array, check_int_tuple, check_seed


def augmented_copies(image_size, crop_size) -> int:
    """How many distinct crop + reflection images one image gives: ``(H-h+1)(W-w+1)·2``.

    The AlexNet paper counts ``(256 - 224)² · 2 = 2048`` (it leaves out the +1).
    """
    height, width = check_int_tuple("image_size", image_size, 2, minimum=1)
    crop_h, crop_w = check_int_tuple("crop_size", crop_size, 2, minimum=1)
    if crop_h > height or crop_w > width:
        raise ValueError(f"crop_size {crop_size} must fit in image_size {image_size}")
    return (height - crop_h + 1) * (width - crop_w + 1) * 2


def alexnet_crop_and_flip(crop_size, seed: int = 0):
    """Random ``crop_size`` patches and random left-right reflections, as AlexNet trained.

    Args:
        crop_size: ``h`` or ``(h, w)``, the patch size.
        seed: seed of the two layers.

    Returns:
        ``keras.Sequential([RandomCrop(h, w), RandomFlip("horizontal")])``: float
        ``(B, H, W, C)`` → ``(B, h, w, C)``; at inference (``training=False``) Keras's
        ``RandomCrop`` takes the centre patch and the flip does nothing.
    """
    import keras

    crop_h, crop_w = check_int_tuple("crop_size", crop_size, 2, minimum=1)
    seed = check_seed("seed", seed)
    return keras.Sequential(
        [keras.layers.RandomCrop(crop_h, crop_w, seed=seed), keras.layers.RandomFlip("horizontal", seed=seed + 1)],
        name="alexnet_crop_and_flip",
    )


def ten_crops(images, crop_size) -> np.ndarray:
    """AlexNet's ten test patches: four corners, the centre, and the reflection of each.

    Args:
        images: ``(N, H, W, C)`` array.
        crop_size: ``h`` or ``(h, w)``.

    Returns:
        ``(10, N, h, w, C)``: top-left, top-right, bottom-left, bottom-right, centre, then
        the same five flipped left-right.
    """
    images = check_array("images", images, ndim=4, what="(N, H, W, C)")
    crop_h, crop_w = check_int_tuple("crop_size", crop_size, 2, minimum=1)
    height, width = images.shape[1:3]
    if crop_h > height or crop_w > width:
        raise ValueError(f"crop_size {crop_size} must fit in the images' size {(height, width)}")
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    corners = [(0, 0), (0, width - crop_w), (height - crop_h, 0), (height - crop_h, width - crop_w), (top, left)]
    patches = [images[:, y : y + crop_h, x : x + crop_w] for y, x in corners]
    return np.stack(patches + [p[:, :, ::-1] for p in patches])
