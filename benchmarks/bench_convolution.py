"""Time 2D cross-correlation three ways on the same input: loops, vectorised NumPy, keras.ops.conv.

    python benchmarks/bench_convolution.py                      # 64x64x16 input, 32 3x3 filters
    python benchmarks/bench_convolution.py --size 128 --batch 4 --loops-repeats 0

Prints the best (minimum) and median wall time of each, the ratios to ``keras.ops.conv``
measured in the same run (interleaved calls, so both see the same background load), and the
largest difference between the results. NumPy's matrix product runs on BLAS threads; on a
small shared machine those threads fight with TensorFlow's and other processes', so the
vectorised version is timed with the default BLAS threads and with one thread. The goal for the
vectorised reference (:func:`cnncourse.ops.cross_correlate2d`) is to stay within 3x of Keras
on CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import numpy as np

from cnncourse.ops import cross_correlate2d, cross_correlate2d_loops
from cnncourse.runtime import import_tensorflow


def measure(function, repeats):
    """Minimum and median wall time of ``repeats`` calls (after one warm-up call), in seconds."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def measure_interleaved(functions, repeats):
    """Like :func:`measure` for several functions, calling them in turn so that all see the same
    background load (this machine may be shared). Returns one ``(best, median)`` per function."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, record in zip(functions, times):
            start = time.perf_counter()
            function()
            record.append(time.perf_counter() - start)
    return [(min(record), statistics.median(record)) for record in times]


def blas_thread_settings():
    """``(label, context manager factory)`` pairs: NumPy's default BLAS threads, and 1 thread if
    threadpoolctl (installed with scikit-learn) can set it."""
    settings = [("default", contextlib.nullcontext)]
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return settings
    threads = max((info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"), default=None)
    settings[0] = (f"default ({threads})", contextlib.nullcontext)
    if threads != 1:
        settings.append(("1", lambda: threadpool_limits(1, user_api="blas")))
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="height and width of the input (default 64)")
    parser.add_argument("--channels", type=int, default=16, help="input channels (default 16)")
    parser.add_argument("--filters", type=int, default=32, help="output channels (default 32)")
    parser.add_argument("--kernel", type=int, default=3, help="kernel size (default 3)")
    parser.add_argument("--batch", type=int, default=1, help="images per batch (default 1)")
    parser.add_argument("--padding", default="same", choices=["same", "valid"])
    parser.add_argument("--repeats", type=int, default=50, help="timed calls of the fast versions (default 50)")
    parser.add_argument("--loops-repeats", type=int, default=2, help="timed calls of the loops (0 to skip)")
    args = parser.parse_args(argv)

    tf = import_tensorflow()
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.size, args.size, args.channels)).astype("float32")
    kernel = rng.normal(size=(args.kernel, args.kernel, args.channels, args.filters)).astype("float32")
    x_tensor, kernel_tensor = tf.constant(x), tf.constant(kernel)

    def run_keras():
        return keras.ops.convert_to_numpy(keras.ops.conv(x_tensor, kernel_tensor, padding=args.padding))

    def run_vectorised():
        return cross_correlate2d(x, kernel, padding=args.padding)

    def run_loops():
        return cross_correlate2d_loops(x, kernel, padding=args.padding)

    reference = run_keras()
    print(f"input {x.shape} float32, kernel {kernel.shape}, padding={args.padding!r}, output {reference.shape}")
    print(f"CPU cores visible: {os.cpu_count()}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"NumPy {np.__version__}; {args.repeats} timed calls each, interleaved")
    rows = []
    for label, limit_blas in blas_thread_settings():
        with limit_blas():
            (keras_best, keras_median), (best, median) = measure_interleaved([run_keras, run_vectorised],
                                                                             args.repeats)
            result = run_vectorised()
        rows.append((f"keras.ops.conv (alongside BLAS {label})", keras_best, keras_median, keras_best, reference))
        rows.append((f"cross_correlate2d, BLAS threads {label}", best, median, keras_best, result))
    if args.loops_repeats > 0:
        best, median = measure(run_loops, args.loops_repeats)
        rows.append(("cross_correlate2d_loops", best, median, rows[0][1], run_loops()))

    print(f"\n{'implementation':44s} {'best ms':>9s} {'median ms':>10s} {'best / keras':>13s} {'max |diff|':>11s}")
    for name, best, median, keras_best, result in rows:
        difference = float(np.max(np.abs(result - reference)))
        print(f"{name:44s} {best * 1e3:9.3f} {median * 1e3:10.3f} {best / keras_best:12.2f}x {difference:11.2e}")
    print("(each vectorised row is divided by the keras row above it, timed in the same interleaved loop;\n"
          " medians suffer most from other load on the machine)")
    vectorised_rows = [row for row in rows if row[0].startswith("cross_correlate2d, ")]
    vectorised_ratio = min(row[1] / row[3] for row in vectorised_rows)
    verdict = "within" if vectorised_ratio <= 3 else "NOT within"
    print(f"\nvectorised / keras (best) = {vectorised_ratio:.2f}x ({verdict} the 3x goal)")
    if args.loops_repeats > 0:
        print(f"loops / vectorised (best) = {rows[-1][1] / min(row[1] for row in vectorised_rows):.0f}x")

if __name__ == "__main__":
    main()
