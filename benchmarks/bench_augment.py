"""Benchmark cnncourse.augment: deck 003's augmentation three ways, same settings, same images.

Run::

    .venv/bin/python benchmarks/bench_augment.py                 # 64x64 and 224x224
    .venv/bin/python benchmarks/bench_augment.py --sizes 224 --images 256 --repeats 3

1. ``pipeline``: :func:`cnncourse.augment.augmented_dataset`: the Keras 3 preprocessing
   layers on whole batches in a ``tf.data`` pipeline (parallel map, prefetch);
2. ``legacy``: Keras's legacy ``ImageDataGenerator`` (``keras.src.legacy.preprocessing.image``)
   with the deck's arguments and ``rescale=1/255``, ``flow`` over the same images;
3. ``loop``: a plain per-image Python loop calling the same layers on one image at a time.

Prints images per second (median of ``--repeats`` passes over the images, after a warm-up
pass) and each method's speed as a ratio to the legacy generator measured in the same run.
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


def rate(function, n, repeats):
    function()  # warm-up: traces, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--images", type=int, default=128, help="images per pass")
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
        layers = augment.deck_generator_layers(seed=0)
        dataset = augment.augmented_dataset(images, batch_size=args.batch_size, shuffle=False, layers=layers)

        def pipeline():
            for batch in dataset:
                pass
            return batch

        legacy = ImageDataGenerator(rescale=1.0 / 255, **augment.DECK_003_ARGUMENTS)
        batches = -(-len(images) // args.batch_size)

        def legacy_run():
            flow = legacy.flow(images.astype(np.float32), batch_size=args.batch_size, shuffle=False, seed=0)
            for _ in range(batches):
                batch = next(flow)
            return batch

        loop_images = images[: args.loop_images].astype(np.float32) / 255

        def loop():
            return [layers(image[None], training=True) for image in loop_images]

        rates = {
            "pipeline": rate(pipeline, len(images), args.repeats),
            "legacy": rate(legacy_run, len(images), args.repeats),
            "loop": rate(loop, len(loop_images), args.repeats),
        }
        for method, value in rates.items():
            print(f"{size:>5} {method:>9} {value:>10.1f} {value / rates['legacy']:>8.2f}x")


if __name__ == "__main__":
    main()
