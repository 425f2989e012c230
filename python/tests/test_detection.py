"""The detectors' parts that do not need a trained model: ignore regions, PointRend's subdivision, the
data plan's shares, the shard reader and the checkpoint loader on hostile input."""
import json
import os

import numpy as np
import pytest
import torch

from conftest import CLASSES, record, write_shard, write_source
from synmix_torch import detector_checkpoint as checkpoints
from synmix_torch.detection import build
from synmix_torch.detection_data import PlanBatches
from synmix_torch.plan import DataPlan, PlanError, Source, split_batch
from synmix_torch.pointrend import PointRendMaskBranch
from synmix_torch.shards import SampleReader, ShardError, expand


def target_with_ignore():
    """One car at (10, 10)–(30, 30) and an ignore region over the right half of a 64×64 image."""
    masks = torch.zeros((1, 64, 64), dtype=torch.uint8)
    masks[0, 10:30, 10:30] = 1
    ignore = torch.zeros((64, 64), dtype=torch.uint8)
    ignore[:, 32:] = 1
    return {"boxes": torch.tensor([[10.0, 10.0, 30.0, 30.0]]), "labels": torch.tensor([3]), "masks": masks, "ignore": ignore}


def test_anchors_mostly_inside_an_ignore_region_are_neither_positive_nor_negative():
    detector = build("maskrcnn", CLASSES, "resnet18")
    anchors = torch.tensor([[10.0, 10.0, 30.0, 30.0],    # the car: positive
                            [40.0, 10.0, 60.0, 30.0],    # background wholly inside the ignore region
                            [24.0, 40.0, 44.0, 60.0],    # background 60 % inside
                            [26.0, 40.0, 46.0, 60.0],    # background 70 % inside
                            [0.0, 40.0, 20.0, 60.0]])    # background outside it
    labels, _ = detector.rpn.assign_targets_to_anchors([anchors], [target_with_ignore()])
    assert labels[0].tolist() == [1.0, -1.0, -1.0, -1.0, 0.0]
    # 40 % and 50 % inside: still background (the car's own anchor is there so that no other is its best match).
    shifted = torch.tensor([[10.0, 10.0, 30.0, 30.0], [20.0, 40.0, 40.0, 60.0], [22.0, 40.0, 42.0, 60.0]])
    labels, _ = detector.rpn.assign_targets_to_anchors([shifted], [target_with_ignore()])
    assert labels[0].tolist() == [1.0, 0.0, 0.0]


def test_proposals_mostly_inside_an_ignore_region_are_not_sampled():
    detector = build("maskrcnn", CLASSES, "resnet18")
    heads = detector.roi_heads
    proposals = [torch.tensor([[11.0, 11.0, 30.0, 30.0], [40.0, 10.0, 60.0, 30.0], [0.0, 40.0, 20.0, 60.0]])]
    sampled, _, labels, _ = heads.select_training_samples(proposals, [target_with_ignore()])
    kept = sorted((tuple(box.tolist()), int(label)) for box, label in zip(sampled[0], labels[0]))
    # The proposal on the car and the ground-truth box itself are positives, the one outside the ignore
    # region a negative; the one inside the ignore region is in neither set.
    assert kept == [((0.0, 40.0, 20.0, 60.0), 0), ((10.0, 10.0, 30.0, 30.0), 3), ((11.0, 11.0, 30.0, 30.0), 3)]


def test_an_image_that_is_all_ignore_region_gives_zero_losses_not_nan():
    torch.manual_seed(0)
    detector = build("pointrend", CLASSES, "resnet18").train()
    target = {"boxes": torch.zeros((0, 4)), "labels": torch.zeros(0, dtype=torch.int64), "masks": torch.zeros((0, 64, 96), dtype=torch.uint8),
              "ignore": torch.ones((64, 96), dtype=torch.uint8)}
    losses = detector([torch.rand(3, 64, 96)], [target])
    assert all(torch.isfinite(v) for v in losses.values()), losses
    assert losses["loss_classifier"].item() == 0.0 and losses["loss_box_reg"].item() == 0.0
    sum(losses.values()).backward()   # the graph reaches the heads' parameters
    assert detector.roi_heads.box_predictor.cls_score.weight.grad is not None


