"""Patch encoders: one small factory per encoder, looked up by name in :mod:`memamba.slides.encoder_registry`
(other packages add theirs as plug-ins with :func:`register_encoder`, re-exported here).

Weights are never downloaded here: encoders that have weights load them from a local file, verified
by SHA-256 when one is given, and strictly (every key must match the published checkpoint's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from memamba.errors import MemambaError
from memamba.registry import resolve
from memamba.slides.encoder_registry import encoder_entry, register_encoder, weights_source
from memamba.slides.weights import load_weights

__all__ = ["Encoder", "build_encoder", "load_weights", "register_encoder"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Encoder:
    """A built patch encoder with the input it expects."""

    name: str
    model: nn.Module
    dim: int
    input_size: int | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_sha256: str = "none"


def build_encoder(name: str, weights: str | os.PathLike | None = None, sha256: str | None = None,
                  random_weights: bool = False, **architecture: Any) -> Encoder:
    """Build encoder ``name`` with its weights from a local file (``random_weights`` only for tests).

    ``architecture`` overrides the published configuration (e.g. ``depth=2`` for a small test model).
    """
    factory = resolve(encoder_entry(name).factory)
    return factory(weights, sha256=sha256, random_weights=random_weights, **architecture)


def _encoder(name: str, model: nn.Module, mean: tuple[float, float, float], std: tuple[float, float, float],
             weights_sha256: str = "none") -> Encoder:
    """The built encoder ``name``, its feature width and input size taken from its registry entry."""
    entry = encoder_entry(name)
    return Encoder(name, model, entry.dim, entry.input_size, mean, std, weights_sha256)


class ColourTextureStats(nn.Module):
    """A weight-free encoder of colour and texture statistics (16 values per patch).

    Per patch: RGB mean and standard deviation, grey-level quantiles (10/25/50/75/90 %), the
    fraction of dark pixels at two thresholds, gradient energy at two scales and mean saturation.
    It costs microseconds per patch on a CPU, which makes it the demo cohort's encoder.
    """

    dim = 16

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rgb = images.float()
        flat = rgb.flatten(2)
        mean, std = flat.mean(-1), flat.std(-1)
        grey = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).flatten(1)
        quantiles = torch.quantile(grey, torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9], device=rgb.device), dim=1).T
        dark = torch.stack([(grey < 0.35).float().mean(1), (grey < 0.5).float().mean(1)], 1)
        grey_image = grey.view(-1, 1, rgb.shape[2], rgb.shape[3])
        energies = []
        for step in (1, 2):
            dx = grey_image[..., :, step:] - grey_image[..., :, :-step]
            dy = grey_image[..., step:, :] - grey_image[..., :-step, :]
            energies.append(dx.abs().flatten(1).mean(1) + dy.abs().flatten(1).mean(1))
        high, low = rgb.max(1).values, rgb.min(1).values
        saturation = ((high - low) / high.clamp_min(1e-6)).flatten(1).mean(1, keepdim=True)
        return torch.cat([mean, std, quantiles, dark, torch.stack(energies, 1), saturation], 1)


def demo_stats(weights: str | None = None, sha256: str | None = None, random_weights: bool = False) -> Encoder:
    """Colour/texture statistics: no weights, 16-d, any input size, inputs in [0, 1]."""
    if weights is not None:
        raise MemambaError("encoder 'demo-stats' has no weights. Fix: set extract.weights to null.")
    return _encoder("demo-stats", ColourTextureStats().eval(), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


class TruncatedResNet50(nn.Module):
    """A ResNet-50 cut after layer3, then global average pooling: 1024-d (as CLAM)."""

    def __init__(self, resnet: nn.Module) -> None:
        super().__init__()
        self.resnet = resnet
        del self.resnet.layer4, self.resnet.fc

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        net = self.resnet
        x = net.maxpool(net.act1(net.bn1(net.conv1(images))))
        x = net.layer3(net.layer2(net.layer1(x)))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def resnet50_trunc(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
                   **architecture: Any) -> Encoder:
    """ResNet-50 (ImageNet) truncated after layer3, 1024-d, 224 px, ImageNet normalisation.

    Takes a full ResNet-50 checkpoint with torchvision/timm key names (conv1, bn1, layer1-4, fc),
    checks it strictly, then drops layer4 and fc.
    """
    import timm

    resnet = timm.create_model("resnet50", pretrained=False, **architecture)
    digest = load_weights(resnet, "resnet50-trunc", weights, sha256, random_weights, weights_source("resnet50-trunc"))
    return _encoder("resnet50-trunc", TruncatedResNet50(resnet).eval(), IMAGENET_MEAN, IMAGENET_STD, digest)


def _vit(name: str, weights: str | None, sha256: str | None, random_weights: bool, where_to_get: str,
         timm_name: str, published: dict[str, Any], architecture: dict[str, Any]) -> Encoder:
    import timm

    model = timm.create_model(timm_name, pretrained=False, **{**published, **architecture})
    digest = load_weights(model, name, weights, sha256, random_weights, where_to_get)
    return _encoder(name, model.eval(), IMAGENET_MEAN, IMAGENET_STD, digest)


def uni(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
        **architecture: Any) -> Encoder:
    """UNI (Chen et al., 2024): ViT-L/16, 1024-d, 224 px, ImageNet normalisation."""
    published = {"img_size": 224, "patch_size": 16, "init_values": 1e-5, "num_classes": 0, "dynamic_img_size": True}
    return _vit("uni", weights, sha256, random_weights, weights_source("uni"), "vit_large_patch16_224", published, architecture)


def uni2_h(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
           **architecture: Any) -> Encoder:
    """UNI2-h: ViT-H/14 with SwiGLU MLPs and 8 register tokens, 1536-d, 224 px, ImageNet normalisation."""
    import timm

    published = {"img_size": 224, "patch_size": 14, "depth": 24, "num_heads": 24, "init_values": 1e-5,
                 "embed_dim": 1536, "mlp_ratio": 2.66667 * 2, "num_classes": 0, "no_embed_class": True,
                 "mlp_layer": timm.layers.SwiGLUPacked, "act_layer": nn.SiLU, "reg_tokens": 8, "dynamic_img_size": True}
    return _vit("uni2-h", weights, sha256, random_weights, weights_source("uni2-h"), "vit_giant_patch14_224", published, architecture)


HOPTIMUS_MEAN = (0.707223, 0.578729, 0.703617)
HOPTIMUS_STD = (0.211883, 0.230117, 0.177517)


class ClassAndMeanPatchToken(nn.Module):
    """Virchow's embedding: a ViT's class token beside the mean of its patch tokens (register tokens left out)."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.vit = vit

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.vit(images)
        return torch.cat([tokens[:, 0], tokens[:, self.vit.num_prefix_tokens:].mean(1)], dim=-1)


