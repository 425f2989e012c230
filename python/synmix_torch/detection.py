"""The seed's detectors over torchvision's Mask R-CNN: `maskrcnn` (its own mask head) and `pointrend`
(PointRend's, pointrend.py), on a ResNet-FPN backbone, with ignore regions treated as COCO crowd regions.

Built from torchvision's parts with every hyper-parameter named here. The values are torchvision's
Mask R-CNN defaults (torchvision/models/detection/faster_rcnn.py and mask_rcnn.py), which are
Detectron2's R50-FPN defaults (detectron2/config/defaults.py), unless a comment says otherwise.

Ignore regions (a record's `ignore` RLE: real void, synthetic instances removed by the filter, crowd
instances, classes outside the taxonomy) are neither positives nor negatives: an anchor or a proposal
that would be sampled as background but lies mostly inside one (more than IGNORE_OVERLAP of its area)
is not sampled at all.
"""
import torch
import torch.nn as nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss, maskrcnn_inference, maskrcnn_loss
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign, misc as misc_ops

from .pointrend import PointRendMaskBranch

MODELS = ("maskrcnn", "pointrend")
BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")
ARCHITECTURE = "synmix-rcnn-v1"
FPN_CHANNELS = 256
# Input normalisation of torchvision's ImageNet weights (pixels in [0, 1]).
IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]
SIZE_DIVISIBLE = 32
# Anchors: one size per FPN level P2–P6, three aspect ratios (ANCHOR_GENERATOR.SIZES, ASPECT_RATIOS).
ANCHOR_SIZES = ((32,), (64,), (128,), (256,), (512,))
ANCHOR_RATIOS = (0.5, 1.0, 2.0)
# RPN (MODEL.RPN.*): IoU ≥ 0.7 positive, < 0.3 negative, 256 anchors per image half positive,
# 2000 proposals kept before and after NMS in training, 1000 in testing, NMS at 0.7.
RPN_FG_IOU, RPN_BG_IOU = 0.7, 0.3
RPN_BATCH, RPN_POSITIVE_FRACTION = 256, 0.5
RPN_PRE_NMS = {"training": 2000, "testing": 1000}
RPN_POST_NMS = {"training": 2000, "testing": 1000}
RPN_NMS = 0.7
# Box head (MODEL.ROI_HEADS.*, ROI_BOX_HEAD.*): RoIAlign 7×7 over P2–P5, two 1024-wide FC layers;
# IoU ≥ 0.5 positive, 512 proposals per image a quarter positive; at test score > 0.05, NMS 0.5, 100 per image.
BOX_POOL_RESOLUTION, BOX_FC_WIDTH = 7, 1024
ROI_FG_IOU, ROI_BG_IOU = 0.5, 0.5
ROI_BATCH, ROI_POSITIVE_FRACTION = 512, 0.25
SCORE_THRESHOLD, NMS_THRESHOLD, DETECTIONS_PER_IMAGE = 0.05, 0.5, 100
# Mask R-CNN's mask head (ROI_MASK_HEAD.*): RoIAlign 14×14, four 3×3 convs of 256, a 2× deconvolution: 28×28 masks.
MASK_POOL_RESOLUTION, MASK_CONV_LAYERS = 14, 4
# An anchor or proposal counts as inside an ignore region when more than half of its area is.
IGNORE_OVERLAP = 0.5


def integral_image(mask):
    """Summed-area table [H + 1, W + 1] of a 0/1 mask: any box's covered pixel count in four look-ups."""
    table = torch.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=torch.int64, device=mask.device)
    table[1:, 1:] = mask.to(torch.int64).cumsum(0).cumsum(1)
    return table


def ignored_fraction(boxes, table):
    """Share of each box's area [N] (boxes [N, 4] in pixels, x1 y1 x2 y2) covered by the mask behind `table`;
    the part of a box outside the image is not ignored."""
    height, width = table.shape[0] - 1, table.shape[1] - 1
    x1, y1, x2, y2 = boxes.round().long().unbind(1)
    x1, x2 = x1.clamp(0, width), x2.clamp(0, width)
    y1, y2 = y1.clamp(0, height), y2.clamp(0, height)
    covered = table[y2, x2] - table[y1, x2] - table[y2, x1] + table[y1, x1]
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).clamp(min=1.0)
    return covered.to(area.dtype) / area


