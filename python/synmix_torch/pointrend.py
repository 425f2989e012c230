"""PointRend's mask head (Kirillov, Wu, He, Girshick: "PointRend: Image Segmentation as Rendering",
CVPR 2020), written for torchvision's Mask R-CNN.

A coarse head predicts a 7×7 mask per box from the box's features; a point head — a small MLP —
predicts the mask at chosen points from fine-grained features sampled bilinearly there (FPN's
stride-4 level, P2) together with the coarse prediction at the same points. Training points are
chosen by uncertainty with oversampling and an importance ratio; inference subdivides adaptively:
upsample the mask 2×, re-predict only the most uncertain points, repeat until the mask has the box's
resolution.

Every value below is the paper's, as Detectron2's PointRend project configures it for instance
segmentation (projects/PointRend/configs/InstanceSegmentation/Base-PointRend-RCNN-FPN.yaml and
point_rend/config.py): paper §4 and Table 5 for the point head and the sampling, §3.1 for subdivision.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection.roi_heads import maskrcnn_loss
from torchvision.ops import MultiScaleRoIAlign

# Coarse head: RoIAlign 14×14 on P2 only, a stride-2 conv to 7×7, two 1024-wide FC layers, K 7×7 masks
# (ROI_MASK_HEAD: POOLER_RESOLUTION 14, IN_FEATURES [p2], FC_DIM 1024, NUM_FC 2, OUTPUT_SIDE_RESOLUTION 7).
COARSE_POOL_RESOLUTION = 14
COARSE_RESOLUTION = 7
COARSE_FC_WIDTH = 1024
COARSE_FC_LAYERS = 2
# Point head: 3 hidden layers of 256 channels, the coarse prediction concatenated to each layer's input
# (POINT_HEAD: NUM_FC 3, FC_DIM 256, COARSE_PRED_EACH_LAYER True; paper §4 "Point head").
POINT_FC_WIDTH = 256
POINT_FC_LAYERS = 3
# Training points: N = 14² per box, drawn from k·N uniform candidates (oversampling k = 3), the β·N most
# uncertain of them kept (importance ratio β = 0.75) and (1 − β)·N uniform points added (paper §3.2, Table 5;
# POINT_HEAD: TRAIN_NUM_POINTS 196, OVERSAMPLE_RATIO 3, IMPORTANCE_SAMPLE_RATIO 0.75).
TRAIN_POINTS = 14 * 14
OVERSAMPLE_RATIO = 3
IMPORTANCE_RATIO = 0.75
# Inference: at most 5 subdivision steps (7 → 224), 28² points re-predicted per step
# (POINT_HEAD: SUBDIVISION_STEPS 5, SUBDIVISION_NUM_POINTS 784).
MAX_SUBDIVISION_STEPS = 5
SUBDIVISION_POINTS = 28 * 28
# The FPN level the fine-grained features come from: torchvision's "0" is P2, stride 4.
FINE_FEATURE = "0"
FINE_STRIDE = 4


def point_sample(maps, points):
    """Bilinear samples of `maps` [B, C, H, W] at `points` [B, P, 2] given as (x, y) in [0, 1] of the map's
    extent (pixel centres at (i + 0.5) / H): [B, C, P]."""
    grid = (2 * points - 1)[:, :, None, :]
    return F.grid_sample(maps, grid, mode="bilinear", align_corners=False)[:, :, :, 0]


def uncertainty(logits):
    """A mask logit's uncertainty: highest at the decision boundary (logit 0). Paper §3.2."""
    return -logits.abs()


def training_points(coarse_logits, count=TRAIN_POINTS, oversample=OVERSAMPLE_RATIO, importance=IMPORTANCE_RATIO, generator=None):
    """[B, count, 2] points in [0, 1]² per box: the most uncertain of `oversample`·count uniform candidates
    (by the coarse logit of the box's class, [B, 1, h, w]), plus uniform points for the rest."""
    boxes = coarse_logits.shape[0]
    candidates = torch.rand(boxes, count * oversample, 2, device=coarse_logits.device, generator=generator)
    scores = uncertainty(point_sample(coarse_logits, candidates))[:, 0]
    kept = int(importance * count)
    top = scores.topk(kept, dim=1).indices
    chosen = torch.gather(candidates, 1, top[:, :, None].expand(-1, -1, 2))
    uniform = torch.rand(boxes, count - kept, 2, device=coarse_logits.device, generator=generator)
    return torch.cat([chosen, uniform], dim=1)


