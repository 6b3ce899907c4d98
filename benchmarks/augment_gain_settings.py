"""What augmentation buys on small digit training sets, per setting: the table notebook 05 cites.

    python benchmarks/augment_gain_settings.py                 # the settings of section 2, 5 seeds
    python benchmarks/augment_gain_settings.py --seeds 3 --settings 3,60,12,all 10,20,6,540

Notebook 05's experiment (section 2) for several settings ``per_class,copies,epochs,test``:
``per_class`` digits of each class drawn per seed from the training split, ``copies`` augmented
(or unchanged) copies of each, ``epochs`` epochs of the same small CNN at 20 x 20 pixels, and
the test set either ``540`` (the val + test splits) or ``all`` (every digit not in that seed's
training set, about 1,700). Prints, per setting, each seed's test accuracy without and with
the digit-safe augmentation, the gains, their mean and their smallest value. Nothing is
asserted here: the notebook asserts its own setting; this table says why that setting was chosen.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnncourse import augment, data  # noqa: E402

DEFAULT_SETTINGS = ["10,20,6,540", "5,40,6,540", "3,60,6,540", "3,30,12,all", "3,60,6,all", "5,40,12,all", "3,60,12,all"]


def run(settings, seeds, image_size=20, batch_size=64, learning_rate=2e-3):
    digits = data.load_digits(image_size=image_size)
    every_image = np.concatenate([digits.train.images, digits.val.images, digits.test.images])
    every_label = np.concatenate([digits.train.labels, digits.val.labels, digits.test.labels])
    n_train = len(digits.train.labels)
    layers = augment.deck_generator_layers(seed=0, rotation_range=15, width_shift_range=0.1, height_shift_range=0.1,
                                           shear_range=0, zoom_range=0.15, horizontal_flip=False, channel_shift_range=0)

    def accuracy(seed, augmented, per_class, copies, epochs, test):
        rng = np.random.default_rng(seed)
        index = np.concatenate([rng.choice(np.flatnonzero(digits.train.labels == k), per_class, replace=False)
                                for k in range(10)])  # fmt: skip
        held_out = np.setdiff1d(np.arange(len(every_label)), index) if test == "all" else np.arange(n_train, len(every_label))
        x, y = np.concatenate([every_image[index]] * copies), np.concatenate([every_label[index]] * copies)
        if augmented:
            keras.utils.set_random_seed(seed)
            batches = augment.augmented_dataset(x, layers=layers, batch_size=500, shuffle=False, parallel=False)
            x = np.concatenate([batch.numpy() for batch in batches])
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.Input(every_image.shape[1:]),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"), keras.layers.MaxPooling2D(),
            keras.layers.Flatten(), keras.layers.Dense(10),
        ])  # fmt: skip
        model.compile(keras.optimizers.Adam(learning_rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])  # fmt: skip
        model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
        return model.evaluate(every_image[held_out], every_label[held_out], verbose=0)[1]

    print(f"{'per class':>9s} {'copies':>6s} {'epochs':>6s} {'test':>5s}  gains per seed (with - without)      mean    min")
    for setting in settings:
        per_class, copies, epochs, test = setting.split(",")
        per_class, copies, epochs = int(per_class), int(copies), int(epochs)
        gains = [accuracy(s, True, per_class, copies, epochs, test) - accuracy(s, False, per_class, copies, epochs, test)
                 for s in range(seeds)]  # fmt: skip
        print(f"{per_class:9d} {copies:6d} {epochs:6d} {test:>5s}  " + " ".join(f"{g:+.3f}" for g in gains)
              + f"   {np.mean(gains):+.3f} {min(gains):+.3f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS, help="per_class,copies,epochs,test (540 or all)")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    run(args.settings, args.seeds)


if __name__ == "__main__":
    main()