def unsample_ignored(labels, boxes, table):
    """Background labels (0) of boxes mostly inside the ignore region become -1: sampled neither way."""
    if table is None or boxes.shape[0] == 0:
        return labels
    inside = ignored_fraction(boxes.detach(), table) > IGNORE_OVERLAP
    labels[(labels == 0) & inside] = -1
    return labels


def ignore_tables(targets):
    return [integral_image(t["ignore"]) if "ignore" in t and t["ignore"].any() else None for t in targets]


class IgnoreAwareRPN(RegionProposalNetwork):
    def assign_targets_to_anchors(self, anchors, targets):
        labels, matched = super().assign_targets_to_anchors(anchors, targets)
        for labels_in_image, anchors_in_image, table in zip(labels, anchors, ignore_tables(targets)):
            unsample_ignored(labels_in_image, anchors_in_image, table)
        return labels, matched

    def compute_loss(self, objectness, pred_bbox_deltas, labels, regression_targets):
        # A batch whose every anchor is ignored (an image that is all void) samples nothing: zero loss, not the NaN
        # of a mean over no anchors, with every parameter still in the graph (DDP waits for each gradient).
        if not any(bool((l >= 0).any()) for l in labels):
            return objectness.sum() * 0, pred_bbox_deltas.sum() * 0
        return super().compute_loss(objectness, pred_bbox_deltas, labels, regression_targets)


class DetectorRoIHeads(RoIHeads):
    """torchvision's box head with ignore regions, and a mask branch of our own: Mask R-CNN's or PointRend's."""

    def __init__(self, mask_branch, **box_settings):
        super().__init__(**box_settings)
        self.mask_branch = mask_branch
        self._ignore_tables = None   # the current batch's, while select_training_samples runs

    def select_training_samples(self, proposals, targets):
        self._ignore_tables = ignore_tables(targets)
        try:
            return super().select_training_samples(proposals, targets)
        finally:
            self._ignore_tables = None

    def assign_targets_to_proposals(self, proposals, gt_boxes, gt_labels):
        matched, labels = super().assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        for labels_in_image, proposals_in_image, table in zip(labels, proposals, self._ignore_tables or [None] * len(labels)):
            unsample_ignored(labels_in_image, proposals_in_image, table)
        return matched, labels

    def forward(self, features, proposals, image_shapes, targets=None):
        if self.training:
            proposals, matched_idxs, labels, regression_targets = self.select_training_samples(proposals, targets)
        box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(box_features)
        if self.training:
            if sum(l.numel() for l in labels):
                loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels, regression_targets)
            else:   # every proposal ignored: nothing sampled, as in the RPN
                loss_classifier, loss_box_reg = class_logits.sum() * 0, box_regression.sum() * 0
            positive = [torch.where(image_labels > 0)[0] for image_labels in labels]
            mask_losses = self.mask_branch.loss(
                features, [p[i] for p, i in zip(proposals, positive)], [m[i] for m, i in zip(matched_idxs, positive)],
                targets, [l[i] for l, i in zip(labels, positive)], image_shapes)
            return [], {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg, **mask_losses}
        boxes, scores, labels = self.postprocess_detections(class_logits, box_regression, proposals, image_shapes)
        masks = self.mask_branch.predict(features, boxes, labels, image_shapes)
        return [{"boxes": b, "labels": l, "scores": s, "masks": m} for b, l, s, m in zip(boxes, labels, scores, masks)], {}


class MaskRCNNBranch(nn.Module):
    """Mask R-CNN's mask head: 28×28 masks per box, the loss at the box's class."""

    def __init__(self, channels, classes):
        super().__init__()
        self.pool = MultiScaleRoIAlign(["0", "1", "2", "3"], MASK_POOL_RESOLUTION, sampling_ratio=2)
        self.head = MaskRCNNHeads(channels, (channels,) * MASK_CONV_LAYERS, 1)
        self.predictor = MaskRCNNPredictor(channels, channels, classes)

    def logits(self, features, boxes, image_shapes):
        return self.predictor(self.head(self.pool(features, boxes, image_shapes)))

    def loss(self, features, proposals, matched_idxs, targets, labels, image_shapes):
        logits = self.logits(features, proposals, image_shapes)
        return {"loss_mask": maskrcnn_loss(logits, proposals, [t["masks"] for t in targets], [t["labels"] for t in targets], matched_idxs)}

    @torch.no_grad()
    def predict(self, features, boxes, labels, image_shapes):
        if sum(b.shape[0] for b in boxes) == 0:
            return [b.new_zeros((0, 1, 28, 28)) for b in boxes]
        return maskrcnn_inference(self.logits(features, boxes, image_shapes), labels)


