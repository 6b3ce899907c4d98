"""Retrain the course backbone from scratch, reproducibly: ``python -m cnncourse.transfer.pretrain --out DIR``.

Generates the source task (:func:`cnncourse.transfer.make_source_data`: train, val and test
images from three different seeds), trains :func:`cnncourse.transfer.build_backbone` with
``include_top=True`` (Adam, cosine-decayed learning rate, sparse cross-entropy on logits),
measures the source accuracy on the held-out val and test images, and writes

* ``DIR/course_cnn.weights.h5``: the weights (``model.save_weights``), and
* ``DIR/course_cnn.json``: the manifest (recipe, seed, source accuracy, sha256 of the weights
  file, library versions, training time).

Everything is seeded and TensorFlow's op determinism is on, so the same command on the same
machine and library versions gives the same weights. The defaults are the recipe of the
shipped weights (18 minutes measured on a shared two-core CPU under heavy load; about 3 expected on
two idle cores, from the 390 training images/s measured there); ``--train-size`` / ``--epochs`` make a
quicker, weaker backbone. ``--out`` pointing at ``cnncourse/transfer/weights`` replaces the
shipped weights. Progress (data generation, one line per epoch) goes to standard output.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from cnncourse._validation import check_positive_int, check_seed

RECIPE = {
    "source_task": "cnncourse.transfer.source: 50 classes = 10 outlines x 5 textures, 32x32 RGB",
    "train_size": 10000,
    "val_size": 2000,
    "test_size": 2000,
    "data_seeds": {"train": 1, "val": 2, "test": 3},
    "epochs": 5,
    "batch_size": 128,
    "optimizer": "Adam",
    "learning_rate": 0.002,
    "schedule": "cosine decay to 0 over all steps",
    "loss": "sparse categorical cross-entropy on logits",
}


def pretrain(out, *, train_size: int = RECIPE["train_size"], epochs: int = RECIPE["epochs"], seed: int = 0,
             verbose: int = 2) -> dict:
    """Pre-train the backbone and write its weights and manifest to ``out``; returns the manifest.

    Args:
        out: output folder (created if missing).
        train_size: source training images (> 0).
        epochs: training epochs (> 0).
        seed: seeds the initial weights and the shuffles (the data seeds are in :data:`RECIPE`).
        verbose: Keras ``fit`` verbosity (0 silent, 1 progress bar, 2 one line per epoch).
    """
    train_size = check_positive_int("train_size", train_size)
    epochs = check_positive_int("epochs", epochs)
    seed = check_seed("seed", seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    from cnncourse.runtime import seed_everything

    seed_everything(seed)
    import keras
    import numpy as np
    import tensorflow as tf

    from cnncourse.transfer.backbone import MANIFEST_FILE, WEIGHTS_FILE, build_backbone, sha256_of
    from cnncourse.transfer.source import make_source_data

    recipe = dict(RECIPE, train_size=train_size, epochs=epochs)
    seeds = recipe["data_seeds"]
    started = time.perf_counter()
    splits = {}
    for split, n in (("train", train_size), ("val", recipe["val_size"]), ("test", recipe["test_size"])):
        t0 = time.perf_counter()
        splits[split] = make_source_data(n, seed=seeds[split])
        print(f"generated {n} {split} images in {time.perf_counter() - t0:.0f} s", flush=True)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits["train"], splits["val"], splits["test"]
    order = np.random.default_rng(seed).permutation(len(x_train))
    x_train, y_train = x_train[order], y_train[order]

    model = build_backbone(include_top=True, seed=seed)
    steps = epochs * int(np.ceil(len(x_train) / recipe["batch_size"]))
    schedule = keras.optimizers.schedules.CosineDecay(recipe["learning_rate"], decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    print(f"training course_cnn ({model.count_params():,} parameters) on {len(x_train)} images, "
          f"{epochs} epochs", flush=True)
    history = model.fit(x_train, y_train, batch_size=recipe["batch_size"], epochs=epochs,
                        validation_data=(x_val, y_val), verbose=verbose)
    val_accuracy = float(model.evaluate(x_val, y_val, batch_size=500, verbose=0)[1])
    test_accuracy = float(model.evaluate(x_test, y_test, batch_size=500, verbose=0)[1])
    train_seconds = time.perf_counter() - started

    weights_path = out / WEIGHTS_FILE
    # A fresh, uncompiled copy: the file then holds the weights only, not Adam's moments.
    plain = build_backbone(include_top=True, seed=seed)
    plain.set_weights(model.get_weights())
    plain.save_weights(weights_path)
    manifest = {
        "model": "course_cnn",
        "weights_file": WEIGHTS_FILE,
        "sha256": sha256_of(weights_path),
        "seed": seed,
        "recipe": recipe,
        "source_accuracy": {"val": round(val_accuracy, 4), "test": round(test_accuracy, 4), "chance": 0.02},
        "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.history.items()},
        "train_seconds": round(train_seconds, 1),
        "command": f"python -m cnncourse.transfer.pretrain --out DIR --train-size {train_size} --epochs {epochs} --seed {seed}",
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "tensorflow": tf.__version__, "keras": keras.__version__},
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"source accuracy: val {val_accuracy:.4f}, test {test_accuracy:.4f} (chance 0.02); "
          f"{train_seconds:.0f} s; wrote {weights_path} and {out / MANIFEST_FILE}", flush=True)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnncourse.transfer.pretrain", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for course_cnn.weights.h5 and course_cnn.json")
    parser.add_argument("--train-size", type=int, default=RECIPE["train_size"])
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    pretrain(args.out, train_size=args.train_size, epochs=args.epochs, seed=args.seed, verbose=args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