def box_points_to_image(boxes, points):
    """Box-relative points [B, P, 2] in [0, 1]² to image coordinates (x, y) for boxes [B, 4] (x1, y1, x2, y2)."""
    origin, extent = boxes[:, None, :2], (boxes[:, None, 2:] - boxes[:, None, :2])
    return origin + points * extent


def fine_features(feature_map, boxes_per_image, points_per_image):
    """P2 features at each box's points: feature_map [N, C, h, w] covers the padded images at stride 4;
    boxes_per_image / points_per_image: per image [B_i, 4] / [B_i, P, 2]. Returns [ΣB_i, C, P]."""
    sampled = []
    extent = torch.tensor([feature_map.shape[-1] * FINE_STRIDE, feature_map.shape[-2] * FINE_STRIDE],
                          dtype=feature_map.dtype, device=feature_map.device)
    for image, (boxes, points) in enumerate(zip(boxes_per_image, points_per_image)):
        if boxes.shape[0] == 0:
            continue
        where = box_points_to_image(boxes, points).to(feature_map.dtype) / extent   # [B, P, 2] in [0, 1] of the map
        flat = where.reshape(1, -1, 2)
        values = point_sample(feature_map[image:image + 1], flat)[0]                # [C, B·P]
        sampled.append(values.reshape(values.shape[0], boxes.shape[0], -1).permute(1, 0, 2))
    if not sampled:
        return feature_map.new_zeros((0, feature_map.shape[1], points_per_image[0].shape[1] if points_per_image else 0))
    return torch.cat(sampled)


class CoarseMaskHead(nn.Module):
    """RoI features [B, C, 14, 14] -> coarse mask logits [B, classes, 7, 7] (Detectron2's CoarseMaskHead)."""

    def __init__(self, channels, classes):
        super().__init__()
        self.classes = classes
        self.reduce = nn.Conv2d(channels, channels, kernel_size=2, stride=2)
        layers, width = [], channels * COARSE_RESOLUTION ** 2
        for _ in range(COARSE_FC_LAYERS):
            layers += [nn.Linear(width, COARSE_FC_WIDTH), nn.ReLU(inplace=True)]
            width = COARSE_FC_WIDTH
        self.fc = nn.Sequential(*layers)
        self.predictor = nn.Linear(width, classes * COARSE_RESOLUTION ** 2)
        nn.init.normal_(self.predictor.weight, std=0.001)   # as Detectron2 initialises its mask predictors
        nn.init.zeros_(self.predictor.bias)

    def forward(self, x):
        x = F.relu(self.reduce(x))
        x = self.predictor(self.fc(x.flatten(1)))
        return x.reshape(-1, self.classes, COARSE_RESOLUTION, COARSE_RESOLUTION)


class PointHead(nn.Module):
    """Per point: fine features [B, C, P] and coarse logits [B, K, P] -> refined logits [B, K, P]."""

    def __init__(self, channels, classes):
        super().__init__()
        self.layers = nn.ModuleList()
        width = channels
        for _ in range(POINT_FC_LAYERS):
            self.layers.append(nn.Conv1d(width + classes, POINT_FC_WIDTH, kernel_size=1))
            width = POINT_FC_WIDTH
        self.predictor = nn.Conv1d(width + classes, classes, kernel_size=1)
        nn.init.normal_(self.predictor.weight, std=0.001)
        nn.init.zeros_(self.predictor.bias)

    def forward(self, fine, coarse):
        x = fine
        for layer in self.layers:
            x = F.relu(layer(torch.cat([x, coarse], dim=1)))
        return self.predictor(torch.cat([x, coarse], dim=1))


def subdivision_steps(boxes):
    """Per box: steps from 7×7 until the mask has the box's resolution (7·2^s ≥ its longer side), at most 5."""
    sides = (boxes[:, 2:] - boxes[:, :2]).max(dim=1).values.clamp(min=1.0)
    return torch.ceil(torch.log2(sides / COARSE_RESOLUTION)).clamp(0, MAX_SUBDIVISION_STEPS).long()


