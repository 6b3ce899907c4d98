"""The course's own offline backbone: a small BatchNorm CNN pre-trained on the source task.

The network (``"course_cnn"``) takes float32 ``(N, 32, 32, 3)`` RGB images in ``[0, 1]``
and is made of four named blocks; the output layer of each block carries the block's name,
so ``model.get_layer("block2").output`` is what block 2 hands on:

=========  ============================================================  ==================
block      layers                                                        output
=========  ============================================================  ==================
block1     block1_conv1, block1_bn1, block1_relu1, block1 (MaxPool 2)    (N, 16, 16, 24)
block2     block2_conv1/_bn1/_relu1, block2_conv2/_bn2/_relu2, block2    (N, 8, 8, 48)
block3     block3_conv1/_bn1/_relu1, block3_conv2/_bn2/_relu2, block3    (N, 4, 4, 96)
block4     block4_conv1, block4_bn1, block4_relu1, block4 (global avg)   (N, 192)
=========  ============================================================  ==================

Every convolution is 3 × 3, ``"same"`` padding, no bias (BatchNorm follows). With
``include_top=True`` a last layer ``source_logits`` (Dense 50, logits) classifies the source
task of :mod:`cnncourse.transfer.source`.

The pre-trained weights ship inside the package (``weights/course_cnn.weights.h5``, about
1.4 MB) with a JSON manifest: the recipe, the seed, the source accuracy, the sha256 of the
weights file and the library versions. ``python -m cnncourse.transfer.pretrain --out DIR``
retrains them from scratch (see :mod:`cnncourse.transfer.pretrain`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from cnncourse._validation import check_array, check_bool, check_int, check_seed, describe

#: The backbone's blocks, bottom to top; each is also the name of the block's output layer.
BLOCK_NAMES = ("block1", "block2", "block3", "block4")
#: Filters of each block and convolutions per block.
WIDTHS = (24, 48, 96, 192)
CONVOLUTIONS = (1, 2, 2, 1)
INPUT_SHAPE = (32, 32, 3)
WEIGHTS_DIR = Path(__file__).with_name("weights")
WEIGHTS_FILE = "course_cnn.weights.h5"
MANIFEST_FILE = "course_cnn.json"


class WeightsIntegrityError(RuntimeError):
    """The shipped weights file is missing or its sha256 differs from the manifest's."""


def build_backbone(*, include_top: bool = False, seed: int = 0):
    """The course CNN with freshly initialised (random) weights: for training from scratch.

    Args:
        include_top: add the ``source_logits`` layer (Dense 50, logits).
        seed: seeds every initializer, so the same seed gives the same weights.

    Returns:
        A ``keras.Model`` named ``"course_cnn"``: input float32 ``(N, 32, 32, 3)`` in
        ``[0, 1]``, output ``(N, 192)`` block-4 features (or ``(N, 50)`` logits).
    """
    include_top = check_bool("include_top", include_top)
    seed = check_seed("seed", seed)
    import keras
    from keras import layers

    from cnncourse.transfer.source import NUM_SOURCE_CLASSES

    def init(k: int):
        return keras.initializers.HeNormal(seed=seed * 100 + k)

    x = inputs = keras.Input(INPUT_SHAPE, name="images")
    k = 0
    for b, (width, convs) in enumerate(zip(WIDTHS, CONVOLUTIONS), start=1):
        for j in range(1, convs + 1):
            k += 1
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=init(k), name=f"block{b}_conv{j}")(x)
            x = layers.BatchNormalization(name=f"block{b}_bn{j}")(x)
            x = layers.ReLU(name=f"block{b}_relu{j}")(x)
        pool = layers.GlobalAveragePooling2D if b == len(WIDTHS) else layers.MaxPooling2D
        x = pool(name=f"block{b}")(x)
    if include_top:
        x = layers.Dense(NUM_SOURCE_CLASSES, kernel_initializer=keras.initializers.GlorotUniform(seed=seed * 100 + 99), name="source_logits")(x)
    return keras.Model(inputs, x, name="course_cnn")


