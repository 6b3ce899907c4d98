"""Forbidding named callables while a student's function runs: when the exercise is to write the thing.

``check.function(student, reference, cases, what, forbid=["cnncourse.ops.cross_correlate2d",
"keras.ops.conv"])`` (or ``with check.forbidding([...]):``) runs the student's code with those
callables off limits:

- each named attribute is replaced, for the duration, by a stand-in that raises
  :class:`ForbiddenCall` with a hint ("the exercise is to write it yourself"), also where
  the student's function holds it in its globals, closure or default arguments;
- a profile hook (``sys.setprofile``) watches every call in the meantime and catches the
  forbidden function reached any other way (an alias kept in a list, ``__wrapped__``, a
  ``functools.partial``), by its code object or, for a C function, by identity;
- a student function that switches the hook off is caught too.

Names that do not resolve (a package not installed, a module not imported yet and not
importable) are skipped: forbidding a name never breaks a check.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator


#: The library's versions of what the notebooks' exercises ask the student to write, by exercise.
#: Test cells pass them as ``forbid=forbid.CONVOLUTION`` (``from cnncourse.grading import forbid``), so
#: the lists live in one place, and in a module whose attributes the grader restores before each test.
CONVOLUTION = ("cnncourse.ops.cross_correlate2d", "cnncourse.ops.cross_correlate2d_loops", "cnncourse.ops.convolve2d",
               "keras.ops.conv", "keras.ops.depthwise_conv", "tensorflow.nn.conv2d", "tensorflow.nn.convolution",
               "scipy.signal.correlate2d", "scipy.signal.convolve2d", "scipy.signal.correlate", "scipy.signal.convolve",
               "scipy.signal.fftconvolve", "scipy.ndimage.correlate", "scipy.ndimage.convolve")
CONV2D_LAYER = CONVOLUTION + ("keras.layers.Conv2D",)
CONV_OUTPUT_SIZE = ("cnncourse.ops.conv_output_size",)
POOLING = ("cnncourse.ops.max_pool2d", "cnncourse.ops.average_pool2d", "keras.ops.max_pool", "keras.ops.average_pool",
           "tensorflow.nn.max_pool2d", "tensorflow.nn.avg_pool2d", "tensorflow.nn.pool", "keras.layers.MaxPooling2D",
           "keras.layers.AveragePooling2D", "skimage.measure.block_reduce")
#: automatic differentiation computes a backward pass for you
AUTODIFF = ("tensorflow.GradientTape", "tensorflow.gradients")
POOLING_BACKWARD = ("cnncourse.ops.max_pool2d_backward", "cnncourse.ops.average_pool2d_backward") + POOLING + AUTODIFF
RECEPTIVE_FIELD = ("cnncourse.ops.receptive_field", "cnncourse.ops.receptive_field_of_model")
CONV_MACS = ("cnncourse.ops.conv_macs", "cnncourse.ops.separable_conv_macs", "cnncourse.model_costs.layer_table")
UNPOOLING = ("cnncourse.ops.max_unpool2d", "cnncourse.ops.nearest_unpool2d", "cnncourse.ops.bed_of_nails_unpool2d",
             "cnncourse.ops.max_pool2d", "keras.ops.max_pool", "tensorflow.nn.max_pool_with_argmax",
             "tensorflow.scatter_nd")
CONV_MATRIX = ("cnncourse.ops.conv1d_matrix", "cnncourse.ops.conv_transpose1d", "scipy.linalg.toeplitz",
               "scipy.linalg.convolution_matrix")
CONV_TRANSPOSE = ("cnncourse.ops.conv_transpose2d", "cnncourse.ops.conv_transpose1d", "keras.ops.conv_transpose",
                  "tensorflow.nn.conv2d_transpose", "tensorflow.nn.conv_transpose", "keras.layers.Conv2DTranspose")
#: what computes a layer's output shape, parameters or cost for you
LAYER_ARITHMETIC = ("cnncourse.ops.conv_output_size", "cnncourse.ops.conv_params", "cnncourse.ops.dense_params",
                    "cnncourse.ops.conv_macs", "cnncourse.ops.separable_conv_macs", "cnncourse.model_costs.layer_table",
                    "keras.layers.Conv2D", "keras.layers.Dense", "keras.layers.MaxPooling2D",
                    "keras.layers.AveragePooling2D", "keras.Model", "keras.Sequential", "keras.Input")
RESIDUAL_BLOCKS = ("cnncourse.layers.BasicResidualBlock", "cnncourse.layers.BottleneckResidualBlock",
                   "cnncourse.models.cifar_resnet", "cnncourse.models.resnet50", "keras.applications.ResNet50")
DENSENET = ("cnncourse.models.cifar_densenet", "cnncourse.layers.DenseBlock", "cnncourse.layers.TransitionLayer",
            "keras.applications.DenseNet121", "keras.applications.DenseNet169", "keras.applications.DenseNet201",
            "keras.Model", "keras.Sequential")
SOFTMAX = ("keras.ops.softmax", "keras.activations.softmax", "tensorflow.nn.softmax", "scipy.special.softmax",
           "scipy.special.log_softmax", "keras.ops.log_softmax")
CROSS_ENTROPY = ("keras.ops.sparse_categorical_crossentropy", "keras.ops.categorical_crossentropy",
                 "keras.losses.sparse_categorical_crossentropy", "keras.losses.categorical_crossentropy",
                 "tensorflow.nn.sparse_softmax_cross_entropy_with_logits",
                 "tensorflow.nn.softmax_cross_entropy_with_logits") + SOFTMAX
PARAMETER_COUNTS = ("cnncourse.ops.conv_params", "cnncourse.ops.dense_params", "cnncourse.ops.separable_conv_params",
                    "cnncourse.ops.locally_connected_params", "cnncourse.model_costs.layer_table",
                    "keras.layers.Dense", "keras.layers.Conv2D")
PADDING = ("numpy.pad", "cnncourse.ops.pad_image", "keras.ops.pad", "tensorflow.pad")
DROPOUT = ("keras.layers.Dropout", "keras.random.dropout", "tensorflow.nn.dropout")
CONFUSION_MATRIX = ("sklearn.metrics.confusion_matrix", "tensorflow.math.confusion_matrix")
#: what computes a segmentation's confusion matrix, pixel accuracy, IoU or Dice for you
SEGMENTATION_METRICS = ("cnncourse.segmentation.confusion_matrix", "cnncourse.segmentation.pixel_accuracy",
                        "cnncourse.segmentation.class_iou", "cnncourse.segmentation.mean_iou",
                        "cnncourse.segmentation.class_dice", "cnncourse.segmentation.mean_dice",
                        "cnncourse.segmentation.segmentation_report", "cnncourse.segmentation.ConfusionMatrixMetric",
                        "cnncourse.segmentation.PixelAccuracy", "cnncourse.segmentation.MeanIoU",
                        "cnncourse.segmentation.MeanDice", "cnncourse.segmentation.metrics.confusion_matrix",
                        "cnncourse.segmentation.metrics.class_iou", "cnncourse.segmentation.metrics.mean_iou",
                        "cnncourse.segmentation.metrics.class_dice", "cnncourse.segmentation.metrics.mean_dice",
                        "cnncourse.segmentation.metrics.pixel_accuracy",
                        "cnncourse.segmentation.metrics.segmentation_report",
                        "sklearn.metrics.jaccard_score", "sklearn.metrics.f1_score", "keras.metrics.MeanIoU",
                        "keras.metrics.IoU", "keras.metrics.OneHotMeanIoU",
                        "keras.metrics.OneHotIoU") + CONFUSION_MATRIX
DICE_LOSS = ("cnncourse.segmentation.soft_dice_loss", "cnncourse.segmentation.SoftDiceLoss",
             "cnncourse.segmentation.CrossEntropyDiceLoss", "cnncourse.segmentation.losses.soft_dice_loss",
             "keras.losses.Dice", "keras.losses.dice")
BOX_FORMATS = ("cnncourse.boxes.convert_format", "cnncourse.boxes.convert_format_tf")
BOX_IOU = ("cnncourse.boxes.box_iou", "cnncourse.boxes.box_iou_tf", "cnncourse.boxes.elementwise_box_iou",
           "cnncourse.boxes.generalized_box_iou")
NMS = ("cnncourse.boxes.batched_nms", "cnncourse.boxes.nms_reference",
       "tensorflow.image.non_max_suppression", "tensorflow.image.non_max_suppression_with_scores",
       "tensorflow.image.combined_non_max_suppression")
VOC_AP = ("cnncourse.boxes.voc_average_precision",)
COCO_AP = ("cnncourse.boxes.coco_average_precision", "cnncourse.boxes.coco_summary",
           "pycocotools.cocoeval.COCOeval")
OCCLUSION = ("cnncourse.explain.occlusion_sensitivity", "cnncourse.explain.occlusion_sensitivity_loop",
             "cnncourse.explain.occlusion.occlusion_sensitivity", "cnncourse.explain.occlusion.occlusion_sensitivity_loop",
             "cnncourse.explain.occlusion_masks", "cnncourse.explain.occlusion.occlusion_masks")
SALIENCY = ("cnncourse.explain.saliency_map", "cnncourse.explain.input_gradients", "cnncourse.explain.smoothgrad",
            "cnncourse.explain.guided_backprop", "cnncourse.explain.saliency.saliency_map",
            "cnncourse.explain.saliency.input_gradients")
POINTING_GAME = ("cnncourse.explain.pointing_game", "cnncourse.explain.pointing_hits",
                 "cnncourse.explain.sanity.pointing_game", "cnncourse.explain.sanity.pointing_hits")
GRAD_CAM = ("cnncourse.explain.grad_cam", "cnncourse.explain.gradcam.grad_cam")
GRAM = ("cnncourse.explain.gram_matrix", "cnncourse.explain.style.gram_matrix")
STYLE_LOSS = ("cnncourse.explain.style_layer_loss", "cnncourse.explain.style_loss", "cnncourse.explain.style.style_layer_loss",
              "cnncourse.explain.style.style_loss") + GRAM
CONVOLUTIONIZE = ("cnncourse.segmentation.convolutionize", "cnncourse.segmentation.dense_to_conv_kernel",
                  "cnncourse.segmentation.convolutionize.convolutionize",
                  "cnncourse.segmentation.convolutionize.dense_to_conv_kernel")
BILINEAR_KERNEL = ("cnncourse.segmentation.bilinear_kernel", "cnncourse.segmentation.models.bilinear_kernel")
UNET = ("cnncourse.segmentation.unet", "cnncourse.segmentation.models.unet")
PIXEL_CROSS_ENTROPY = ("cnncourse.segmentation.pixel_cross_entropy", "cnncourse.segmentation.losses.pixel_cross_entropy",
                       "keras.losses.SparseCategoricalCrossentropy", "keras.losses.CategoricalCrossentropy") + CROSS_ENTROPY


class ForbiddenCall(AssertionError):
    """The student's code called a callable the exercise forbids."""

    def __init__(self, verdict: str):
        super().__init__(verdict)
        self.verdict = verdict

    def _render_traceback_(self) -> list[str]:
        return self.verdict.splitlines()