class PointRendMaskBranch(nn.Module):
    """The mask branch of Mask R-CNN replaced by PointRend. `classes` counts the background too, so that
    channel k is class k as in torchvision's mask predictor (channel 0 is never trained or used)."""

    def __init__(self, channels, classes):
        super().__init__()
        self.pool = MultiScaleRoIAlign([FINE_FEATURE], COARSE_POOL_RESOLUTION, sampling_ratio=2)
        self.coarse = CoarseMaskHead(channels, classes)
        self.point_head = PointHead(channels, classes)

    def coarse_logits(self, features, boxes, image_shapes):
        return self.coarse(self.pool(features, boxes, image_shapes))

    def point_logits(self, features, coarse, boxes, points):
        """Refined logits [ΣB, K, P] at box-relative points [ΣB, P, 2] for boxes given per image."""
        counts = [b.shape[0] for b in boxes]
        fine = fine_features(features[FINE_FEATURE], boxes, list(points.split(counts)))
        return self.point_head(fine.to(coarse.dtype), point_sample(coarse, points))

    def loss(self, features, proposals, matched_idxs, targets, labels, image_shapes):
        """Coarse mask loss (Mask R-CNN's, at 7×7) plus the point loss: binary cross-entropy at the training
        points against the ground-truth mask sampled there (bilinearly, as Detectron2 samples bitmasks)."""
        coarse = self.coarse_logits(features, proposals, image_shapes)
        gt_masks = [t["masks"] for t in targets]
        loss_coarse = maskrcnn_loss(coarse, proposals, gt_masks, [t["labels"] for t in targets], matched_idxs)
        if coarse.shape[0] == 0:
            # No positive box: every parameter still joins the graph (DDP waits for each gradient).
            return {"loss_mask": loss_coarse + sum(p.sum() for p in self.point_head.parameters()) * 0}
        chosen = torch.cat(labels)
        index = torch.arange(coarse.shape[0], device=coarse.device)
        with torch.no_grad():
            points = training_points(coarse[index, chosen][:, None].detach().float())
        logits = self.point_logits(features, coarse, proposals, points)[index, chosen]
        point_targets = []
        for boxes, matched, masks, box_points in zip(proposals, matched_idxs, gt_masks, points.split([p.shape[0] for p in proposals])):
            if boxes.shape[0] == 0:
                continue
            extent = torch.tensor([masks.shape[-1], masks.shape[-2]], dtype=torch.float32, device=boxes.device)
            where = box_points_to_image(boxes.float(), box_points) / extent
            point_targets.append(point_sample(masks[matched][:, None].float(), where)[:, 0])
        loss_points = F.binary_cross_entropy_with_logits(logits.float(), torch.cat(point_targets))
        return {"loss_mask": loss_coarse, "loss_mask_point": loss_points}

    @torch.no_grad()
    def predict(self, features, boxes, labels, image_shapes):
        """Per image, mask probabilities [B_i, 1, R, R] relative to each box. Each box is refined until its mask has
        the box's resolution (subdivision_steps); masks are returned at the largest R of the batch, a box that needed
        fewer steps upsampled bilinearly beyond its own — which is what pasting it into the image would do anyway."""
        counts = [b.shape[0] for b in boxes]
        coarse = self.coarse_logits(features, boxes, image_shapes)
        if coarse.shape[0] == 0:
            return [coarse.new_zeros((0, 1, COARSE_RESOLUTION, COARSE_RESOLUTION)) for _ in boxes]
        every_box, chosen = torch.cat(boxes), torch.cat(labels)
        owner = torch.repeat_interleave(torch.arange(len(boxes), device=coarse.device), torch.tensor(counts, device=coarse.device))
        steps = subdivision_steps(every_box)
        mask = coarse[torch.arange(coarse.shape[0], device=coarse.device), chosen][:, None]
        for step in range(int(steps.max())):
            mask = F.interpolate(mask, scale_factor=2, mode="bilinear", align_corners=False)
            active = torch.nonzero(steps > step).squeeze(1)
            side = mask.shape[-1]
            count = min(SUBDIVISION_POINTS, side * side)
            flat = mask[active].reshape(active.shape[0], -1)
            where = uncertainty(flat).topk(count, dim=1).indices
            points = torch.stack([(where % side).float() + 0.5, (where // side).float() + 0.5], dim=2) / side
            active_boxes = [every_box[active[owner[active] == image]] for image in range(len(boxes))]
            refined = self.point_logits(features, coarse[active], active_boxes, points)[torch.arange(active.shape[0]), chosen[active]]
            mask[active] = flat.scatter(1, where, refined.to(flat.dtype)).reshape(-1, 1, side, side)
        return list(mask.float().sigmoid().split(counts))
