"""Small argument checks shared by the layers: each error names the argument, what was
expected and what came."""

from __future__ import annotations


def positive_int(name: str, value) -> int:
    """Return ``value`` if it is a positive ``int`` (not a bool), else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def pair(name: str, value) -> tuple[int, int]:
    """Turn an int or a pair of ints into a pair of positive ints (``3`` -> ``(3, 3)``)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return positive_int(name, value[0]), positive_int(name, value[1])
    return positive_int(name, value), positive_int(name, value)


def one_of(name: str, value, allowed) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` listing them."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def image_shape(layer_name: str, input_shape, need_spatial: bool = False) -> tuple:
    """Check that ``input_shape`` is ``(batch, height, width, channels)`` with known channels.

    Args:
        layer_name: the layer's class name, for the message.
        input_shape: the shape passed to ``build``.
        need_spatial: also require known height and width.
    """
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(
            f"{layer_name} expects images of shape (batch, height, width, channels) "
            f"(channels_last), got input shape {shape}"
        )
    if shape[-1] is None:
        raise ValueError(f"{layer_name} needs a known number of channels, got input shape {shape}")
    if need_spatial and (shape[1] is None or shape[2] is None):
        raise ValueError(
            f"{layer_name} needs a known height and width (its weights differ per position), "
            f"got input shape {shape}"
        )
    return shape