def test_pointrend_subdivision_returns_masks_at_the_box_resolution():
    torch.manual_seed(0)
    branch = PointRendMaskBranch(256, len(CLASSES) + 1).eval()
    features = {"0": torch.randn(1, 256, 64, 128)}
    for side, resolution in [(5, 7), (20, 28), (50, 56), (100, 112), (200, 224), (400, 224)]:
        boxes = [torch.tensor([[4.0, 4.0, 4.0 + side, 4.0 + side / 2]])]
        masks = branch.predict(features, boxes, [torch.tensor([3])], [(256, 512)])
        assert masks[0].shape == (1, 1, resolution, resolution), side
        assert ((masks[0] >= 0) & (masks[0] <= 1)).all()


def test_pointrend_refines_each_box_only_up_to_its_own_resolution():
    torch.manual_seed(0)
    branch = PointRendMaskBranch(256, len(CLASSES) + 1).eval()
    features = {"0": torch.randn(1, 256, 64, 128)}
    for predictor in (branch.coarse.predictor, branch.point_head.predictor):   # logits far from 0, so that refining shows
        torch.nn.init.normal_(predictor.weight, std=1.0)
    small, large = torch.tensor([[4.0, 4.0, 24.0, 14.0]]), torch.tensor([[30.0, 10.0, 130.0, 60.0]])
    alone = branch.predict(features, [small], [torch.tensor([2])], [(256, 512)])[0]          # 20 px: 28×28
    together = branch.predict(features, [torch.cat([small, large])], [torch.tensor([2, 5])], [(256, 512)])[0]
    assert alone.shape == (1, 1, 28, 28) and together.shape == (2, 1, 112, 112)            # 100 px: 112×112
    # The small box's mask in the batch is its own 28×28 mask upsampled twice, not refined further.
    upsampled = torch.logit(alone.double()).float()
    for _ in range(2):
        upsampled = torch.nn.functional.interpolate(upsampled, scale_factor=2, mode="bilinear", align_corners=False)
    assert upsampled.abs().max() > 1, upsampled.abs().max()
    assert torch.allclose(torch.logit(together[:1].double()).float(), upsampled, atol=1e-3)
    refined_further = branch.predict(features, [torch.tensor([[4.0, 4.0, 104.0, 14.0]])], [torch.tensor([2])], [(256, 512)])[0]
    assert not torch.allclose(refined_further[:, :, :28:4, :28:4], together[:1, :, :28:4, :28:4], atol=1e-3)


def test_pointrend_refines_only_the_most_uncertain_points():
    torch.manual_seed(0)
    branch = PointRendMaskBranch(256, len(CLASSES) + 1).eval()
    features = {"0": torch.randn(1, 256, 64, 128)}
    boxes, labels = [torch.tensor([[0.0, 0.0, 200.0, 200.0]])], [torch.tensor([1])]
    coarse = branch.coarse_logits(features, boxes, [(256, 512)])[:, 1:2]
    refined = torch.logit(branch.predict(features, boxes, labels, [(256, 512)])[0].double()).float()
    plain = torch.nn.functional.interpolate(coarse, size=refined.shape[-2:], mode="bilinear", align_corners=False)
    # 224² = 50 176 pixels; the last step re-predicts 28² = 784 of them, so most keep the upsampled value.
    changed = (refined - plain).abs() > 1e-3
    assert 0 < changed.sum() < 224 * 224 / 4


