"""The CNNs of the benchmark (paper Table 3), defined in-project: ResNet-50, VGG-16, MobileNet(V1), SSD.

torchvision does not work beside the CPU torch build the project pins (see TOOLCHAIN.md), so
the architectures are written here, following the torchvision / original definitions:

- ``resnet50``: ResNet-50 v1.5 (stride on the 3x3 conv), 53 convolutions + fc = 54 layers.
- ``vgg16``: VGG-16 with batch normalisation (torchvision's ``vgg16_bn``), 13 conv + 3 fc = 16.
- ``mobilenet``: MobileNet V1 (Howard et al. 2017), width 1.0, 27 conv + fc = 28.
- ``ssd``: SSD with a ResNet-50 backbone (NVIDIA's SSD300-ResNet50: conv1..layer3, layer3 at
  stride 1), five extra feature blocks and 3x3 loc/conf heads on six feature maps (81 classes),
  43 + 10 + 12 = 65 layers. The extra blocks' 3x3 convolutions are padded (the original's last
  two are unpadded), so the network accepts reduced input resolutions.

No pretrained weights ship offline, so weights are random with a deterministic, documented
initialisation (:func:`init_cnn`): He-normal convolutions (fan-out, ReLU gain), N(0, 0.01)
linear layers, BatchNorm scale 1 and shift drawn N(``BN_SHIFT_MEAN``, ``BN_SHIFT_STD``) per
channel, then BatchNorm running statistics calibrated on real images (:func:`calibrate_bn`).
Normalised pre-activations are then ~N(shift, 1) per channel over the calibration images, so
ReLU zeros a realistic, input-dependent 30-70 % of activations.

Every model records, for each Conv2d/Linear, the BatchNorm that follows it and the module whose
output the accelerator writes back (the ReLU after it, the residual ReLU for a bottleneck's last
conv, or the layer itself when nothing follows): :meth:`ProfiledCNN.links`.
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()
nn = torch.nn

#: Mean and spread of the per-channel BatchNorm shift at initialisation (see the module docstring).
BN_SHIFT_MEAN = -0.2
BN_SHIFT_STD = 0.3
CNN_NAMES = ("resnet50", "vgg16", "mobilenet", "ssd")


class ProfiledCNN(nn.Module):
    """A CNN that knows, for each Conv2d/Linear, its BatchNorm and its written-back output."""

    def __init__(self):
        super().__init__()
        self._link_list = []  # (layer, bn or None, post) module objects, plain list: not registered
        self.stem = None  # first layer: sees the image (kept dense by the pruning rules)
        self.heads = []  # output layers (classifier / detection heads), kept dense too

    def _link(self, layer, bn, post):
        self._link_list.append((layer, bn, post))

    def links(self) -> dict[str, tuple[str | None, str]]:
        """``{layer name: (bn name or None, post-op name)}`` for every Conv2d/Linear."""
        names = {id(m): n for n, m in self.named_modules()}
        out = {}
        for layer, bn, post in self._link_list:
            out[names[id(layer)]] = (names[id(bn)] if bn is not None else None, names[id(post)])
        return out

    def dense_layers(self) -> set[str]:
        """Names of the layers the pruning rules leave dense (the stem and the output layers)."""
        names = {id(m): n for n, m in self.named_modules()}
        return {names[id(m)] for m in [self.stem, *self.heads] if m is not None}

    def cbr(self, cin, cout, k, s=1, p=0, groups=1, act=True):
        """Conv2d + BatchNorm (+ ReLU) as a Sequential, linked for profiling."""
        conv = nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False)
        bn = nn.BatchNorm2d(cout)
        mods = [conv, bn]
        post = bn
        if act:
            post = nn.ReLU()
            mods.append(post)
        self._link(conv, bn, post)
        return nn.Sequential(*mods)


class Bottleneck(nn.Module):
    """ResNet-50 v1.5 bottleneck: 1x1, 3x3 (strided), 1x1, residual add, ReLU."""

    def __init__(self, owner: ProfiledCNN, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.a = owner.cbr(cin, width, 1)
        self.b = owner.cbr(width, width, 3, stride, 1)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        owner._link(self.conv3, self.bn3, self.relu)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = owner.cbr(cin, cout, 1, stride, act=False)

    def forward(self, x):
        y = self.bn3(self.conv3(self.b(self.a(x))))
        return self.relu(y + (x if self.down is None else self.down(x)))


def _resnet_stages(owner, layers, strides):
    stages, cin = [], 64
    for width, n, stride in zip((64, 128, 256, 512), layers, strides):
        blocks = []
        for i in range(n):
            blocks.append(Bottleneck(owner, cin, width, stride if i == 0 else 1))
            cin = width * 4
        stages.append(nn.Sequential(*blocks))
    return stages


class ResNet50(ProfiledCNN):
    """ResNet-50 v1.5 for 1000 classes."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = self.cbr(3, 64, 7, 2, 3)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.layer1, self.layer2, self.layer3, self.layer4 = _resnet_stages(self, (3, 4, 6, 3), (1, 2, 2, 2))
        self.fc = nn.Linear(2048, num_classes)
        self._link(self.fc, None, self.fc)
        self.stem, self.heads = self.conv1[0], [self.fc]

    def forward(self, x):
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.pool(self.conv1(x))))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class VGG16(ProfiledCNN):
    """VGG-16 with BatchNorm (configuration D), adaptive 7x7 pooling before the classifier."""

    CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

    def __init__(self, num_classes=1000):
        super().__init__()
        mods, cin = [], 3
        for v in self.CFG:
            if v == "M":
                mods.append(nn.MaxPool2d(2, 2))
            else:
                mods.append(self.cbr(cin, v, 3, 1, 1))
                cin = v
        self.features = nn.Sequential(*mods)
        fcs = []
        for i, (a, b) in enumerate(((512 * 7 * 7, 4096), (4096, 4096), (4096, num_classes))):
            fc = nn.Linear(a, b)
            post = nn.ReLU() if i < 2 else fc
            self._link(fc, None, post)
            fcs += [fc, post, nn.Dropout()] if i < 2 else [fc]
        self.classifier = nn.Sequential(*fcs)
        self.stem, self.heads = self.features[0][0], [fcs[-1]]

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 7)
        return self.classifier(torch.flatten(x, 1))


