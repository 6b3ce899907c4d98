"""No default code path of cnncourse.data touches the network."""

from __future__ import annotations

import socket

import numpy as np
import pytest


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_every_default_path_works_without_network(no_network, tmp_path):
    from cnncourse import data

    assert data.load_digits().train.images.shape[1:] == (28, 28, 1)
    assert data.load_faces().train.images.shape[1:] == (32, 32, 1)
    photos = data.sample_images()
    assert set(photos) == set(data.SAMPLE_IMAGES)
    shapes = data.make_shapes(8, seed=0)
    assert len(shapes) == 8
    batch = next(iter(data.shapes_dataset(8, batch_size=8)))
    assert batch["images"].shape[0] == 8
    classes = data.load_shape_classes("textures", train_size=10, val_size=10, test_size=10)
    assert classes.train.images.shape == (10, 32, 32, 3)
    gt = data.coco_ground_truth(shapes)
    detections = data.to_coco_detections(shapes.boxes, shapes.labels, np.ones(shapes.labels.shape))
    assert data.coco_evaluate(gt, detections)["AP"] == pytest.approx(1.0)
    with pytest.raises(data.DatasetNotAvailableError):
        data.load_tfds("cifar10", data_dir=tmp_path)
    assert no_network == []  # nothing even tried to connect


def test_the_guard_itself_catches_a_connection(no_network):
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("127.0.0.1", 9))
    assert len(no_network) == 1
