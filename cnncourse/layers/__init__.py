"""Reusable Keras 3 layers of the course: the building blocks of the classic architectures.

- :class:`BasicResidualBlock`, :class:`BottleneckResidualBlock` (and :class:`ZeroPadShortcut`):
  ResNet blocks, with projection, zero-padding or no shortcut (the plain twin);
- :class:`InceptionModule`: GoogLeNet's module with 1x1 reductions;
- :class:`DenseBlock`, :class:`TransitionLayer`: DenseNet's parts;
- :class:`LocallyConnected2D`: a convolution without weight sharing (gone from Keras 3).

Every layer is registered as serializable (package ``"cnncourse"``), implements
``get_config`` and survives a ``.keras`` save/load round trip; composite layers build
their sublayers in ``build`` so that every weight is tracked. Importing this package
imports Keras (and TensorFlow).
"""

from cnncourse.layers.dense import DenseBlock, TransitionLayer
from cnncourse.layers.inception import InceptionModule
from cnncourse.layers.locally_connected import LocallyConnected2D
from cnncourse.layers.residual import BasicResidualBlock, BottleneckResidualBlock, ZeroPadShortcut

__all__ = [
    "BasicResidualBlock",
    "BottleneckResidualBlock",
    "DenseBlock",
    "InceptionModule",
    "LocallyConnected2D",
    "TransitionLayer",
    "ZeroPadShortcut",
]
