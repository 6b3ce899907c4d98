"""Parameters and multiply-accumulates of 3D convolutions and their (2+1)D factorisation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cnncourse import ops as O


def brute_force_conv3d(x, kernel, bias):
    """A 'same', stride-1 Conv3D by loops over output values, counting every multiplication it does.

    x: (T, H, W, Cin); kernel: (t, kh, kw, Cin, Cout). Taps that fall on the zero padding are
    counted too: MAC counts, like Keras's kernels, do not skip them.
    """
    t, kh, kw, c_in, c_out = kernel.shape
    padded = np.pad(x, [((t - 1) // 2, t // 2), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)])
    out = np.zeros(x.shape[:3] + (c_out,))
    multiplications = 0
    for f, i, j, o in itertools.product(*(range(n) for n in x.shape[:3]), range(c_out)):
        total = bias[o]
        for a, b, c, ch in itertools.product(range(t), range(kh), range(kw), range(c_in)):
            total += padded[f + a, i + b, j + c, ch] * kernel[a, b, c, ch, o]
            multiplications += 1
        out[f, i, j, o] = total
    return out, multiplications


def keras_models(size, kernel_size, c_in, c_out, mid):
    import keras

    t, kh, kw = kernel_size
    full = keras.Sequential([keras.Input((*size, c_in)), keras.layers.Conv3D(c_out, kernel_size, padding="same")])
    factorised = keras.Sequential([keras.Input((*size, c_in)),
                                   keras.layers.Conv3D(mid, (1, kh, kw), padding="same", activation="relu"),
                                   keras.layers.Conv3D(c_out, (t, 1, 1), padding="same")])
    return full, factorised


CASES = [((3, 4, 5), (3, 3, 3), 2, 3, 4), ((4, 3, 3), (2, 3, 1), 3, 2, 1), ((2, 5, 4), (1, 2, 3), 1, 4, 2)]


@pytest.mark.parametrize("size, kernel_size, c_in, c_out, mid", CASES)
def test_counts_against_keras_and_a_brute_force(size, kernel_size, c_in, c_out, mid):
    full, factorised = keras_models(size, kernel_size, c_in, c_out, mid)
    assert O.conv_params(kernel_size, c_in, c_out) == full.count_params()
    assert O.conv2plus1d_params(kernel_size, c_in, c_out, mid) == factorised.count_params()
    assert O.conv2plus1d_params(kernel_size, c_in, c_out, mid, use_bias=False) == factorised.count_params() - mid - c_out

    rng = np.random.default_rng(0)
    x = rng.normal(size=(*size, c_in))
    kernel, bias = (np.asarray(w) for w in full.layers[0].get_weights())
    expected = np.asarray(full(x[None].astype("float32")))[0]
    out, macs = brute_force_conv3d(x, kernel, bias)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)  # the loop is the layer
    assert macs == O.conv_macs(size, kernel_size, c_in, c_out)

    spatial, temporal = (layer.get_weights() for layer in factorised.layers)
    middle, spatial_macs = brute_force_conv3d(x, spatial[0], spatial[1])
    out, temporal_macs = brute_force_conv3d(np.maximum(middle, 0), temporal[0], temporal[1])
    np.testing.assert_allclose(out, np.asarray(factorised(x[None].astype("float32")))[0], rtol=1e-4, atol=1e-4)
    assert spatial_macs + temporal_macs == O.conv2plus1d_macs(size, kernel_size, c_in, c_out, mid)


def test_mid_channels_match_the_3d_weights():
    # Tran et al. 2018: M = floor(t d^2 N_in N_out / (d^2 N_in + t N_out))
    assert O.conv2plus1d_mid_channels(3, 64, 64) == 144
    assert O.conv2plus1d_mid_channels((3, 3, 3), 3, 64) == 23
    for c_in, c_out in [(64, 64), (64, 128), (128, 256), (256, 512)]:
        mid = O.conv2plus1d_mid_channels(3, c_in, c_out)
        full = O.conv_params((3, 3, 3), c_in, c_out, use_bias=False)
        # the factorised block has at most as many weights, and one more mid channel would be too many
        assert O.conv2plus1d_params(3, c_in, c_out, mid, use_bias=False) <= full
        assert O.conv2plus1d_params(3, c_in, c_out, mid + 1, use_bias=False) > full


def test_intermediate_size_counts_the_spatial_half_separately():
    # "valid" in time: 6 frames in, 4 out; the spatial half still sees all 6 frames
    got = O.conv2plus1d_macs((4, 8, 8), (3, 3, 3), 2, 5, mid_channels=7, intermediate_size=(6, 8, 8))
    assert got == 6 * 64 * 7 * 9 * 2 + 4 * 64 * 5 * 3 * 7


def test_int_kernel_means_a_cube():
    assert O.conv2plus1d_params(3, 4, 5, 6) == O.conv2plus1d_params((3, 3, 3), 4, 5, 6)
    assert O.conv2plus1d_macs((2, 3, 4), 3, 4, 5, 6) == O.conv2plus1d_macs((2, 3, 4), (3, 3, 3), 4, 5, 6)


@pytest.mark.parametrize("call, error, message", [
    (lambda: O.conv2plus1d_params((3, 3), 4, 4), ValueError, "kernel_size must be a positive int or a sequence of 3"),
    (lambda: O.conv2plus1d_params(3, 0, 4), ValueError, "in_channels must be a positive integer, got 0"),
    (lambda: O.conv2plus1d_params(3, 4, 4, mid_channels=2.5), TypeError, "mid_channels must be an integer"),
    (lambda: O.conv2plus1d_macs((4, 4), 3, 4, 4), ValueError, "output_size must be a positive int or a sequence of 3"),
    (lambda: O.conv2plus1d_macs((4, 4, 4), 3, 4, 4, intermediate_size="x"), TypeError, "intermediate_size must be"),
    (lambda: O.conv2plus1d_mid_channels(3, 4, -1), ValueError, "out_channels must be a positive integer"),
])
def test_arguments_are_checked(call, error, message):
    with pytest.raises(error, match=message):
        call()
