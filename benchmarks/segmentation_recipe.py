"""Notebook 07's training table over seeds: FCN-32s, FCN-8s and U-Net on the shapes world.

Run::

    .venv/bin/python benchmarks/segmentation_recipe.py                       # the quick profile, seeds 0 1 2
    .venv/bin/python benchmarks/segmentation_recipe.py --train-images 500 --seeds 1 2
    .venv/bin/python benchmarks/segmentation_recipe.py --models FCN-16s U-Net --epochs 20

It trains exactly what notebook 07's section 7 trains, with the quick profile's settings from
``cnncourse/config.py`` unless an option changes one: the same data (``make_shapes`` with 1 to 4
objects, training images from seed 10, test images from seed 11), the same builders, loss
(``CrossEntropyDiceLoss``), optimiser and metrics. ``--seeds`` changes only the initial weights
and the order of the batches (``keras.utils.set_random_seed``), which is what the notebook's
``seed`` setting changes. Prints one row per model and seed (trainable parameters, ``fit``
seconds, pixel accuracy, mean IoU, boundary F1), then the smallest value over seeds of each
model's mean IoU and of FCN-8s − FCN-32s: the numbers the notebook's assertions need.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

MODELS = ("FCN-32s", "FCN-16s", "FCN-8s", "U-Net")
IGNORE = 255  # the notebook's ignore label (the shapes world has none; the pets' outlines get it)


def shapes_split(n: int, image_size: int, seed: int):
    """Images ``(n, S, S, 3)`` float32 in [0, 1] and semantic masks ``(n, S, S)`` int32, as the notebook."""
    from cnncourse import data

    world = data.make_shapes(n, image_size=image_size, objects=(1, 4), seed=seed)
    return world.images.astype("float32") / 255.0, world.semantic_masks.astype("int32"), len(world.class_names) + 1


def build(name: str, num_classes: int, cfg):
    from cnncourse import segmentation

    shape = (cfg.image_size, cfg.image_size, 3)
    if name == "U-Net":
        return segmentation.unet(num_classes, input_shape=shape, depth=cfg.unet_depth, width=cfg.unet_width)
    return segmentation.fcn(num_classes, variant=name[4:], input_shape=shape, width=cfg.fcn_width)


def train_and_score(name: str, seed: int, cfg, train, test, num_classes: int) -> dict:
    import keras

    from cnncourse import segmentation

    keras.utils.set_random_seed(seed)
    model = build(name, num_classes, cfg)
    model.compile(keras.optimizers.Adam(cfg.learning_rate), loss=segmentation.CrossEntropyDiceLoss(ignore_index=IGNORE),
                  metrics=[segmentation.MeanIoU(num_classes, ignore_index=IGNORE)])
    start = time.perf_counter()
    model.fit(*train, epochs=cfg.epochs, batch_size=cfg.batch_size, verbose=0)
    seconds = time.perf_counter() - start
    prediction = model.predict(test[0], batch_size=64, verbose=0).argmax(-1)
    report = segmentation.segmentation_report(test[1], prediction, num_classes, ignore_index=IGNORE)
    boundary = segmentation.boundary_f1(test[1], prediction, tolerance=1, ignore_index=IGNORE)
    return {"model": name, "seed": seed, "seconds": seconds, "pixel_accuracy": report.pixel_accuracy,
            "mean_iou": report.mean_iou, "boundary_f1": boundary,
            "trainable": sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)}


def main(argv=None) -> None:
    import types

    import cnncourse
    from cnncourse import config

    quick = dict(config.settings("07_segmentation", "quick"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["FCN-32s", "FCN-8s", "U-Net"], choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    for setting in ("train_images", "test_images", "epochs", "batch_size", "image_size", "fcn_width",
                    "unet_depth", "unet_width"):
        parser.add_argument("--" + setting.replace("_", "-"), type=int, default=quick[setting])
    parser.add_argument("--learning-rate", type=float, default=quick["learning_rate"])
    args = parser.parse_args(argv)
    cfg = types.SimpleNamespace(**{**quick, **vars(args)})

    cnncourse.setup("07_segmentation")
    x_train, y_train, num_classes = shapes_split(cfg.train_images, cfg.image_size, seed=10)
    x_test, y_test, _ = shapes_split(cfg.test_images, cfg.image_size, seed=11)
    print(f"{cfg.train_images} training / {cfg.test_images} test images of {cfg.image_size} px, {cfg.epochs} epochs, "
          f"batch {cfg.batch_size}, Adam {cfg.learning_rate}, FCN width {cfg.fcn_width}, "
          f"U-Net depth {cfg.unet_depth} width {cfg.unet_width}")
    header = f"{'model':8s} {'seed':>4s} {'trainable':>10s} {'train s':>8s} {'pixel acc':>9s} {'mean IoU':>8s} {'boundary F1':>11s}"
    print(header)
    rows = []
    for seed in args.seeds:
        for name in args.models:
            row = train_and_score(name, seed, cfg, (x_train, y_train), (x_test, y_test), num_classes)
            rows.append(row)
            print(f"{name:8s} {seed:4d} {row['trainable']:10,d} {row['seconds']:8.1f} {row['pixel_accuracy']:9.3f} "
                  f"{row['mean_iou']:8.3f} {row['boundary_f1']:11.3f}", flush=True)
    miou = {(row["model"], row["seed"]): row["mean_iou"] for row in rows}
    for name in args.models:
        values = [miou[name, seed] for seed in args.seeds]
        print(f"{name}: mean IoU smallest {min(values):.3f}, mean {np.mean(values):.3f} over seeds {args.seeds}")
    if {"FCN-8s", "FCN-32s"} <= set(args.models):
        margins = [miou["FCN-8s", seed] - miou["FCN-32s", seed] for seed in args.seeds]
        print(f"FCN-8s - FCN-32s mean IoU: smallest {min(margins):+.3f} over seeds {args.seeds}")


if __name__ == "__main__":
    main()