def message(name: str, what: str = "") -> str:
    """The verdict of a forbidden call."""
    about = f" in {what}" if what else ""
    return (f"✘ your code{about} calls {name}: the exercise is to write this yourself, so it may not call the "
            f"library's version. Compute it with loops or NumPy operations instead.")


def resolve(name: str) -> tuple[Any, str, Any] | None:
    """``"keras.ops.conv"`` → ``(owner object, attribute name, the callable)``, or ``None`` if it does not resolve."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            owner = sys.modules.get(module_name) or importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - not installed, fails to import: nothing to forbid
            continue
        for attribute in parts[split:-1]:
            owner = getattr(owner, attribute, None)
            if owner is None:
                return None
        value = getattr(owner, parts[-1], None)
        return (owner, parts[-1], value) if callable(value) else None
    return None


def _codes(value: Any) -> set:
    codes = set()
    for candidate in {value, inspect.unwrap(value) if callable(value) else value}:
        code = getattr(candidate, "__code__", None) or getattr(getattr(candidate, "__func__", None), "__code__", None)
        if code is not None:
            codes.add(code)
    return codes


@contextmanager
def forbidding(names: Iterable[str], what: str = "", functions: Iterable[Callable] = ()) -> Iterator[None]:
    """Forbid the callables ``names`` inside the ``with`` block (see the module doc).

    Args:
        names: dotted names, e.g. ``["cnncourse.ops.cross_correlate2d", "scipy.signal.correlate2d"]``.
        what: the exercise, for the verdict.
        functions: the student's functions whose globals, closures and defaults are searched
            for aliases of the forbidden callables.

    Raises:
        ForbiddenCall: (at the end of the block) when the code called one, however it got it.
    """
    names = [n for n in dict.fromkeys(names)]
    resolved = {name: found for name in names if (found := resolve(name)) is not None}
    forbidden_ids = {id(value): name for name, (_, _, value) in resolved.items()}
    codes = {code: name for name, (_, _, value) in resolved.items() for code in _codes(value)}
    called: list[str] = []

    def stand_in(name: str) -> Callable:
        def forbidden(*args: Any, **kwargs: Any):
            called.append(name)
            raise ForbiddenCall(message(name, what))

        forbidden.__name__ = name.rsplit(".", 1)[-1]
        return forbidden

    restore: list[tuple[Callable, tuple]] = []

    def swap(setter: Callable, getter_value: Any, replacement: Any, *where: Any) -> None:
        setter(*where, replacement)
        restore.append((setter, (*where, getter_value)))

    for name, (owner, attribute, value) in resolved.items():
        try:
            swap(setattr, value, stand_in(name), owner, attribute)
        except (AttributeError, TypeError):
            pass
    for function in functions:
        function = inspect.unwrap(function) if callable(function) else function
        namespace = getattr(function, "__globals__", None)
        if isinstance(namespace, dict):
            for key, value in list(namespace.items()):
                if callable(value) and id(value) in forbidden_ids:
                    swap(dict.__setitem__, value, stand_in(forbidden_ids[id(value)]), namespace, key)
        for cell in getattr(function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if callable(value) and id(value) in forbidden_ids:
                swap(setattr, value, stand_in(forbidden_ids[id(value)]), cell, "cell_contents")
        defaults = getattr(function, "__defaults__", None)
        if defaults and any(callable(d) and id(d) in forbidden_ids for d in defaults):
            replaced = tuple(stand_in(forbidden_ids[id(d)]) if callable(d) and id(d) in forbidden_ids else d
                             for d in defaults)
            swap(setattr, defaults, replaced, function, "__defaults__")

    def watch(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            called.append(codes[frame.f_code])
        elif event == "c_call" and id(arg) in forbidden_ids:
            called.append(forbidden_ids[id(arg)])

    previous = sys.getprofile()
    sys.setprofile(watch)
    switched_off = False
    try:
        yield
    finally:
        switched_off = sys.getprofile() is not watch
        sys.setprofile(previous)
        for setter, arguments in reversed(restore):
            setter(*arguments)
    if switched_off and resolved:
        raise ForbiddenCall(f"✘ your code{f' in {what}' if what else ''} turned off the grader's call monitor "
                            f"(sys.setprofile): the check cannot tell whether it wrote the computation itself")
    if called:
        raise ForbiddenCall(message(called[0], what))
