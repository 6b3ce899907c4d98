"""Throughput of the synthetic shapes world.

Prints, for one CPU process:

- generation speed of :func:`cnncourse.data.make_shapes` (images/second) at 64×64 and
  128×128, and the speed-up over a per-pixel Python loop drawing the same discs (the
  reference, measured in the same run);
- the speed of the classification worlds (:func:`make_shape_classes`, 32×32);
- images/second read through the tf.data pipelines (streaming ``shapes_dataset``, the
  in-memory ``ShapesData.to_dataset``, and the same with a Keras ``RandomFlip`` mapped);
- resident memory while streaming 10,000 images with ``iter_shapes``;
- with ``--learn``: validation accuracy of a small CNN on both classification worlds.

Usage::

    .venv/bin/python benchmarks/bench_shapes.py            # about a minute
    .venv/bin/python benchmarks/bench_shapes.py --quick    # smaller sizes
    .venv/bin/python benchmarks/bench_shapes.py --learn    # also train the small CNN
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cnncourse.data import iter_shapes, make_shape_classes, make_shapes, shapes_dataset  # noqa: E402


def best_rate(function, count: int, repeats: int = 3) -> float:
    """Best items per wall-clock second over ``repeats`` runs of ``function()`` making ``count`` items."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return count / best


def best_cpu_rate(function, count: int, repeats: int = 3) -> float:
    """Best items per CPU second of this process (single-threaded work: one core's speed,
    much less disturbed than wall time when other programs share the machine)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return count / best


def per_pixel_reference(n: int, image_size: int, seed: int = 0) -> np.ndarray:
    """The way one would draw without NumPy: a Python loop over every pixel of every
    image, testing each of 2-3 discs (the reference the vectorised generator is compared to).

    It does less than ``make_shapes`` (no masks, boxes, occlusion checks), so the ratio
    printed is a lower bound of the speed-up."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, image_size, image_size, 3), dtype=np.uint8)
    for i in range(n):
        discs = [(rng.uniform(8, image_size - 8), rng.uniform(8, image_size - 8), rng.uniform(4, image_size / 6), rng.integers(0, 256, 3)) for _ in range(rng.integers(2, 4))]
        for r in range(image_size):
            for c in range(image_size):
                for cy, cx, radius, colour in discs:
                    if (r - cy) ** 2 + (c - cx) ** 2 < radius**2:
                        images[i, r, c] = colour
    return images


def resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_generation(quick: bool) -> None:
    print("== generation (one process, one core; images per CPU second, wall-clock rate in brackets) ==")
    for image_size, n in ((64, 1000 if quick else 4000), (128, 300 if quick else 1000)):
        make_shapes(16, image_size=image_size)  # warm-up
        rate = best_cpu_rate(lambda: make_shapes(n, image_size=image_size, seed=1), n, repeats=5)
        wall = best_rate(lambda: make_shapes(n, image_size=image_size, seed=1), n, repeats=2)
        reference_n = 4 if image_size == 64 else 2
        reference = best_cpu_rate(lambda: per_pixel_reference(reference_n, image_size), reference_n, repeats=2)
        print(
            f"make_shapes {image_size}x{image_size}: {rate:7.0f} images/s [{wall:6.0f}]   "
            f"per-pixel Python loop: {reference:6.1f} images/s   ratio {rate / reference:5.0f}x"
        )
    n = 500 if quick else 2000
    rate = best_cpu_rate(lambda: make_shapes(n, image_size=64, background="clutter", noise=8.0, rotation=True), n)
    print(f"make_shapes 64x64, clutter + noise + rotation: {rate:7.0f} images/s")
    rate = best_cpu_rate(lambda: make_shape_classes(n, "shapes"), n)
    print(f"make_shape_classes 32x32: {rate:7.0f} images/s")


def bench_pipelines(quick: bool) -> None:
    from cnncourse.runtime import import_tensorflow

    import_tensorflow()
    import keras

    print("== tf.data (images/s read, batch 64, 64x64) ==")
    n = 1024 if quick else 4096

    def drain(dataset) -> None:
        for _ in dataset:
            pass

    streaming = shapes_dataset(n, batch_size=64, seed=0)
    drain(streaming.take(2))
    rate_stream = best_rate(lambda: drain(streaming), n, repeats=2)
    in_memory = make_shapes(n, seed=0).to_dataset(batch_size=64)
    drain(in_memory.take(2))
    rate_memory = best_rate(lambda: drain(in_memory), n, repeats=2)
    flip = keras.layers.RandomFlip("horizontal", bounding_box_format="xyxy", seed=0)
    augmented = in_memory.map(lambda batch: flip(batch, training=True))
    drain(augmented.take(2))
    rate_flip = best_rate(lambda: drain(augmented), n, repeats=2)
    print(f"shapes_dataset (generated while read): {rate_stream:8.0f} images/s")
    print(f"ShapesData.to_dataset (from memory):   {rate_memory:8.0f} images/s")
    print(f"  + keras RandomFlip(boxes, masks):    {rate_flip:8.0f} images/s")


def bench_memory(quick: bool) -> None:
    print("== memory while streaming ==")
    n = 2000 if quick else 10_000
    before = resident_mib()
    peak = before
    for _ in iter_shapes(n, chunk_size=256, image_size=64):
        peak = max(peak, resident_mib())
    held = n * (64 * 64 * 3 + 4 * 64 * 64 + 2 * 64 * 64) / 2**20
    print(f"iter_shapes({n}, chunk_size=256): resident memory grew by {peak - before:.1f} MiB (all at once: {held:.0f} MiB)")


def bench_learning() -> None:
    import keras

    from cnncourse.data import load_shape_classes

    print("== small CNN on the classification worlds (5,000 train, 1,000 val, 6 epochs) ==")
    for world in ("shapes", "textures"):
        data = load_shape_classes(world, train_size=5000, val_size=1000, test_size=10, seed=0)
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(*data.train, epochs=6, batch_size=64, validation_data=tuple(data.val), verbose=0)
        curve = ", ".join(f"{a:.2f}" for a in history.history["val_accuracy"])
        print(f"{world:9s} val accuracy per epoch: {curve} (train {history.history['accuracy'][-1]:.2f}; chance 0.10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--learn", action="store_true", help="also train a small CNN on the classification worlds")
    args = parser.parse_args()
    bench_memory(args.quick)  # first, before other benchmarks leave memory in the allocator
    bench_generation(args.quick)
    bench_pipelines(args.quick)
    if args.learn:
        bench_learning()


if __name__ == "__main__":
    main()
