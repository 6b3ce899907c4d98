"""The notebook 07 training recipe: FCN-32s / FCN-16s / FCN-8s / U-Net on the shapes world.

Run::

    .venv/bin/python benchmarks/segmentation_recipe.py                    # the quick-profile recipe, seeds 0 1 2
    .venv/bin/python benchmarks/segmentation_recipe.py --models unet --seeds 0 --epochs-unet 20

Data: ``make_shapes(n, image_size=S, seed=...)`` images / 255 (float32), semantic masks
``(N, S, S)`` with 0 = background and 1..3 = circle, square, triangle; the test images come
from another seed (``seed + 1000``). Each model trains from scratch with Adam and pixel
cross-entropy on logits; ``keras.utils.set_random_seed(seed)`` and op determinism make a run
repeatable. Prints one row per model and seed: parameters (all, and trainable: FCN's final bilinear
upsampling and BatchNorm's statistics are fixed), training seconds (``fit`` only),
test mean IoU (nanmean over classes of one confusion matrix, from ``np.bincount``), pixel
accuracy and the boundary F-score (class-agnostic boundaries, ``--tolerance`` pixels), then
the mean over seeds and FCN-8s − FCN-32s per seed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

NUM_CLASSES = 4


def confusion(true: np.ndarray, pred: np.ndarray, k: int = NUM_CLASSES) -> np.ndarray:
    return np.bincount(true.astype(np.int64).ravel() * k + pred.astype(np.int64).ravel(), minlength=k * k).reshape(k, k)


def mean_iou(cm: np.ndarray) -> float:
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanmean(np.where(union > 0, tp / union, np.nan)))


def boundaries(masks: np.ndarray) -> np.ndarray:
    """bool ``(N, H, W)``: pixels whose label differs from their right or lower neighbour."""
    edge = np.zeros(masks.shape, bool)
    edge[:, :, :-1] |= masks[:, :, :-1] != masks[:, :, 1:]
    edge[:, :-1, :] |= masks[:, :-1, :] != masks[:, 1:, :]
    return edge


def boundary_f_score(true: np.ndarray, pred: np.ndarray, tolerance: int = 1) -> float:
    """Mean over images of the boundary F1 (Csurka et al.): a boundary pixel matches within ``tolerance``."""
    from scipy import ndimage

    structure = np.ones((1, 2 * tolerance + 1, 2 * tolerance + 1), bool)
    bt, bp = boundaries(true), boundaries(pred)
    near_t = ndimage.binary_dilation(bt, structure)
    near_p = ndimage.binary_dilation(bp, structure)
    precision = (bp & near_t).sum((1, 2)) / np.maximum(bp.sum((1, 2)), 1)
    recall = (bt & near_p).sum((1, 2)) / np.maximum(bt.sum((1, 2)), 1)
    f = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(f.mean())


def make_data(n: int, size: int, seed: int):
    from cnncourse.data import make_shapes

    d = make_shapes(n, image_size=size, seed=seed)
    return (d.images / 255.0).astype(np.float32), d.semantic_masks.astype(np.int32)


def build(kind: str, args):
    from cnncourse.segmentation.models import fcn, unet

    shape = (args.size, args.size, 3)
    if kind == "unet":
        return unet(NUM_CLASSES, input_shape=shape, depth=args.unet_depth, width=args.unet_width)
    return fcn(NUM_CLASSES, variant=kind[3:], input_shape=shape, width=args.fcn_width)


def run_one(kind: str, seed: int, args, train, test) -> dict:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build(kind, args)
    epochs = args.epochs_unet if kind == "unet" else args.epochs_fcn
    lr = args.lr_unet if kind == "unet" else args.lr_fcn
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    model.fit(train[0], train[1], batch_size=args.batch_size, epochs=epochs, verbose=0, shuffle=True)
    seconds = time.perf_counter() - start
    pred = model.predict(test[0], batch_size=64, verbose=0).argmax(-1)
    cm = confusion(test[1], pred)
    return {
        "model": kind, "seed": seed, "params": model.count_params(),
        "trainable": int(sum(np.prod(v.shape) for v in model.trainable_weights)), "seconds": seconds,
        "miou": mean_iou(cm), "accuracy": float(np.trace(cm) / cm.sum()),
        "bf": boundary_f_score(test[1], pred, args.tolerance),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["fcn32s", "fcn16s", "fcn8s", "unet"],
                        choices=["fcn32s", "fcn16s", "fcn8s", "unet"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-train", type=int, default=512)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs-fcn", type=int, default=8)
    parser.add_argument("--epochs-unet", type=int, default=10)
    parser.add_argument("--lr-fcn", type=float, default=3e-3)
    parser.add_argument("--lr-unet", type=float, default=3e-3)
    parser.add_argument("--fcn-width", type=int, default=8)
    parser.add_argument("--unet-width", type=int, default=8)
    parser.add_argument("--unet-depth", type=int, default=3)
    parser.add_argument("--tolerance", type=int, default=1, help="boundary F-score tolerance in pixels")
    args = parser.parse_args(argv)

    print(f"size {args.size}, train {args.n_train}, test {args.n_test}, batch {args.batch_size}, "
          f"epochs fcn {args.epochs_fcn} / unet {args.epochs_unet}, Adam lr fcn {args.lr_fcn} / unet {args.lr_unet}, "
          f"width fcn {args.fcn_width} / unet {args.unet_width}, unet depth {args.unet_depth}")
    rows = []
    header = f"{'model':8} {'seed':>4} {'params':>8} {'trainable':>9} {'train s':>8} {'mIoU':>6} {'pix acc':>7} {'BF':>6}"
    print(header)
    for seed in args.seeds:
        train = make_data(args.n_train, args.size, seed)
        test = make_data(args.n_test, args.size, seed + 1000)
        for kind in args.models:
            row = run_one(kind, seed, args, train, test)
            rows.append(row)
            print(f"{row['model']:8} {row['seed']:>4} {row['params']:>8} {row['trainable']:>9} {row['seconds']:>8.1f} "
                  f"{row['miou']:>6.3f} {row['accuracy']:>7.3f} {row['bf']:>6.3f}", flush=True)
    print("mean over seeds")
    print(header)
    for kind in args.models:
        sel = [r for r in rows if r["model"] == kind]
        print(f"{kind:8} {'mean':>4} {sel[0]['params']:>8} {sel[0]['trainable']:>9} {np.mean([r['seconds'] for r in sel]):>8.1f} "
              f"{np.mean([r['miou'] for r in sel]):>6.3f} {np.mean([r['accuracy'] for r in sel]):>7.3f} "
              f"{np.mean([r['bf'] for r in sel]):>6.3f}")
    if "fcn8s" in args.models and "fcn32s" in args.models:
        by = {(r["model"], r["seed"]): r["miou"] for r in rows}
        margins = [by["fcn8s", s] - by["fcn32s", s] for s in args.seeds]
        print("FCN-8s - FCN-32s mIoU per seed: " + ", ".join(f"{s}: {m:+.3f}" for s, m in zip(args.seeds, margins)))


if __name__ == "__main__":
    main()
