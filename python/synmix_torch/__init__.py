"""The PyTorch side of synmix: the twin of its trainer (Sources/Network, Sources/ShardData,
Sources/TrainShards), and the seed's detectors — Mask R-CNN and PointRend (detection.py,
pointrend.py, train_detector.py, predict.py), trained from the shards with a deterministic data
plan (plan.py) and scored by `train-shards evaluate --predictions`.

The twin:

Same network and tensor names (model), same targets (targets), same losses and
AdamW schedule (train), same checkpoint format (checkpoint), data straight from
pack-mix's shards with webdataset, split across DDP ranks and loader workers
(data). Train with `python -m synmix_torch.train` (under `torchrun` for several
processes); score with `train-shards evaluate --model OUT/model.safetensors`.
"""
__version__ = "0.1.0"
