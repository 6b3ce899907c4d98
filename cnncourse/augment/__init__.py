"""Augmentation pipelines: classification, boxes and masks (one concept per module).

- :mod:`.generator`: deck 003's ``ImageDataGenerator`` rebuilt from Keras 3 preprocessing
  layers in a parallel, prefetched ``tf.data`` pipeline (:func:`deck_generator_layers`,
  :func:`augmented_dataset`, the unit conversions in :func:`deck_layer_arguments`);
- :mod:`.fused_geometry`: :class:`FusedRandomAffine`, the same augmentation with one
  resampling per image (the five maps composed into one matrix), the pipeline's fast path;
- :mod:`.channel_shift`: :class:`RandomChannelShift` (the legacy ``channel_shift_range``);
- :mod:`.pca_lighting`: AlexNet's PCA colour noise, :func:`rgb_principal_components` and
  the layer :class:`PCALighting`;
- :mod:`.crops`: AlexNet's random crops + reflections and its ten test crops;
- :mod:`.mixing`: MixUp, CutMix (labels = the real share of pasted pixels), RandAugment,
  MixUp and CutMix for detection (:func:`cutmix_detection`, layer :class:`BoxMaskCutMix`);
- :mod:`.boxes_and_masks`: flips, translations, scale jitter / crop, rotations on Keras's
  dict ``{"images", "bounding_boxes": {"boxes", "labels"}, "segmentation_masks"}`` with
  boxes clipped or dropped as documented and integer masks kept integer.

The layers are registered serializable (package ``"cnncourse"``). Example::

    from cnncourse import augment, data
    (x, y), _, _ = data.load_digits()
    ds = augment.augmented_dataset(x, y, batch_size=64)      # deck-003 augmentation
"""

from cnncourse.augment.boxes_and_masks import (
    BoxMaskAugmentation,
    BoxMaskRandomCrop,
    BoxMaskRandomFlip,
    BoxMaskRandomRotation,
    BoxMaskRandomRotation90,
    BoxMaskRandomScaleCrop,
    BoxMaskRandomTranslation,
    apply_affine,
    augment_detection_dataset,
    boxes_from_instance_ids,
    random_crop,
    random_flip,
    random_rotation,
    random_rotation90,
    random_scale_crop,
    random_translation,
)
from cnncourse.augment.channel_shift import RandomChannelShift
from cnncourse.augment.crops import alexnet_crop_and_flip, augmented_copies, ten_crops
from cnncourse.augment.fused_geometry import FusedRandomAffine, compose_transforms
from cnncourse.augment.generator import (
    DECK_003_ARGUMENTS,
    augmented_dataset,
    deck_generator_layers,
    deck_layer_arguments,
    legacy_generator,
)
from cnncourse.augment.mixing import (
    BoxMaskCutMix,
    cutmix,
    cutmix_boxes,
    cutmix_detection,
    mixed_dataset,
    mixup,
    mixup_detection,
    rand_augment,
)
from cnncourse.augment.pca_lighting import ALEXNET_SIGMA, PCALighting, rgb_principal_components

__all__ = [
    "ALEXNET_SIGMA",
    "BoxMaskAugmentation",
    "BoxMaskCutMix",
    "BoxMaskRandomCrop",
    "BoxMaskRandomFlip",
    "BoxMaskRandomRotation",
    "BoxMaskRandomRotation90",
    "BoxMaskRandomScaleCrop",
    "BoxMaskRandomTranslation",
    "DECK_003_ARGUMENTS",
    "FusedRandomAffine",
    "PCALighting",
    "RandomChannelShift",
    "alexnet_crop_and_flip",
    "apply_affine",
    "augment_detection_dataset",
    "augmented_copies",
    "augmented_dataset",
    "boxes_from_instance_ids",
    "compose_transforms",
    "cutmix",
    "cutmix_boxes",
    "cutmix_detection",
    "deck_generator_layers",
    "deck_layer_arguments",
    "legacy_generator",
    "mixed_dataset",
    "mixup",
    "mixup_detection",
    "rand_augment",
    "random_crop",
    "random_flip",
    "random_rotation",
    "random_rotation90",
    "random_scale_crop",
    "random_translation",
    "rgb_principal_components",
    "ten_crops",
]