def virchow2(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
             **architecture: Any) -> Encoder:
    """Virchow2 (Zimmermann et al., 2024): ViT-H/14 with SwiGLU MLPs and 4 register tokens; the embedding is the
    class token and the mean patch token side by side (2 x 1280 = 2560-d), as its model card specifies; 224 px,
    ImageNet normalisation."""
    import timm

    published = {"img_size": 224, "init_values": 1e-5, "num_classes": 0, "reg_tokens": 4, "mlp_ratio": 5.3375,
                 "global_pool": "", "dynamic_img_size": True, "mlp_layer": timm.layers.SwiGLUPacked, "act_layer": nn.SiLU}
    vit = timm.create_model("vit_huge_patch14_224", pretrained=False, **{**published, **architecture})
    digest = load_weights(vit, "virchow2", weights, sha256, random_weights, weights_source("virchow2"))
    return _encoder("virchow2", ClassAndMeanPatchToken(vit).eval(), IMAGENET_MEAN,
                   IMAGENET_STD, digest)


def h_optimus_0(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
                **architecture: Any) -> Encoder:
    """H-optimus-0 (Bioptimus, 2024): ViT-g/14 with 4 register tokens (DINOv2 layout), class token, 1536-d, 224 px,
    its own normalisation (mean 0.707223, 0.578729, 0.703617; sd 0.211883, 0.230117, 0.177517)."""
    import timm

    published = {"img_size": 224, "init_values": 1e-5, "num_classes": 0, "global_pool": "token", "dynamic_img_size": False}
    model = timm.create_model("vit_giant_patch14_reg4_dinov2", pretrained=False, **{**published, **architecture})
    digest = load_weights(model, "h-optimus-0", weights, sha256, random_weights, weights_source("h-optimus-0"))
    return _encoder("h-optimus-0", model.eval(), HOPTIMUS_MEAN, HOPTIMUS_STD, digest)


