"""What does a CNN learn? Visualising and explaining Keras 3 models.

Usage summary (``model``: a functional Keras model, ``(N, H, W, C)`` images → ``(N, K)`` logits)::

    from cnncourse import explain

    # What the network computes.
    grid = explain.first_layer_filters(model)                 # (h, w, C) image of the first conv's kernels
    maps = explain.activation_maps(model, images, "block2")   # (N, h, w, F)
    top = explain.top_patches(model, images, "block2", unit=5, k=9)   # receptive fields, strongest first
    idx, dist = explain.nearest_neighbours(features, queries, k=5)    # (Q, k) each
    xy = explain.tsne_embedding(features)                     # (N, 2)

    # Where the evidence is: (N, H, W) heat maps.
    occ = explain.occlusion_sensitivity(model, images, labels, patch_size=8, stride=4, fill=0.5)  # (N, rows, cols)
    occ_px = explain.occlusion_to_pixels(occ, (H, W), patch_size=8, stride=4)
    sal = explain.saliency_map(model, images, labels)          # max_c |dS/dx|
    smooth = explain.smoothgrad(model, images, labels, samples=16, noise=0.15)
    guided = explain.guided_backprop(model, images, labels)    # via explain.guided_model(model), a copy
    cam = explain.grad_cam(model, images, "block3", labels)

    # How good are the maps?
    explain.pointing_game(cam, boxes)                          # fraction of maxima inside the boxes
    explain.randomization_check(explain.saliency_map, model, images, labels)   # Adebayo et al.

    # Images made by gradient ascent.
    image, scores = explain.class_model_visualisation(model, class_index=0, steps=200)
    dreamed, _ = explain.deep_dream(model, photo, "block2", steps=20)
    G = explain.gram_matrix(features)                          # (N, C, C) = F Fᵀ / (h w)
    result = explain.style_transfer(backbone, content, style, content_layer="block3_relu2",
                                    style_layers=["block1_relu1", "block2_relu1"], steps=100)

One concept per module: :mod:`.filters` (filters, activations), :mod:`.patches`,
:mod:`.neighbours`, :mod:`.occlusion`, :mod:`.saliency` (saliency, SmoothGrad),
:mod:`.guided`, :mod:`.gradcam`, :mod:`.synthesis` (class models, DeepDream), :mod:`.style`,
:mod:`.sanity` (pointing game, randomisation). TensorFlow, Keras and scikit-learn are
imported only by the functions that need them.
"""

from cnncourse.explain._common import chain_model, normalise_maps, resize_maps
from cnncourse.explain.filters import activation_maps, filter_grid, first_conv_layer, first_layer_filters
from cnncourse.explain.gradcam import grad_cam
from cnncourse.explain.guided import guided_backprop, guided_model, guided_relu
from cnncourse.explain.neighbours import nearest_neighbours, tsne_embedding
from cnncourse.explain.occlusion import (
    occlusion_grid, occlusion_masks, occlusion_sensitivity, occlusion_sensitivity_loop, occlusion_to_pixels,
)
from cnncourse.explain.patches import TopPatches, top_patches
from cnncourse.explain.saliency import input_gradients, saliency_map, smoothgrad
from cnncourse.explain.sanity import (
    SanityResult, pointing_game, pointing_hits, randomization_check, randomize_weights, rank_correlation,
)
from cnncourse.explain.style import (
    StyleTransferResult, content_loss, gram_matrix, style_layer_loss, style_loss, style_transfer, total_variation,
)
from cnncourse.explain.synthesis import class_model_visualisation, deep_dream, gaussian_blur

__all__ = [
    "SanityResult", "StyleTransferResult", "TopPatches", "activation_maps", "chain_model", "class_model_visualisation",
    "content_loss", "deep_dream", "filter_grid", "first_conv_layer", "first_layer_filters", "gaussian_blur",
    "grad_cam", "gram_matrix", "guided_backprop", "guided_model", "guided_relu", "input_gradients",
    "nearest_neighbours", "normalise_maps", "occlusion_grid", "occlusion_masks", "occlusion_sensitivity",
    "occlusion_sensitivity_loop", "occlusion_to_pixels", "pointing_game", "pointing_hits", "randomization_check",
    "randomize_weights", "rank_correlation", "resize_maps", "saliency_map", "smoothgrad", "style_layer_loss",
    "style_loss", "style_transfer", "top_patches", "total_variation", "tsne_embedding",
]
