"""The offline course backbone: shipped weights and manifest, architecture, input conversion, source task."""

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cnncourse import transfer  # noqa: E402
from cnncourse.transfer import backbone  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Fresh source images: a data seed the pre-training never used (it used 1, 2 and 3).
FRESH_SEED = 7
FRESH_N = 1000
# The manifest's test accuracy was measured on 2,000 images; a fresh 1,000 has a binomial
# standard error of at most 1.6 points, the difference of the two about 2 points: 0.06 is 3 of them.
TOLERANCE = 0.06


def test_shipped_weights_match_their_manifest():
    manifest = transfer.backbone_manifest()
    path = backbone.WEIGHTS_DIR / manifest["weights_file"]
    assert path.is_file()
    assert backbone.sha256_of(path) == manifest["sha256"]
    assert 100_000 < path.stat().st_size < 5_000_000
    for key in ("recipe", "seed", "source_accuracy", "versions", "command"):
        assert key in manifest
    assert manifest["recipe"]["train_size"] > 0 and manifest["recipe"]["epochs"] > 0
    assert set(manifest["versions"]) >= {"python", "numpy", "tensorflow", "keras"}


def test_shipped_weights_reach_the_manifest_source_accuracy_on_fresh_images():
    model = transfer.load_backbone(include_top=True)
    images, labels = transfer.make_source_data(FRESH_N, seed=FRESH_SEED)
    logits = model.predict(images, batch_size=250, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    documented = transfer.backbone_manifest()["source_accuracy"]["test"]
    assert documented > 10 * 0.02  # far above chance (50 classes)
    assert abs(accuracy - documented) <= TOLERANCE, (accuracy, documented)


def test_damaged_weights_are_refused(tmp_path):
    for name in (backbone.WEIGHTS_FILE, backbone.MANIFEST_FILE):
        shutil.copy(backbone.WEIGHTS_DIR / name, tmp_path / name)
    model = transfer.load_backbone(weights_dir=tmp_path)  # an intact copy loads
    assert model.output.shape[1:] == (backbone.WIDTHS[-1],)
    data = bytearray((tmp_path / backbone.WEIGHTS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / backbone.WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(transfer.WeightsIntegrityError, match="sha256"):
        transfer.load_backbone(weights_dir=tmp_path)
    (tmp_path / backbone.WEIGHTS_FILE).unlink()
    with pytest.raises(transfer.WeightsIntegrityError, match="missing"):
        transfer.load_backbone(weights_dir=tmp_path)
    with pytest.raises(transfer.WeightsIntegrityError, match="pretrain"):
        transfer.load_backbone(weights_dir=tmp_path / "nowhere")


def test_blocks_are_named_layers_with_the_documented_shapes():
    model = transfer.load_backbone()
    assert model.trainable is False
    expected = {"block1": (16, 16, 24), "block2": (8, 8, 48), "block3": (4, 4, 96), "block4": (192,)}
    assert tuple(expected) == transfer.BLOCK_NAMES
    for name, shape in expected.items():
        assert tuple(model.get_layer(name).output.shape[1:]) == shape
    assert [b for b, _ in transfer.backbone_blocks(model)] == list(transfer.BLOCK_NAMES)
    top = transfer.load_backbone(include_top=True, trainable=True)
    assert top.trainable and top.get_layer("source_logits").units == transfer.NUM_SOURCE_CLASSES
    # The feature extractor shares its weights with the classifier it was cut from.
    np.testing.assert_array_equal(model.get_layer("block4_conv1").get_weights()[0],
                                  top.get_layer("block4_conv1").get_weights()[0])


def test_build_backbone_is_seeded():
    a, b, c = (transfer.build_backbone(seed=s) for s in (3, 3, 4))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_layer("block1_conv1").get_weights()[0], c.get_layer("block1_conv1").get_weights()[0])
    with pytest.raises(ValueError, match="seed"):
        transfer.build_backbone(seed=-1)


def test_to_backbone_input_converts_gray_and_sizes():
    gray = np.random.default_rng(0).uniform(size=(5, 25, 25, 1)).astype(np.float32)
    out = transfer.to_backbone_input(gray)
    assert out.shape == (5, 32, 32, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert abs(out.mean() - gray.mean()) < 0.02  # a resize keeps the brightness
    same = transfer.to_backbone_input(np.full((2, 32, 32, 3), 255, dtype=np.uint8))
    np.testing.assert_array_equal(same, np.ones((2, 32, 32, 3), dtype=np.float32))
    assert transfer.to_backbone_input(gray[..., 0]).shape == (5, 32, 32, 3)
    with pytest.raises(ValueError, match="images"):
        transfer.to_backbone_input(np.zeros((2, 8, 8, 2)))
    with pytest.raises(ValueError, match="images"):
        transfer.to_backbone_input(np.zeros((8, 8)))
    with pytest.raises(TypeError, match="images"):
        transfer.to_backbone_input(np.zeros((2, 8, 8, 1), dtype=np.int64))


def test_source_task_is_deterministic_and_balanced():
    images, labels = transfer.make_source_data(120, seed=5)
    again, _ = transfer.make_source_data(120, seed=5)
    other, _ = transfer.make_source_data(120, seed=6)
    assert images.shape == (120, 32, 32, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, other)
    np.testing.assert_array_equal(labels[:60], np.arange(60) % 50)
    assert len(transfer.SOURCE_CLASS_NAMES) == 50 == len(set(transfer.SOURCE_CLASS_NAMES))
    assert transfer.SOURCE_CLASS_NAMES[transfer.SOURCE_CLASSES.index(("star", "stripes"))] == "striped star"
    with pytest.raises(ValueError, match="n"):
        transfer.make_source_data(0)


def test_weights_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["cnncourse.transfer"]
    shipped = {p.name for p in backbone.WEIGHTS_DIR.iterdir()}
    for name in (backbone.WEIGHTS_FILE, backbone.MANIFEST_FILE):
        assert name in shipped
        assert any(Path("weights", name).match(pattern) for pattern in patterns), (name, patterns)


def test_cut_backbone_shares_weights_and_names_bad_layers():
    model = transfer.load_backbone()
    cut = transfer.cut_backbone(model, "block2")
    assert tuple(cut.output.shape[1:]) == (8, 8, 48) and cut.trainable is False
    assert cut.get_layer("block2_conv2") is model.get_layer("block2_conv2")
    with pytest.raises(ValueError, match="layer.*block9"):
        transfer.cut_backbone(model, "block9")
    with pytest.raises(TypeError, match="model"):
        transfer.cut_backbone("course_cnn", "block2")
