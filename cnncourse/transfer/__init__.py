"""Transfer learning: an offline pre-trained backbone, feature extraction, linear probes, fine-tuning.

Usage summary::

    from cnncourse import transfer

    # The course's own backbone, pre-trained on a synthetic 50-class source task, offline.
    base = transfer.load_backbone()                      # (N, 32, 32, 3) in [0, 1] -> (N, 192)
    transfer.BLOCK_NAMES                                 # ("block1", ..., "block4"): layer names
    transfer.backbone_manifest()["source_accuracy"]     # {"val": ..., "test": ..., "chance": 0.02}
    x = transfer.to_backbone_input(faces.train.images)   # gray / any size -> (N, 32, 32, 3)
    scratch = transfer.build_backbone(seed=0)            # same architecture, random weights
    block3 = transfer.cut_backbone(base, "block3")       # chopped: (N, 32, 32, 3) -> (N, 4, 4, 96)

    # A network as a feature extractor; the Zeiler-Fergus table (a linear probe per layer).
    feats = transfer.extract_features(base, x, ["block2", "block4"], pooling="avg")
    table = transfer.linear_probe(base, (x_train, y_train), (x_test, y_test))
    print(table); table.test_accuracy["block3"]

    # Fine-tuning: head on a frozen base, then the top blocks at a lower learning rate,
    # BatchNorm kept in inference mode (batchnorm_training=True shows what goes wrong).
    result = transfer.fine_tune(base, (x_train, y_train), (x_val, y_val), num_classes=2,
                                head_epochs=5, fine_tune_epochs=5, unfreeze_blocks=2)
    result.model, result.head_history, result.fine_tune_history

    # ImageNet networks: opt-in, from Keras's cache; one clear error when offline.
    net = transfer.load_imagenet_backbone("mobilenet_v2", input_shape=(96, 96, 3))
    inputs = transfer.imagenet_preprocess("mobilenet_v2", images01)

Retrain the shipped weights: ``python -m cnncourse.transfer.pretrain --out DIR``.
One concept per module: :mod:`.source` (the source task), :mod:`.backbone`, :mod:`.features`,
:mod:`.probe`, :mod:`.fine_tune`, :mod:`.imagenet`, :mod:`.pretrain`. TensorFlow and Keras
are imported only by the functions that need them.
"""

from cnncourse.transfer.backbone import (
    BLOCK_NAMES,
    INPUT_SHAPE,
    WeightsIntegrityError,
    backbone_manifest,
    build_backbone,
    cut_backbone,
    load_backbone,
    to_backbone_input,
)
from cnncourse.transfer.features import extract_features, pool_features
from cnncourse.transfer.fine_tune import FineTuneResult, backbone_blocks, fine_tune
from cnncourse.transfer.imagenet import (
    IMAGENET_BACKBONES,
    IMAGENET_WEIGHTS,
    WeightsNotAvailableError,
    imagenet_preprocess,
    keras_cache_dir,
    load_imagenet_backbone,
)
from cnncourse.transfer.probe import ProbeRow, ProbeTable, linear_probe, probe_features
from cnncourse.transfer.source import NUM_SOURCE_CLASSES, SOURCE_CLASS_NAMES, SOURCE_CLASSES, make_source_data

__all__ = [
    "BLOCK_NAMES", "INPUT_SHAPE", "IMAGENET_BACKBONES", "IMAGENET_WEIGHTS", "NUM_SOURCE_CLASSES",
    "SOURCE_CLASSES", "SOURCE_CLASS_NAMES", "FineTuneResult", "ProbeRow", "ProbeTable",
    "WeightsIntegrityError", "WeightsNotAvailableError", "backbone_blocks", "backbone_manifest",
    "build_backbone", "cut_backbone", "extract_features", "fine_tune", "imagenet_preprocess", "keras_cache_dir",
    "linear_probe", "load_backbone", "load_imagenet_backbone", "make_source_data", "pool_features",
    "probe_features", "to_backbone_input",
]
