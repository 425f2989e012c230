"""Sources/Network/Model.swift, module for module, with the same parameter names."""
import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHITECTURE = "synmix-bottom-up-v1"


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvBN(c, c, 3, 1)
        self.conv2 = ConvBN(c, c, 3, 1, relu=False)

    def forward(self, x):
        return F.relu(x + self.conv2(self.conv1(x)))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.reduce = ConvBN(4 * c, c, 1, 1)
        self.skip = ConvBN(c, c, 1, 1)
        self.fuse = ConvBN(c, c, 3, 1)


class Net(nn.Module):
    """Residual backbone to stride 16, a decoder back to stride 4 with a skip, and three 1×1 heads:
    semantic (classes + background), centre heatmap, offsets (dy, dx in head pixels)."""

    def __init__(self, width, classes):
        super().__init__()
        c = width
        self.config = {"architecture": ARCHITECTURE, "width": width, "classes": list(classes)}
        self.stem = nn.Sequential(ConvBN(3, c, 3, 2))
        self.stage1 = nn.Sequential(ConvBN(c, c, 3, 2), Residual(c))
        self.stage2 = nn.Sequential(ConvBN(c, 2 * c, 3, 2), Residual(2 * c))
        self.stage3 = nn.Sequential(ConvBN(2 * c, 4 * c, 3, 2), Residual(4 * c))
        self.decoder = Decoder(c)
        self.semantic = nn.Conv2d(c, len(classes) + 1, 1)
        self.center = nn.Conv2d(c, 1, 1)
        self.offset = nn.Conv2d(c, 2, 1)

    @property
    def head_channels(self):
        return len(self.config["classes"]) + 4

    def forward(self, x):
        """[N, 3, H, W] normalised input -> [N, classes + 4, H/4, W/4]: semantic logits, centre, offsets."""
        s1 = self.stage1(self.stem(x))
        s3 = self.stage3(self.stage2(s1))
        r = F.interpolate(self.decoder.reduce(s3), size=s1.shape[-2:], mode="bilinear", align_corners=False)
        f = self.decoder.fuse(r + self.decoder.skip(s1))
        return torch.cat([self.semantic(f), self.center(f), self.offset(f)], 1)