def sha256_of(path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def backbone_manifest(weights_dir=None) -> dict:
    """The manifest of the shipped (or of ``weights_dir``'s) weights, as a dict.

    Keys: ``"weights_file"``, ``"sha256"``, ``"seed"``, ``"recipe"`` (everything the
    pre-training used), ``"source_accuracy"`` (``{"val": ..., "test": ...}`` on held-out
    source images), ``"versions"`` (Python, NumPy, TensorFlow, Keras), ``"train_seconds"``.
    """
    folder = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise WeightsIntegrityError(f"no backbone manifest {MANIFEST_FILE} in {folder}; retrain with "
                                    f"`python -m cnncourse.transfer.pretrain --out {folder}`")
    return json.loads(path.read_text())


def load_backbone(*, include_top: bool = False, trainable: bool = False, weights_dir=None):
    """The pre-trained course CNN, offline (about 0.2 s): the shipped weights, sha256 checked.

    Args:
        include_top: keep the ``source_logits`` layer (the 50-class source classifier).
        trainable: the model's ``trainable`` flag (default frozen, as a feature extractor).
        weights_dir: a folder written by ``python -m cnncourse.transfer.pretrain --out DIR``
            (default: the weights shipped in the package).

    Returns:
        ``keras.Model`` ``"course_cnn"``: float32 ``(N, 32, 32, 3)`` in ``[0, 1]`` →
        ``(N, 192)`` block-4 features, or ``(N, 50)`` source logits with ``include_top``.
        Layer names as in the module docstring.

    Raises:
        WeightsIntegrityError: the weights file is missing or does not match the manifest.
    """
    include_top = check_bool("include_top", include_top)
    trainable = check_bool("trainable", trainable)
    manifest = backbone_manifest(weights_dir)
    folder = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    path = folder / manifest["weights_file"]
    if not path.is_file():
        raise WeightsIntegrityError(f"backbone weights {path} are missing; retrain with "
                                    f"`python -m cnncourse.transfer.pretrain --out {folder}`")
    actual = sha256_of(path)
    if actual != manifest["sha256"]:
        raise WeightsIntegrityError(f"backbone weights {path} have sha256 {actual}, but the manifest "
                                    f"says {manifest['sha256']}: the file is damaged or not the one described")
    full = build_backbone(include_top=True, seed=manifest["seed"])
    full.load_weights(path)
    if include_top:
        model = full
    else:
        import keras

        model = keras.Model(full.input, full.get_layer(BLOCK_NAMES[-1]).output, name="course_cnn")
    model.trainable = trainable
    return model


def to_backbone_input(images, image_size: int = INPUT_SHAPE[0]) -> np.ndarray:
    """Images of any target task in the backbone's input format.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``; floats in ``[0, 1]`` or
            uint8 ``0..255`` (e.g. ``load_faces().train.images`` or ``load_digits(...)``).
        image_size: output side (default 32, the backbone's).

    Returns:
        float32 ``(N, image_size, image_size, 3)`` in ``[0, 1]``: gray images repeated into
        three channels, bilinearly resized (anti-aliased when shrinking).
    """
    images = check_array("images", images, ndim=(3, 4), kinds="uif", what="(N, H, W), (N, H, W, 1) or (N, H, W, 3)")
    image_size = check_int("image_size", image_size, minimum=8, maximum=512)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels (N, H, W, C), got shape {images.shape}")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / np.float32(255.0)
    elif images.dtype.kind in "iu":
        raise TypeError(f"images must be float in [0, 1] or uint8, got dtype {images.dtype} ({describe(images)})")
    images = images.astype(np.float32)
    if images.shape[1:3] != (image_size, image_size):
        from cnncourse._tensorflow import import_tensorflow

        tf = import_tensorflow()
        images = tf.image.resize(images, (image_size, image_size), method="bilinear", antialias=True).numpy()
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def cut_backbone(model, layer: str):
    """``model`` chopped at ``layer``: a ``keras.Model`` from its input to that layer's output.

    The weights are shared (training the cut model trains ``model``). E.g.
    ``cut_backbone(load_backbone(), "block3")`` → ``(N, 32, 32, 3)`` → ``(N, 4, 4, 96)``; its
    blocks (:func:`cnncourse.transfer.backbone_blocks`) are ``block1`` … ``block3``.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {describe(model)}")
    names = [item.name for item in model.layers]
    if not isinstance(layer, str) or layer not in names:
        raise ValueError(f"layer must name a layer of {model.name!r} (e.g. {', '.join(names[-4:])}), got {describe(layer)}")
    cut = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, model.get_layer(layer).output,
                      name=model.name)
    cut.trainable = model.trainable
    return cut