class MobileNetV1(ProfiledCNN):
    """MobileNet V1 (width 1.0): a 3x3 stem and 13 depthwise-separable blocks."""

    BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
              (512, 1), (512, 1), (1024, 2), (1024, 1))

    def __init__(self, num_classes=1000):
        super().__init__()
        mods, cin = [self.cbr(3, 32, 3, 2, 1)], 32
        for cout, s in self.BLOCKS:
            mods.append(self.cbr(cin, cin, 3, s, 1, groups=cin))
            mods.append(self.cbr(cin, cout, 1))
            cin = cout
        self.features = nn.Sequential(*mods)
        self.fc = nn.Linear(1024, num_classes)
        self._link(self.fc, None, self.fc)
        self.stem, self.heads = self.features[0][0], [self.fc]

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


class SSDResNet50(ProfiledCNN):
    """SSD with a ResNet-50 backbone (NVIDIA SSD300 layout), 81 classes, 6 feature maps."""

    EXTRAS = ((1024, 256, 512), (512, 256, 512), (512, 128, 256), (256, 128, 256), (256, 128, 256))
    EXTRA_STRIDES = (2, 2, 2, 1, 1)
    ANCHORS = (4, 6, 6, 6, 4, 4)

    def __init__(self, num_classes=81):
        super().__init__()
        self.conv1 = self.cbr(3, 64, 7, 2, 3)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.layer1, self.layer2, self.layer3, _ = _resnet_stages(self, (3, 4, 6, 0), (1, 2, 1, 1))
        self.extras = nn.ModuleList(
            nn.Sequential(self.cbr(cin, mid, 1), self.cbr(mid, cout, 3, s, 1))
            for (cin, mid, cout), s in zip(self.EXTRAS, self.EXTRA_STRIDES))
        chans = (1024, 512, 512, 256, 256, 256)
        self.loc = nn.ModuleList(nn.Conv2d(c, a * 4, 3, padding=1) for c, a in zip(chans, self.ANCHORS))
        self.conf = nn.ModuleList(nn.Conv2d(c, a * num_classes, 3, padding=1) for c, a in zip(chans, self.ANCHORS))
        for lo, co in zip(self.loc, self.conf):
            self._link(lo, None, lo)
            self._link(co, None, co)
        self.stem, self.heads = self.conv1[0], [*self.loc, *self.conf]

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.pool(self.conv1(x)))))
        feats = [x]
        for e in self.extras:
            feats.append(e(feats[-1]))
        out = []
        for f, lo, co in zip(feats, self.loc, self.conf):
            out.append(lo(f).flatten(1))
            out.append(co(f).flatten(1))
        return torch.cat(out, 1)


def init_cnn(model: ProfiledCNN, seed: int) -> ProfiledCNN:
    """Deterministic random initialisation (see the module docstring for the choices)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
                m.weight.normal_(0.0, (2.0 / fan_out) ** 0.5, generator=g)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.01, generator=g)
                m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.normal_(BN_SHIFT_MEAN, BN_SHIFT_STD, generator=g)
                m.reset_running_stats()
    return model


def calibrate_bn(model: nn.Module, images, batch_size: int = 8) -> nn.Module:
    """Set BatchNorm running statistics to the exact mean/variance over ``images``; return the model in eval mode.

    Run after pruning, as a pruned network's statistics differ from the dense one's.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all calibration batches
    model.eval()
    for m in bns:
        m.train()
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            model(images[i:i + batch_size])
    return model.eval()


def build_cnn(name: str, seed: int = 0) -> ProfiledCNN:
    """Build CNN ``name`` (one of :data:`CNN_NAMES`) with the deterministic random initialisation."""
    cls = {"resnet50": ResNet50, "vgg16": VGG16, "mobilenet": MobileNetV1, "ssd": SSDResNet50}.get(name)
    if cls is None:
        raise ValueError(f"unknown CNN {name!r}; choose one of {', '.join(CNN_NAMES)}")
    return init_cnn(cls(), seed)