def test_share_puts_exactly_half_of_each_batch_from_each_source(two_sources):
    real, synthetic = two_sources
    sources = [Source("real", expand(real)), Source("synthetic", expand(synthetic))]
    per_step = split_batch(4, {"real": 0.5}, ["real", "synthetic"])
    assert per_step == [2, 2]
    plan = DataPlan(sources, per_step, seed=3)
    for rank in (0, 1):
        batches = list(PlanBatches(plan, CLASSES, rank, 2, 0, 7, short_sides=(32,), max_size=128))
        assert [step for step, *_ in batches] == list(range(7))
        for _, keys, images, _ in batches:
            assert [k.split("-")[0] for k in keys] == ["real", "synthetic"]
    one_rank = list(PlanBatches(plan, CLASSES, 0, 1, 0, 7, short_sides=(32,), max_size=128))
    # 7 steps × 2 = 14 real positions: all 10 real samples once (one epoch), then 4 of the next epoch.
    real_keys = [k for _, keys, _, _ in one_rank for k in keys if k.startswith("real")]
    assert sorted(real_keys[:10]) == sorted(f"real-{s}-{i}" for s in range(2) for i in range(5))
    assert len(set(real_keys[10:])) == 4


def test_shares_that_are_no_whole_number_of_samples_are_refused():
    with pytest.raises(PlanError, match="is 2.4 samples"):
        split_batch(8, {"real": 0.3}, ["real", "synthetic"])
    with pytest.raises(PlanError, match="which no --train source is called"):
        split_batch(8, {"rea": 0.5}, ["real", "synthetic"])
    with pytest.raises(PlanError, match="do not split evenly over 2 ranks"):
        DataPlan([Source("real", ["x"], [4]), Source("synthetic", ["y"], [4])], [3, 1], 1).check_world(2)


def test_the_reader_names_the_shard_and_sample_of_every_bad_member(tmp_path):
    good = record("good", "real")
    cases = {
        "no-json": ([], [("lonely.png", b"\x89PNG")], "sample 'lonely' has no .json member"),
        "bad-image": ([], [("broken.json", json.dumps(record("broken", "real")).encode()), ("broken.png", b"not a png")],
                      "sample 'broken': the .png image does not decode"),
        "bad-json": ([], [("odd.json", b"{not json"), ("odd.png", b"")], "sample 'odd': its JSON does not parse"),
        "wrong-size": ([], [("small.json", json.dumps(dict(record("small", "real"), width=10)).encode()), ("small.png", b"")],
                       "instance 0's mask is [32, 64], the image [32, 10]"),
    }
    for name, (records, members, message) in cases.items():
        path = str(tmp_path / f"{name}.tar")
        write_shard(path, records, members)
        with pytest.raises(ShardError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
            SampleReader().read(path, 0)
        assert path in str(error.value)
    # A repeated key: the first sample is kept and the repetition reported.
    path = str(tmp_path / "repeat.tar")
    write_shard(path, [good, record("other", "real")], [("good.json", json.dumps(good).encode())])
    reader = SampleReader()
    assert [reader.read(path, i)[0] for i in range(2)] == ["good", "other"]
    assert reader.index(path).problems == [f"{path}: sample 'good' repeats (member 'good.json'); the first is kept"]
    # A shard whose count disagrees with index.json, and a truncated shard.
    with pytest.raises(ShardError, match="holds 2 samples, index.json says 3"):
        reader.read(path, 0, expected_count=3)
    truncated = str(tmp_path / "truncated.tar")
    with open(path, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[:1000])
    with pytest.raises(ShardError, match="truncated.tar"):
        SampleReader().read(truncated, 1)


def test_unknown_classes_are_reported_per_sample_and_become_ignore_regions(tmp_path, capsys):
    folder = tmp_path / "shards"
    folder.mkdir()
    write_shard(str(folder / "mix-000000.tar"), [record("odd", "real", boxes=(("car", 8, 8, 24, 20), ("tram", 30, 4, 50, 28)))])
    plan = DataPlan([Source("train", [str(folder / "mix-000000.tar")])], [1], 1)
    _, keys, _, targets = next(iter(PlanBatches(plan, CLASSES, 0, 1, 0, 1, short_sides=(32,), max_size=64, augment=False)))
    assert keys == ["odd"] and targets[0]["labels"].tolist() == [3]
    assert int(targets[0]["ignore"].sum()) == 20 * 24
    assert "sample 'odd': 1 instance(s) of classes outside the taxonomy (tram) treated as ignore regions" in capsys.readouterr().err


def test_checkpoints_from_elsewhere_are_named_errors(tmp_path):
    detector = build("maskrcnn", CLASSES, "resnet18")
    good = str(tmp_path / "good.safetensors")
    settings = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "test_short_side": 64, "test_max_size": 128}
    checkpoints.save(detector, good, settings)
    loaded, read_settings, training, _ = checkpoints.load(good)
    assert read_settings == settings and training is None
    assert loaded.transform.image_mean == [0.5, 0.5, 0.5]   # the recorded normalisation is the one used
    fifo = str(tmp_path / "fifo.safetensors")
    os.mkfifo(fifo)
    with open(good, "rb") as f:
        data = f.read()
    truncated = str(tmp_path / "truncated.safetensors")
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    huge_header = str(tmp_path / "huge.safetensors")
    with open(huge_header, "wb") as f:
        f.write((1 << 62).to_bytes(8, "little") + b"{}")
    for path, message in [(fifo, "not a regular file"), (str(tmp_path), "not a regular file"), (truncated, "not a readable safetensors file"),
                          (huge_header, "not a readable safetensors file"), (str(tmp_path / "none"), "No such file")]:
        with pytest.raises(checkpoints.CheckpointError, match=message) as error:
            checkpoints.load(path)
        assert path in str(error.value)
    from safetensors.torch import save_file
    for name, metadata, message in [
        ("other", {"synmix.config": json.dumps({"architecture": "synmix-bottom-up-v1"})}, "another architecture"),
        ("badjson", {"synmix.config": "{"}, "synmix.config metadata is not JSON"),
        ("std", {"synmix.config": json.dumps(detector.config), "synmix.input": json.dumps(dict(settings, std=[0, 1, 1]))}, "std > 0"),
        ("scale", {"synmix.config": json.dumps(detector.config), "synmix.input": json.dumps(dict(settings, test_short_side=100000))},
         "test_short_side must be a whole number"),
        ("tensors", {"synmix.config": json.dumps(detector.config), "synmix.input": json.dumps(settings)}, "missing backbone"),
    ]:
        path = str(tmp_path / f"{name}.safetensors")
        save_file({"x": torch.zeros(2)}, path, metadata=metadata)
        with pytest.raises(checkpoints.CheckpointError, match=message):
            checkpoints.load(path)


