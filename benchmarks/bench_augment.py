"""Benchmark cnncourse.augment: deck 003's augmentation four ways, same settings, same images.

Run::

    .venv/bin/python benchmarks/bench_augment.py                 # 64x64 and 224x224
    .venv/bin/python benchmarks/bench_augment.py --sizes 224 --images 256 --repeats 5

1. ``fused``: :func:`cnncourse.augment.augmented_dataset` with its default layer,
   :class:`~cnncourse.augment.FusedRandomAffine` (the five maps composed, one XLA-compiled
   resampling per image, then the channel shift) on whole batches (parallel map, prefetch);
2. ``layers``: the same pipeline with the five Keras 3 preprocessing layers + channel shift
   (:func:`cnncourse.augment.deck_generator_layers`, the teaching version);
3. ``legacy``: Keras's legacy ``ImageDataGenerator`` (``keras.src.legacy.preprocessing.image``)
   with the deck's arguments and ``rescale=1/255``, ``flow`` over the same images;
4. ``loop``: a plain per-image Python loop calling the five layers on one image at a time.

A pass is one epoch over ``--images`` images: a new ``tf.data`` iterator (its start-up, a
few tenths of a second on a busy two-core machine, is counted; more images per pass
amortise it) or a new legacy ``flow``. (A long-lived iterator would not be fair: its
prefetch thread keeps working while the other methods are timed.) The methods run interleaved (one pass of each in turn, ``--repeats`` times,
after a warm-up pass of each), so a busy machine slows them alike. Prints images per second
(median pass) and each method's speed as a ratio to the legacy generator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from cnncourse import augment, data  # noqa: E402
from cnncourse.runtime import import_tensorflow  # noqa: E402


def photos(size, n):
    """``n`` uint8 RGB photos of ``size`` × ``size`` (the course's offline photos, repeated and mirrored)."""
    base = np.stack(list(data.sample_images(size=size).values()))
    base = np.concatenate([base, base[:, :, ::-1]])
    return (np.resize(base, (n,) + base.shape[1:]) * 255).round().astype(np.uint8)


def rates(functions, counts, repeats):
    """Images/s of each function (median of ``repeats`` interleaved passes, after a warm-up pass)."""
    for function in functions.values():
        function()  # warm-up: traces, compiles, caches
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: counts[name] / statistics.median(times[name]) for name in functions}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--images", type=int, default=256, help="images per pass (one epoch)")
    parser.add_argument("--loop-images", type=int, default=32, help="images per pass of the slow per-image loop")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    tf = import_tensorflow()
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    print(f"deck-003 augmentation, batch {args.batch_size}, TensorFlow threads: "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'all'} cores")  # fmt: skip
    print(f"{'size':>5} {'method':>9} {'images/s':>10} {'x legacy':>9}")
    for size in args.sizes:
        images = photos(size, args.images)
        batches = -(-len(images) // args.batch_size)
        layers = augment.deck_generator_layers(seed=0)
        fused = augment.augmented_dataset(images, batch_size=args.batch_size, shuffle=False, seed=0)
        teaching = augment.augmented_dataset(images, batch_size=args.batch_size, shuffle=False, layers=layers)
        legacy = ImageDataGenerator(rescale=1.0 / 255, **augment.DECK_003_ARGUMENTS)

        def epoch(dataset):
            for batch in dataset:  # a new iterator: an epoch, its start-up included
                pass
            return batch

        def legacy_epoch():
            flow = legacy.flow(images.astype(np.float32), batch_size=args.batch_size, shuffle=False, seed=0)
            for _ in range(batches):
                batch = next(flow)
            return batch

        loop_images = images[: args.loop_images].astype(np.float32) / 255

        def loop():
            return [layers(image[None], training=True) for image in loop_images]

        functions = {"fused": lambda: epoch(fused), "layers": lambda: epoch(teaching), "legacy": legacy_epoch,
                     "loop": loop}  # fmt: skip
        counts = {"fused": batches * args.batch_size, "layers": batches * args.batch_size,
                  "legacy": batches * args.batch_size, "loop": len(loop_images)}  # fmt: skip
        speeds = rates(functions, counts, args.repeats)
        for method, value in speeds.items():
            print(f"{size:>5} {method:>9} {value:>10.1f} {value / speeds['legacy']:>8.2f}x")

if __name__ == "__main__":
    main()
