"""Benchmark cnncourse.explain's occlusion maps: batched against one patch at a time.

Run::

    .venv/bin/python benchmarks/bench_explain.py                  # backbone, 32 px, patch 8, stride 2
    .venv/bin/python benchmarks/bench_explain.py --images 8 --stride 1 --batch-size 512

Both methods score the same occluded images with the course backbone (plus a 3-class
head); the batched one builds every occluded copy of an image with one mask product and
scores them ``--batch-size`` at a time, the loop calls the model once per patch. Prints
occlusion maps per second of each (median of ``--repeats`` runs after a warm-up, the two
methods in turns so that the machine's load affects them alike), the ratio, and checks that
the maps agree.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from cnncourse import data, explain, transfer


def build_model():
    base = transfer.load_backbone()
    logits = keras.layers.Dense(3, name="logits", kernel_initializer=keras.initializers.GlorotUniform(seed=0))(base.output)
    return keras.Model(base.input, logits)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    model = build_model()
    shapes = data.make_single_shapes(args.images, image_size=32, seed=0)
    images = shapes.images.astype("float32") / 255.0
    labels = shapes.labels
    kwargs = dict(patch_size=args.patch_size, stride=args.stride, fill=0.5)
    rows, cols = explain.occlusion_grid(32, 32, args.patch_size, args.stride)

    def batched():
        return explain.occlusion_sensitivity(model, images, labels, batch_size=args.batch_size, **kwargs)

    def loop():
        return explain.occlusion_sensitivity_loop(model, images, labels, **kwargs)

    np.testing.assert_allclose(batched(), loop(), rtol=1e-3, atol=1e-4)
    times = {"batched": [], "one patch at a time": []}
    for _ in range(args.repeats):
        for name, function in (("batched", batched), ("one patch at a time", loop)):
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    print(f"occlusion maps of {args.images} 32x32 images, {rows}x{cols} = {rows * cols} patch positions each "
          f"(patch {args.patch_size}, stride {args.stride}), batch {args.batch_size}; maps agree")
    speeds = {name: args.images / statistics.median(t) for name, t in times.items()}
    for name, speed in speeds.items():
        print(f"  {name:22s} {speed:8.2f} maps/s   {speed / speeds['one patch at a time']:6.1f}x one at a time")


if __name__ == "__main__":
    main()