def gigapath(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
             **architecture: Any) -> Encoder:
    """Prov-GigaPath's tile encoder (Xu et al., 2024): ViT-g with 16-px patches and SwiGLU MLPs (timm's DINOv2
    giant with the model card's patch size and MLP ratio), class token, 1536-d, 224 px, ImageNet normalisation."""
    published = {"img_size": 224, "patch_size": 16, "embed_dim": 1536, "depth": 40, "num_heads": 24, "init_values": 1e-5,
                 "mlp_ratio": 5.33334, "num_classes": 0, "global_pool": "token"}
    return _vit("gigapath", weights, sha256, random_weights, weights_source("gigapath"), "vit_giant_patch14_dinov2",
                published, architecture)


OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def conch(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
          **architecture: Any) -> Encoder:
    """CONCH v1's image tower (the ME-Mamba paper's third feature set): ViT-B/16 at 448 px, attentional pooler,
    512-d; OpenAI CLIP normalisation, as CONCH's own transform. Loads the released CoCa checkpoint, text half left
    out (:data:`memamba.slides.conch.CONCH_V1_TEXT_HALF`)."""
    from memamba.slides.conch import conch_v1_image_keys, conch_v1_tower

    tower = conch_v1_tower(**architecture)
    digest = load_weights(tower, "conch", weights, sha256, random_weights, weights_source("conch"),
                          convert=lambda state: conch_v1_image_keys(state, tower))
    return _encoder("conch", tower.eval(), OPENAI_CLIP_MEAN, OPENAI_CLIP_STD,
                   digest)


def conch_v15(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
              **architecture: Any) -> Encoder:
    """CONCH v1.5's image tower (TITAN's patch encoder): ViT-L/16 at 448 px, attentional pooler, 768-d; ImageNet
    normalisation."""
    from memamba.slides.conch import conch_v15_image_keys, conch_v15_tower

    tower = conch_v15_tower(**architecture)
    digest = load_weights(tower, "conch-v1.5", weights, sha256, random_weights, weights_source("conch-v1.5"),
                          convert=lambda state: conch_v15_image_keys(state, tower))
    return _encoder("conch-v1.5", tower.eval(), IMAGENET_MEAN, IMAGENET_STD,
                   digest)


class ConvStem(nn.Module):
    """CTransPath's patch embedding: two stride-2 3x3 conv-BN-ReLU stages and a 1x1 projection (4x downsampling).

    Keeps the released checkpoint's key names (``proj.0`` ... ``proj.6``, ``norm``) and returns NHWC tokens, as
    today's timm Swin expects of its ``embed_layer``.
    """

    def __init__(self, img_size: int | tuple[int, int] = 224, patch_size: int | tuple[int, int] = 4,
                 in_chans: int = 3, embed_dim: int = 96,
                 norm_layer: Callable[[int], nn.Module] | None = None, **_timm_options: Any) -> None:
        super().__init__()
        from timm.layers import to_2tuple

        self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        if self.patch_size != (4, 4) or embed_dim % 8:
            raise ValueError("ConvStem needs patch_size 4 and embed_dim divisible by 8")
        self.grid_size = (self.img_size[0] // 4, self.img_size[1] // 4)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        layers: list[nn.Module] = []
        channels_in, channels_out = in_chans, embed_dim // 8
        for _ in range(2):
            layers += [nn.Conv2d(channels_in, channels_out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True)]
            channels_in, channels_out = channels_out, channels_out * 2
        layers.append(nn.Conv2d(channels_in, embed_dim, kernel_size=1))
        self.proj = nn.Sequential(*layers)
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(images).permute(0, 2, 3, 1))


def ctranspath(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
               **architecture: Any) -> Encoder:
    """CTransPath (Wang et al., 2022): Swin-T/4 window 7 with the ConvStem patch embedding, 768-d, 224 px,
    ImageNet normalisation.

    The released ``ctranspath.pth`` was saved with timm 0.5.4 (patch merging at the end of a stage, buffers
    ``relative_position_index``/``attn_mask`` in the file); timm's own Swin checkpoint filter maps those
    names onto today's timm, and the result must then match every key.
    """
    import timm
    from timm.models.swin_transformer import checkpoint_filter_fn

    model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, embed_layer=ConvStem,
                              num_classes=0, **architecture)
    digest = load_weights(model, "ctranspath", weights, sha256, random_weights, weights_source("ctranspath"),
                          convert=lambda state: checkpoint_filter_fn(state, model))
    return _encoder("ctranspath", model.eval(), IMAGENET_MEAN, IMAGENET_STD, digest)
