"""Networks for :class:`skal.CoTeachingClassifier`.

Two modules that return *logits* (the classifier applies cross-entropy and
softmax itself):

- :class:`MLP`, a small multilayer perceptron for precomputed embeddings
  (the usual input of active learning with self-supervised features);
- :class:`CoTeachingCNN`, the 9-layer convolutional network that Han et al.
  (2018) used for CIFAR-10/100 in the Co-Teaching paper.

Both take their sizes as constructor arguments so that skorch can build them
from ``module__*`` parameters, and both use :class:`torch.nn.Dropout` modules,
so dropout is active in ``train()`` mode only (the reference port calls the
functional dropout with its default ``training=True`` and therefore drops units
at prediction time too).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "CoTeachingCNN"]


class MLP(nn.Module):
    """Multilayer perceptron on embeddings, returning logits.

    Parameters
    ----------
    n_features : int
        Input dimension. :class:`~skal.CoTeachingClassifier` fills it in from
        ``X.shape[1]`` when it is not given.
    n_classes : int
        Number of outputs. :class:`~skal.CoTeachingClassifier` fills it in from
        the number of classes when it is not given.
    hidden_units : int or sequence of int, default=(256,)
        Width of each hidden layer; an empty sequence gives a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (training mode only).
    norm : {"layer", "batch"} or None, default="layer"
        Normalisation after each hidden linear layer. Layer normalisation is
        the default because it works for any batch size (a one-sample batch
        breaks batch normalisation) and keeps training fast on unit-norm
        embeddings, whose raw coordinates are small.

    Examples
    --------
    >>> import torch
    >>> from skal.nets import MLP
    >>> MLP(64, 10, hidden_units=(32,))(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(self, n_features: int, n_classes: int,
                 hidden_units: int | Sequence[int] = (256,), dropout: float = 0.0,
                 norm: str | None = "layer") -> None:
        super().__init__()
        if isinstance(hidden_units, numbers.Integral):
            hidden_units = (hidden_units,)
        for name, value in (("n_features", n_features), ("n_classes", n_classes),
                            *(("hidden_units", units) for units in hidden_units)):
            # numpy integers count: sizes often come from array shapes
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be positive integers, got {value!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if norm not in (None, "layer", "batch"):
            raise ValueError(f"norm must be 'layer', 'batch' or None, got {norm!r}")
        layers: list[nn.Module] = []
        width = int(n_features)
        for units in hidden_units:
            layers.append(nn.Linear(width, int(units)))
            if norm == "layer":
                layers.append(nn.LayerNorm(int(units)))
            elif norm == "batch":
                layers.append(nn.BatchNorm1d(int(units)))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(float(dropout)))
            width = int(units)
        layers.append(nn.Linear(width, int(n_classes)))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return logits of shape ``(n_samples, n_classes)``."""
        return self.layers(X)


def _conv_block(in_channels: int, out_channels: int, kernel_size: int, padding: int,
                negative_slope: float) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(negative_slope),
    ]


class CoTeachingCNN(nn.Module):
    """The 9-layer CNN of the Co-Teaching paper (Han et al., 2018, Table 3).

    Three 3x3 convolutions of 128 channels, 2x2 max-pooling, dropout; three
    3x3 convolutions of 256 channels, max-pooling, dropout; a 3x3 convolution
    of 512 channels without padding, 1x1 convolutions to 256 and 128 channels,
    global average pooling and a dense layer to the classes. Every convolution
    is followed by batch normalisation and a leaky ReLU (slope 0.01).

    Parameters
    ----------
    in_channels : int, default=3
        Image channels.
    n_classes : int, default=10
        Number of outputs (filled in by the classifier when it can).
    dropout : float, default=0.25
        Dropout probability after each pooling stage; applied in training mode
        only.
    negative_slope : float, default=0.01
        Slope of the leaky ReLUs.

    Examples
    --------
    >>> import torch
    >>> from skal.nets import CoTeachingCNN
    >>> CoTeachingCNN(n_classes=10).eval()(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 10, dropout: float = 0.25,
                 negative_slope: float = 0.01) -> None:
        super().__init__()
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        s = negative_slope
        self.features = nn.Sequential(
            *_conv_block(in_channels, 128, 3, 1, s),
            *_conv_block(128, 128, 3, 1, s),
            *_conv_block(128, 128, 3, 1, s),
            nn.MaxPool2d(2, 2),
            nn.Dropout2d(dropout),
            *_conv_block(128, 256, 3, 1, s),
            *_conv_block(256, 256, 3, 1, s),
            *_conv_block(256, 256, 3, 1, s),
            nn.MaxPool2d(2, 2),
            nn.Dropout2d(dropout),
            *_conv_block(256, 512, 3, 0, s),
            *_conv_block(512, 256, 1, 0, s),
            *_conv_block(256, 128, 1, 0, s),
            # Global average pooling instead of a fixed 5x5 window, so that
            # inputs other than 32x32 work too (for 32x32 it is the same).
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(128, n_classes)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return logits of shape ``(n_samples, n_classes)`` for NCHW images."""
        return self.classifier(self.features(X))
