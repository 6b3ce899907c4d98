"""NumPy reference implementations of the operations inside a CNN, and the arithmetic around them.

Everything here is plain NumPy, written to be read: the notebooks compare these functions
with Keras (``keras.ops.conv``, ``Conv2D``, ``MaxPooling2D``, ``Conv2DTranspose``) and the
tests check them against Keras/TensorFlow and SciPy. Importing this package does not import
TensorFlow (only :func:`receptive_field_of_model` imports Keras, when called).

Layouts follow Keras (``channels_last``): an image is ``(H, W)`` (single channel, the simplest
case, with a 2D kernel ``(KH, KW)``), ``(H, W, C)``, or a batch ``(N, H, W, C)``; kernels are
``(KH, KW, Cin, Cout)``, exactly what ``Conv2D(...).get_weights()[0]`` holds. Each docstring
gives the shapes. Bad input raises an error that names the argument, what was expected and
what came.

Convolution (:mod:`cnncourse.ops.convolution`)::

    from cnncourse.ops import cross_correlate2d, cross_correlate2d_loops, convolve2d, im2col

    cross_correlate2d(image, kernel)                     # what Conv2D / keras.ops.conv compute
    cross_correlate2d(image, kernel, stride=2, padding="same", padding_mode="reflect",
                      dilation=1, groups=1, bias=None)
    cross_correlate2d_loops(image, kernel, ...)          # the slow, readable definition
    convolve2d(image, kernel)                            # true convolution: kernel flipped
    cross_correlate1d(signal, kernel), convolve1d(signal, kernel)   # (L,), (L, C), (N, L, C)
    im2col(image, kernel_size, stride, padding)          # (N*OH*OW, KH*KW*C): conv = im2col @ kernel
    col2im(cols, image_shape, kernel_size, ...)          # its transpose (adds overlaps)

    padding: "valid" | "same" | "full" | int | (ph, pw) | ((top, bottom), (left, right))
    padding_mode: "zero" | "wrap" | "replicate" | "reflect"      (pad_image shows them)

Pooling (:mod:`cnncourse.ops.pooling`)::

    max_pool2d(x, pool_size=2, stride=None, padding="valid", return_indices=False)
    average_pool2d(x, pool_size=2, stride=None, padding="valid")
    max_pool2d_backward(x, grad_output, pool_size=2, ...)   # gradient routed to the argmax
    average_pool2d_backward(x, grad_output, pool_size=2, ...)
    cross_channel_max_pool(x, pool_size=2)                  # maxout over channels

Upsampling (:mod:`cnncourse.ops.upsampling`)::

    nearest_unpool2d(x, size=2), bed_of_nails_unpool2d(x, size=2)
    pooled, indices = max_pool2d(x, return_indices=True)
    max_unpool2d(values, indices, output_size=x.shape[:2])
    conv_transpose2d(x, kernel, stride=2, padding="same")   # Conv2DTranspose; kernel (KH, KW, Cout, Cin)
    conv_transpose1d(x, kernel, stride=2)
    W = conv1d_matrix(kernel, input_length, stride=1, padding=1)   # conv as a matrix; W.T = transposed conv
    conv1d_matrix(["x", "y", "z"], 4, padding=1)                   # the symbolic picture of the slides

Accounting (:mod:`cnncourse.ops.accounting`)::

    conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1)   # also "same"/"valid"
    conv_params(kernel_size, in_channels, out_channels, use_bias=True, groups=1)
    dense_params(input_shape, units, use_bias=True)
    locally_connected_params(num_units, field_size, in_channels=1)
    separable_conv_params(kernel_size, in_channels, out_channels, depth_multiplier=1)
    conv_macs(output_size, kernel_size, in_channels, out_channels, groups=1)
    separable_conv_macs(output_size, kernel_size, in_channels, out_channels)
    conv2plus1d_params(kernel_size, in_channels, out_channels, mid_channels=None)   # video: (2+1)D
    conv2plus1d_macs(output_size, kernel_size, in_channels, out_channels, mid_channels=None)
    conv2plus1d_mid_channels(kernel_size, in_channels, out_channels)   # as many weights as the 3D conv
    receptive_field([3, (2, 2), LayerSpec(3, dilation=2)])   # ReceptiveField(size, jump, offset)
    receptive_field_of_model(keras_model, up_to="conv3")

Worked examples from the lecture decks (all reproduced by the tests)::

    >>> cross_correlate2d([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2],
    ...                    [2, 0, 0, 0, 1]], [[0, 1, 2], [2, 2, 0], [0, 1, 2]])       # deck 003
    array([[12., 12., 17.],
           [10., 17., 19.],
           [ 9.,  6., 14.]])
    >>> max_pool2d([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])            # deck 001
    array([[6, 8],
           [3, 4]])
    >>> conv_macs((28, 28), 5, 192, 32)                                                 # deck 000
    120422400
"""

from cnncourse.ops.accounting import (
    LayerSpec,
    ReceptiveField,
    conv2plus1d_macs,
    conv2plus1d_mid_channels,
    conv2plus1d_params,
    conv_macs,
    conv_output_size,
    conv_params,
    dense_params,
    locally_connected_params,
    receptive_field,
    receptive_field_of_model,
    separable_conv_macs,
    separable_conv_params,
)
from cnncourse.ops.convolution import (
    col2im,
    convolve1d,
    convolve2d,
    cross_correlate1d,
    cross_correlate2d,
    cross_correlate2d_loops,
    im2col,
)
from cnncourse.ops.padding import PADDING_MODES, pad_image, resolve_padding, resolve_padding_2d, same_padding
from cnncourse.ops.pooling import (
    average_pool2d,
    average_pool2d_backward,
    cross_channel_max_pool,
    max_pool2d,
    max_pool2d_backward,
)
from cnncourse.ops.upsampling import (
    bed_of_nails_unpool2d,
    conv1d_matrix,
    conv_transpose1d,
    conv_transpose2d,
    max_unpool2d,
    nearest_unpool2d,
)

__all__ = [
    # convolution
    "cross_correlate2d",
    "cross_correlate2d_loops",
    "convolve2d",
    "cross_correlate1d",
    "convolve1d",
    "im2col",
    "col2im",
    # padding
    "PADDING_MODES",
    "pad_image",
    "resolve_padding",
    "resolve_padding_2d",
    "same_padding",
    # pooling
    "max_pool2d",
    "average_pool2d",
    "max_pool2d_backward",
    "average_pool2d_backward",
    "cross_channel_max_pool",
    # upsampling
    "nearest_unpool2d",
    "bed_of_nails_unpool2d",
    "max_unpool2d",
    "conv_transpose2d",
    "conv_transpose1d",
    "conv1d_matrix",
    # accounting
    "conv_output_size",
    "conv_params",
    "dense_params",
    "locally_connected_params",
    "separable_conv_params",
    "conv_macs",
    "separable_conv_macs",
    "conv2plus1d_mid_channels",
    "conv2plus1d_params",
    "conv2plus1d_macs",
    "LayerSpec",
    "ReceptiveField",
    "receptive_field",
    "receptive_field_of_model",
]
