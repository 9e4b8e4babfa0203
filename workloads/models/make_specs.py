#!/usr/bin/env python3
"""Writes the model specs (workloads/models/*.json): torchvision's AlexNet, VGG16, ResNet-18, ResNet-50 and
MobileNetV2 as layer lists, layer for layer as torchvision builds them (inference: dropout omitted, batch
norm its own layer, a softmax at the end). Shapes and parameter counts are derived by the loader
(workloads/model.h); the parameter totals match torchvision's exactly (a test checks them).

Layer fields: name, op (conv, batchnorm, relu, relu6, maxpool, avgpool, linear, add, softmax), in (the
input layer's name or, for add, a list; default the previous layer; "input" is the model's input), and
per op: conv out/kernel/stride/padding/groups/bias; maxpool kernel/stride/padding; avgpool out (adaptive
average pooling to out x out); linear out/bias.

  python3 workloads/models/make_specs.py   (rewrites the JSON files next to it)
"""
import json
import os


class Net:
    def __init__(self, name):
        self.name, self.layers, self.last = name, [], "input"

    def add(self, name, op, src=None, **kw):
        layer = {"name": name, "op": op}
        if src is not None and src != self.last:
            layer["in"] = src
        layer.update(kw)
        self.layers.append(layer)
        self.last = name
        return name

    def conv(self, name, out, k, s=1, p=0, groups=1, bias=False, src=None):
        kw = {"out": out, "kernel": k, "stride": s, "padding": p}
        if groups != 1:
            kw["groups"] = groups
        kw["bias"] = bias
        return self.add(name, "conv", src, **kw)

    def spec(self):
        return {"name": self.name, "input": [3, 224, 224], "dtype": "fp32", "layers": self.layers}


def classifier(n, pool):
    """AlexNet's and VGG's head: adaptive average pooling to pool x pool, three fully connected layers."""
    n.add("avgpool", "avgpool", out=pool)
    n.add("classifier.fc0", "linear", out=4096, bias=True)
    n.add("classifier.relu0", "relu")
    n.add("classifier.fc1", "linear", out=4096, bias=True)
    n.add("classifier.relu1", "relu")
    n.add("classifier.fc2", "linear", out=1000, bias=True)
    n.add("softmax", "softmax")
    return n


def alexnet():
    n = Net("alexnet")
    for i, (out, k, s, p, pool) in enumerate([(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
                                               (256, 3, 1, 1, False), (256, 3, 1, 1, True)]):
        n.conv(f"features.conv{i}", out, k, s, p, bias=True)
        n.add(f"features.relu{i}", "relu")
        if pool:
            n.add(f"features.pool{i}", "maxpool", kernel=3, stride=2, padding=0)
    return classifier(n, 6)


def vgg16():
    n = Net("vgg16")
    i = 0
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            n.add(f"features.pool{i}", "maxpool", kernel=2, stride=2, padding=0)
        else:
            n.conv(f"features.conv{i}", v, 3, 1, 1, bias=True)
            n.add(f"features.relu{i}", "relu")
        i += 1
    return classifier(n, 7)


def resnet(name, block, layers):
    n = Net(name)
    n.conv("conv1", 64, 7, 2, 3)
    n.add("bn1", "batchnorm")
    n.add("relu", "relu")
    n.add("maxpool", "maxpool", kernel=3, stride=2, padding=1)
    inplanes = 64
    for li, (planes, blocks) in enumerate(zip([64, 128, 256, 512], layers), start=1):
        for b in range(blocks):
            stride = 2 if li > 1 and b == 0 else 1
            p = f"layer{li}.{b}"
            identity = n.last
            if block == "basic":
                n.conv(f"{p}.conv1", planes, 3, stride, 1)
                n.add(f"{p}.bn1", "batchnorm")
                n.add(f"{p}.relu1", "relu")
                n.conv(f"{p}.conv2", planes, 3, 1, 1)
                n.add(f"{p}.bn2", "batchnorm")
                out = planes
            else:  # bottleneck (torchvision v1.5: the stride on the 3x3 convolution)
                n.conv(f"{p}.conv1", planes, 1)
                n.add(f"{p}.bn1", "batchnorm")
                n.add(f"{p}.relu1", "relu")
                n.conv(f"{p}.conv2", planes, 3, stride, 1)
                n.add(f"{p}.bn2", "batchnorm")
                n.add(f"{p}.relu2", "relu")
                n.conv(f"{p}.conv3", planes * 4, 1)
                n.add(f"{p}.bn3", "batchnorm")
                out = planes * 4
            main = n.last
            if stride != 1 or inplanes != out:
                n.conv(f"{p}.downsample.conv", out, 1, stride, 0, src=identity)
                identity = n.add(f"{p}.downsample.bn", "batchnorm")
            n.add(f"{p}.add", "add", src=[main, identity])
            n.add(f"{p}.relu", "relu")
            inplanes = out
    n.add("avgpool", "avgpool", out=1)
    n.add("fc", "linear", out=1000, bias=True)
    n.add("softmax", "softmax")
    return n


def mobilenet_v2():
    n = Net("mobilenet_v2")
    n.conv("features.0.conv", 32, 3, 2, 1)
    n.add("features.0.bn", "batchnorm")
    n.add("features.0.relu6", "relu6")
    inp, idx = 32, 1
    for t, c, reps, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                          (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(reps):
            stride = s if i == 0 else 1
            p = f"features.{idx}"
            src = n.last
            hidden = inp * t
            if t != 1:
                n.conv(f"{p}.expand", hidden, 1)
                n.add(f"{p}.expand_bn", "batchnorm")
                n.add(f"{p}.expand_relu6", "relu6")
            n.conv(f"{p}.depthwise", hidden, 3, stride, 1, groups=hidden)
            n.add(f"{p}.depthwise_bn", "batchnorm")
            n.add(f"{p}.depthwise_relu6", "relu6")
            n.conv(f"{p}.project", c, 1)
            n.add(f"{p}.project_bn", "batchnorm")
            if stride == 1 and inp == c:
                n.add(f"{p}.add", "add", src=[n.last, src])
            inp, idx = c, idx + 1
    n.conv("features.18.conv", 1280, 1)
    n.add("features.18.bn", "batchnorm")
    n.add("features.18.relu6", "relu6")
    n.add("avgpool", "avgpool", out=1)
    n.add("classifier.fc", "linear", out=1000, bias=True)
    n.add("softmax", "softmax")
    return n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for net in (alexnet(), vgg16(), resnet("resnet18", "basic", [2, 2, 2, 2]),
                resnet("resnet50", "bottleneck", [3, 4, 6, 3]), mobilenet_v2()):
        with open(os.path.join(here, net.name + ".json"), "w") as f:
            spec = net.spec()
            f.write("{\n")
            f.write(f'  "name": {json.dumps(spec["name"])},\n  "input": {json.dumps(spec["input"])},\n')
            f.write(f'  "dtype": "fp32",\n  "layers": [\n')
            f.write(",\n".join("    " + json.dumps(l) for l in spec["layers"]))
            f.write("\n  ]\n}\n")


if __name__ == "__main__":
    main()