class PreparedInputTransform(GeneralizedRCNNTransform):
    """Normalises and batches; never resizes. The data path resizes (multi-scale, seeded per sample so that
    a resumed or re-sharded run sees the same images) and prediction resizes to the test scale. Masks stay
    relative to their boxes: `paste_masks` puts them into an image of whatever size is asked for."""

    def resize(self, image, target=None):
        return image, target

    def postprocess(self, result, image_shapes, original_image_sizes):
        return result


def build(model, classes, backbone="resnet50", pretrained_backbone=False, image_mean=IMAGE_MEAN, image_std=IMAGE_STD):
    """The detector for `classes` (the taxonomy's instance classes in id order; label k + 1 is class k).
    A backbone from ImageNet weights freezes its batch norm and its stem and first stage (Detectron2's
    FREEZE_AT 2, torchvision's trainable_layers 3); one trained from scratch trains batch norm and every layer."""
    if model not in MODELS:
        raise ValueError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if backbone not in BACKBONES:
        raise ValueError(f"--backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
    body = resnet_fpn_backbone(backbone_name=backbone, weights=None,
                               norm_layer=misc_ops.FrozenBatchNorm2d if pretrained_backbone else nn.BatchNorm2d,
                               trainable_layers=3 if pretrained_backbone else 5)
    anchors = AnchorGenerator(ANCHOR_SIZES, (ANCHOR_RATIOS,) * len(ANCHOR_SIZES))
    rpn = IgnoreAwareRPN(anchors, RPNHead(FPN_CHANNELS, len(ANCHOR_RATIOS)), RPN_FG_IOU, RPN_BG_IOU, RPN_BATCH,
                         RPN_POSITIVE_FRACTION, RPN_PRE_NMS, RPN_POST_NMS, RPN_NMS)
    with_background = len(classes) + 1
    branch = (MaskRCNNBranch if model == "maskrcnn" else PointRendMaskBranch)(FPN_CHANNELS, with_background)
    heads = DetectorRoIHeads(
        branch,
        box_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], BOX_POOL_RESOLUTION, sampling_ratio=2),
        box_head=TwoMLPHead(FPN_CHANNELS * BOX_POOL_RESOLUTION ** 2, BOX_FC_WIDTH),
        box_predictor=FastRCNNPredictor(BOX_FC_WIDTH, with_background),
        fg_iou_thresh=ROI_FG_IOU, bg_iou_thresh=ROI_BG_IOU, batch_size_per_image=ROI_BATCH,
        positive_fraction=ROI_POSITIVE_FRACTION, bbox_reg_weights=None, score_thresh=SCORE_THRESHOLD,
        nms_thresh=NMS_THRESHOLD, detections_per_img=DETECTIONS_PER_IMAGE)
    # min_size/max_size are unused: PreparedInputTransform never resizes.
    transform = PreparedInputTransform(1, 1, list(image_mean), list(image_std), size_divisible=SIZE_DIVISIBLE)
    detector = GeneralizedRCNN(body, rpn, heads, transform)
    detector.config = {"architecture": ARCHITECTURE, "model": model, "backbone": backbone, "classes": list(classes),
                       "pretrained_backbone": bool(pretrained_backbone)}
    return detector


def paste_masks(masks, boxes, height, width, chunk=16):
    """Box-relative mask probabilities [N, 1, R, R] pasted into [N, height, width] 0/1 masks (threshold 0.5),
    a chunk at a time so that full-size images do not hold N float images at once."""
    from torchvision.models.detection.roi_heads import paste_masks_in_image
    pasted = [(paste_masks_in_image(masks[i:i + chunk], boxes[i:i + chunk], (height, width))[:, 0] >= 0.5)
              for i in range(0, masks.shape[0], chunk)]
    return torch.cat(pasted) if pasted else torch.zeros((0, height, width), dtype=torch.bool)