def test_the_twins_data_path_names_the_shard_and_sample_of_a_bad_one(tmp_path, capsys):
    from synmix_torch.data import ShardSamples
    good = record("good", "real")
    for name, members, message in [
        ("no-json", [("lonely.png", b"\x89PNG")], "sample 'lonely' has no .json member"),
        ("bad-image", [("broken.json", json.dumps(record("broken", "real")).encode()), ("broken.png", b"not a png")],
         "sample 'broken': the .png image does not decode"),
    ]:
        path = str(tmp_path / f"{name}.tar")
        write_shard(path, [good], members)
        samples = ShardSamples([path], CLASSES, 64, 32, seed=1, augment=False).samples(0, 0, 1)
        assert next(samples)[0] == "good"   # the valid sample before the bad one is read
        with pytest.raises(ShardError, match=message) as error:
            next(samples)
        assert path in str(error.value)
    path = str(tmp_path / "repeat.tar")
    write_shard(path, [good, record("tram", "real", boxes=(("tram", 8, 8, 24, 20),)), good])
    keys = [key for key, _, _ in ShardSamples([path], CLASSES, 64, 32, seed=1, augment=False, buffer=1).samples(0, 0, 1)]
    assert keys == ["good", "tram"]
    errors = capsys.readouterr().err
    assert f"{path}: sample 'good' repeats; the first is kept" in errors
    assert f"{path}: sample 'tram': instances of classes outside the taxonomy (tram) are left out of the targets" in errors


def test_the_twin_refuses_a_named_source_it_would_read_as_a_file_pattern(tmp_path):
    from synmix_torch.train import expand as twin_expand
    path = str(tmp_path / "mix-000000.tar")
    write_shard(path, [record("good", "real")])
    assert twin_expand([path]) == [path]
    with pytest.raises(SystemExit, match=r"--train real=.*: named sources \(NAME=PATTERN, with --share\) are the detector's"):
        twin_expand([f"real={tmp_path}/mix-*.tar"])
