"""Patch encoders in a registry: one small function per encoder, looked up by name; other packages add theirs as
plug-ins (entry point group ``memamba.encoders``).

Weights are never downloaded here: encoders that have weights load them from a local file, verified
by SHA-256 when one is given, and strictly (every key must match the published checkpoint's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch
from torch import nn

from memamba.config import ConfigError
from memamba.errors import MemambaError, UnknownNameError, not_a_file, require_file
from memamba.provenance import sha256_of

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


EncoderFactory = Callable[..., Encoder]
_ENCODERS: dict[str, EncoderFactory] = {}
_DIMS: dict[str, int] = {}
_WEIGHTS_FROM: dict[str, str | None] = {}


def register_encoder(name: str, dim: int, weights_from: str | None) -> Callable[[EncoderFactory], EncoderFactory]:
    """Decorator adding ``fn(weights, sha256=None, random_weights=False, **architecture) -> Encoder`` under ``name``,
    with its feature width ``dim`` (known without building the encoder) and where its published weights come from
    (None for an encoder without weights)."""

    def add(fn: EncoderFactory) -> EncoderFactory:
        _ENCODERS[name], _DIMS[name], _WEIGHTS_FROM[name] = fn, dim, weights_from
        return fn

    return add


PLUGIN_GROUP = "memamba.encoders"
"""The entry-point group of encoder plug-ins: ``NAME = "package.module:factory"``, where importing the module
registers ``factory`` under NAME with :func:`register_encoder`."""
_PLUGINS: dict[str, str] = {}


def load_plugins() -> None:
    """Import every installed encoder plug-in not imported yet; a MemambaError names one that fails to import, that
    registers no encoder of its entry point's name, or that would replace a built-in encoder."""
    for entry in entry_points(group=PLUGIN_GROUP):
        if _PLUGINS.get(entry.name) == entry.value:
            continue
        origin = f"encoder plug-in {entry.name!r} ({entry.value}, entry point group {PLUGIN_GROUP})"
        if entry.name in _ENCODERS:
            raise MemambaError(f"{origin} would replace the encoder of that name. Fix: rename the plug-in's entry point.")
        try:
            entry.load()
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code ends in the same advice
            raise MemambaError(f"{origin} failed to import ({type(exc).__name__}: {exc}). Fix: repair or uninstall "
                               "the package that provides it.") from exc
        if entry.name not in _ENCODERS:
            raise MemambaError(f"{origin} registered no encoder named {entry.name!r}. Fix: decorate its factory with "
                               f"@memamba.slides.encoders.register_encoder({entry.name!r}, dim=..., weights_from=...).")
        _PLUGINS[entry.name] = entry.value


def _known(name: str) -> None:
    if name not in _ENCODERS:
        load_plugins()
    if name not in _ENCODERS:
        raise UnknownNameError(f"unknown encoder {name!r}. Fix: use one of {list_encoders()} (config key extract.encoder), "
                               f"or install a plug-in that provides it (entry point group {PLUGIN_GROUP}).")


def weights_source(name: str) -> str | None:
    """How to get encoder ``name``'s published weights (an instruction), or None if it has none."""
    _known(name)
    return _WEIGHTS_FROM[name]


def encoder_dim(name: str) -> int:
    """Feature width of registered encoder ``name``."""
    _known(name)
    return _DIMS[name]


def list_encoders() -> list[str]:
    """Names of every registered encoder, installed plug-ins' included."""
    load_plugins()
    return sorted(_ENCODERS)


def encoder_table() -> list[tuple[str, int, str]]:
    """Every encoder's name, feature width and where its weights come from (or "no weights"; plug-ins say so)."""
    return [(name, _DIMS[name], (_WEIGHTS_FROM[name] or "no weights")
             + (f" [plug-in {_PLUGINS[name]}]" if name in _PLUGINS else "")) for name in list_encoders()]


def build_encoder(name: str, weights: str | os.PathLike | None = None, sha256: str | None = None,
                  random_weights: bool = False, **architecture: Any) -> Encoder:
    """Build encoder ``name`` with its weights from a local file (``random_weights`` only for tests).

    ``architecture`` overrides the published configuration (e.g. ``depth=2`` for a small test model).
    """
    _known(name)
    return _ENCODERS[name](weights, sha256=sha256, random_weights=random_weights, **architecture)


HUB_PREFIX = "hf-hub:"
HUB_FILENAME = "pytorch_model.bin"


def fetch_from_hub(reference: str, name: str) -> Path:
    """The local copy of ``hf-hub:ORG/REPO[/FILE]`` (default file pytorch_model.bin), downloaded once into the
    Hugging Face cache. Gated models (UNI, UNI2-h) need their terms accepted and ``huggingface-cli login``."""
    from huggingface_hub import hf_hub_download

    parts = reference[len(HUB_PREFIX):].split("/")
    if len(parts) < 2:
        raise MemambaError(f"weights {reference!r}: a hub reference is hf-hub:ORG/REPO or hf-hub:ORG/REPO/FILE. "
                           "Fix: correct extract.weights.")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:]) or HUB_FILENAME
    try:
        return Path(hf_hub_download(repo_id, filename))
    except Exception as exc:  # noqa: BLE001 - offline, gated, missing: all end in the same advice
        raise MemambaError(
            f"weights of encoder {name!r}: cannot fetch {filename} from the Hugging Face hub repository {repo_id} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}). Fix: without network "
            "access, download the file elsewhere and give its local path in extract.weights; for a gated model, "
            "accept its terms on the model page and run 'huggingface-cli login'."
        ) from exc


def resolve_weights(name: str, weights: str | os.PathLike) -> Path:
    """The local file of ``weights``: a path that must exist, or ``hf-hub:ORG/REPO[/FILE]`` fetched (or cached)."""
    if str(weights).startswith(HUB_PREFIX):
        return fetch_from_hub(str(weights), name)
    return require_file(weights, f"weights file of encoder {name!r}", "correct extract.weights (a local file, or hf-hub:ORG/REPO)")


@cache
def _digest(path: str, inode: int, size: int, mtime_ns: int, ctime_ns: int) -> str:
    return sha256_of(path)


def checked_digest(path: Path, sha256: str | None, where_to_get: str) -> str:
    """The SHA-256 of the weights file ``path`` (hashed once per process while its inode, size, mtime and ctime hold:
    rewriting it changes its ctime, whatever its mtime), which must
    equal ``sha256`` when one is configured; a MemambaError otherwise."""
    stat = path.stat()
    actual = _digest(str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if sha256 is not None and actual != sha256.lower():
        raise MemambaError(f"{path}: SHA-256 {actual} differs from the expected {sha256} (extract.weights_sha256). "
                           f"Fix: the file is incomplete or a different release; {where_to_get}.")
    return actual


def weights_digest(name: str, weights: str | os.PathLike | None, sha256: str | None) -> str:
    """What feature files record as ``weights_sha256`` for these settings: the weights file's SHA-256 (checked against
    ``sha256`` when given), or "none" without a weights file."""
    if weights is None:
        return "none"
    return checked_digest(resolve_weights(name, weights), sha256, weights_source(name) or "see --list-encoders")


def _tensor_state(path: Path, name: str, where_to_get: str) -> dict[str, torch.Tensor]:
    """The checkpoint's name -> tensor mapping (inside a ``state_dict`` / ``model`` wrapper if there is one), read
    without running any pickled code; anything else is a MemambaError naming the file."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - text, a pickle of objects, a truncated zip: all are "not tensors"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MemambaError(f"{path}: not a PyTorch checkpoint of tensors ({type(exc).__name__}: {detail[:160]}); it was "
                           f"not unpickled. Fix: give the published weights of encoder {name!r}: {where_to_get}.") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        held = type(state).__name__ if not isinstance(state, dict) else \
            next(type(v).__name__ for v in state.values() if not isinstance(v, torch.Tensor))
        raise MemambaError(f"{path}: holds a {held}, not a mapping of parameter names to tensors. "
                           f"Fix: give the published weights of encoder {name!r}: {where_to_get}.")
    return state


def load_weights(model: nn.Module, name: str, weights: str | os.PathLike | None, sha256: str | None,
                 random_weights: bool, where_to_get: str,
                 convert: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None) -> str:
    """Load a checkpoint (a local path, or ``hf-hub:ORG/REPO[/FILE]``) strictly into ``model``, after checking
    its SHA-256 when one is given.

    ``convert`` maps the published key names onto the model's (e.g. an old timm release's onto today's).
    Returns the file's SHA-256 ("none" for random weights), which feature files record.
    """
    if weights is None:
        if random_weights:
            return "none"
        raise MemambaError(f"encoder {name!r} needs its weights and none were given. Fix: {where_to_get}, "
                           "then pass --weights PATH (config: extract.weights).")
    path = resolve_weights(name, weights)
    actual = checked_digest(path, sha256, where_to_get)
    state = _tensor_state(path, name, where_to_get)
    if convert is not None:
        state = convert(state)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshapen = [key for key in expected if key in state and tuple(state[key].shape) != tuple(expected[key].shape)]
    if missing or unexpected or misshapen:
        raise MemambaError(
            f"{path}: not a checkpoint of encoder {name!r}: {len(missing)} missing key(s) {missing[:3]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:3]}, {len(misshapen)} key(s) of another shape "
            f"{misshapen[:3]}. Fix: {where_to_get}."
        )
    model.load_state_dict(state, strict=True)
    return actual


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


@register_encoder("demo-stats", dim=ColourTextureStats.dim, weights_from=None)
def demo_stats(weights: str | None = None, sha256: str | None = None, random_weights: bool = False) -> Encoder:
    """Colour/texture statistics: no weights, 16-d, any input size, inputs in [0, 1]."""
    if weights is not None:
        raise MemambaError("encoder 'demo-stats' has no weights. Fix: set extract.weights to null.")
    return Encoder("demo-stats", ColourTextureStats().eval(), encoder_dim("demo-stats"), None, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


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


@register_encoder("resnet50-trunc", dim=1024,
                  weights_from="save torchvision's or timm's ImageNet ResNet-50 state dict to a file")
def resnet50_trunc(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
                   **architecture: Any) -> Encoder:
    """ResNet-50 (ImageNet) truncated after layer3, 1024-d, 224 px, ImageNet normalisation.

    Takes a full ResNet-50 checkpoint with torchvision/timm key names (conv1, bn1, layer1-4, fc),
    checks it strictly, then drops layer4 and fc.
    """
    import timm

    resnet = timm.create_model("resnet50", pretrained=False, **architecture)
    digest = load_weights(resnet, "resnet50-trunc", weights, sha256, random_weights, weights_source("resnet50-trunc"))
    return Encoder("resnet50-trunc", TruncatedResNet50(resnet).eval(), encoder_dim("resnet50-trunc"), 224, IMAGENET_MEAN, IMAGENET_STD, digest)


def _vit(name: str, weights: str | None, sha256: str | None, random_weights: bool, where_to_get: str,
         timm_name: str, published: dict[str, Any], architecture: dict[str, Any]) -> Encoder:
    import timm

    model = timm.create_model(timm_name, pretrained=False, **{**published, **architecture})
    digest = load_weights(model, name, weights, sha256, random_weights, where_to_get)
    return Encoder(name, model.eval(), encoder_dim(name), 224, IMAGENET_MEAN, IMAGENET_STD, digest)


@register_encoder("uni", dim=1024, weights_from="download pytorch_model.bin from the MahmoodLab/UNI model page")
def uni(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
        **architecture: Any) -> Encoder:
    """UNI (Chen et al., 2024): ViT-L/16, 1024-d, 224 px, ImageNet normalisation."""
    published = {"img_size": 224, "patch_size": 16, "init_values": 1e-5, "num_classes": 0, "dynamic_img_size": True}
    return _vit("uni", weights, sha256, random_weights, weights_source("uni"), "vit_large_patch16_224", published, architecture)


@register_encoder("uni2-h", dim=1536, weights_from="download pytorch_model.bin from the MahmoodLab/UNI2-h model page")
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


@register_encoder("virchow2", dim=2560, weights_from="download pytorch_model.bin from the paige-ai/Virchow2 model page "
                                                     "(gated, CC-BY-NC-ND 4.0)")
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
    return Encoder("virchow2", ClassAndMeanPatchToken(vit).eval(), encoder_dim("virchow2"), 224, IMAGENET_MEAN,
                   IMAGENET_STD, digest)


@register_encoder("h-optimus-0", dim=1536, weights_from="download pytorch_model.bin from the bioptimus/H-optimus-0 "
                                                        "model page (Apache-2.0)")
def h_optimus_0(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
                **architecture: Any) -> Encoder:
    """H-optimus-0 (Bioptimus, 2024): ViT-g/14 with 4 register tokens (DINOv2 layout), class token, 1536-d, 224 px,
    its own normalisation (mean 0.707223, 0.578729, 0.703617; sd 0.211883, 0.230117, 0.177517)."""
    import timm

    published = {"img_size": 224, "init_values": 1e-5, "num_classes": 0, "global_pool": "token", "dynamic_img_size": False}
    model = timm.create_model("vit_giant_patch14_reg4_dinov2", pretrained=False, **{**published, **architecture})
    digest = load_weights(model, "h-optimus-0", weights, sha256, random_weights, weights_source("h-optimus-0"))
    return Encoder("h-optimus-0", model.eval(), encoder_dim("h-optimus-0"), 224, HOPTIMUS_MEAN, HOPTIMUS_STD, digest)


@register_encoder("gigapath", dim=1536, weights_from="download pytorch_model.bin from the prov-gigapath/prov-gigapath "
                                                     "model page (gated)")
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


@register_encoder("conch", dim=512, weights_from="download pytorch_model.bin from the MahmoodLab/CONCH model page "
                                                 "(gated, CC-BY-NC-ND 4.0)")
def conch(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
          **architecture: Any) -> Encoder:
    """CONCH v1's image tower (the ME-Mamba paper's third feature set): ViT-B/16 at 448 px, attentional pooler,
    512-d; OpenAI CLIP normalisation, as CONCH's own transform. Loads the released CoCa checkpoint, text half left
    out (:data:`memamba.slides.conch.CONCH_V1_TEXT_HALF`)."""
    from memamba.slides.conch import CONCH_INPUT_SIZE, conch_v1_image_keys, conch_v1_tower

    tower = conch_v1_tower(**architecture)
    digest = load_weights(tower, "conch", weights, sha256, random_weights, weights_source("conch"),
                          convert=lambda state: conch_v1_image_keys(state, tower))
    return Encoder("conch", tower.eval(), encoder_dim("conch"), CONCH_INPUT_SIZE, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD,
                   digest)


@register_encoder("conch-v1.5", dim=768, weights_from="download pytorch_model_vision.bin from the MahmoodLab/conchv1_5 "
                                                      "model page (gated, CC-BY-NC-ND 4.0; hf-hub:MahmoodLab/conchv1_5/"
                                                      "pytorch_model_vision.bin)")
def conch_v15(weights: str | None = None, sha256: str | None = None, random_weights: bool = False,
              **architecture: Any) -> Encoder:
    """CONCH v1.5's image tower (TITAN's patch encoder): ViT-L/16 at 448 px, attentional pooler, 768-d; ImageNet
    normalisation."""
    from memamba.slides.conch import CONCH_INPUT_SIZE, conch_v15_image_keys, conch_v15_tower

    tower = conch_v15_tower(**architecture)
    digest = load_weights(tower, "conch-v1.5", weights, sha256, random_weights, weights_source("conch-v1.5"),
                          convert=lambda state: conch_v15_image_keys(state, tower))
    return Encoder("conch-v1.5", tower.eval(), encoder_dim("conch-v1.5"), CONCH_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD,
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


@register_encoder("ctranspath", dim=768,
                  weights_from="download ctranspath.pth from the TransPath repository (Xiyue-Wang/TransPath)")
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
    return Encoder("ctranspath", model.eval(), encoder_dim("ctranspath"), 224, IMAGENET_MEAN, IMAGENET_STD, digest)


def check_weights_setting(extract: dict[str, Any], verify_sha256: bool = True) -> None:
    """Check the ``extract`` config section's encoder and weights before any job runs: a registered encoder, a
    weights file that exists (``hf-hub:`` references are fetched by the jobs), and, with ``verify_sha256``, its
    SHA-256 equal to ``weights_sha256``. A ConfigError names the key and the fix."""
    name, weights, expected = extract["encoder"], extract.get("weights"), extract.get("weights_sha256")
    if name not in _ENCODERS:
        try:
            load_plugins()
        except MemambaError as error:
            raise ConfigError(f"extract.encoder: {error}") from error
    if name not in _ENCODERS:
        raise ConfigError(f"extract.encoder: unknown encoder {name!r}. Fix: use one of {list_encoders()}, or install a "
                          f"plug-in that provides it (entry point group {PLUGIN_GROUP}).")
    source = _WEIGHTS_FROM[name]
    if source is None:
        if weights is not None:
            raise ConfigError(f"extract.weights is {weights!r}, but encoder {name!r} has no weights. Fix: set extract.weights to null.")
        return
    if weights is None:
        raise ConfigError(f"extract.weights is null, but encoder {name!r} needs its published weights. "
                          f"Fix: {source}, and set extract.weights to its path (or hf-hub:ORG/REPO).")
    if str(weights).startswith(HUB_PREFIX):
        return
    path = Path(weights)
    problem = not_a_file(path)
    if problem:
        raise ConfigError(f"extract.weights: {weights} {problem} (looked for {path.absolute()}). "
                          f"Fix: {source}, and set extract.weights to its path (relative paths start where snakemake runs).")
    if expected is not None and verify_sha256:
        actual = sha256_of(path)
        if actual != expected.lower():
            raise ConfigError(f"extract.weights_sha256: {path} has SHA-256 {actual}, not {expected}. Fix: the file is incomplete "
                              f"or another release: {source} again, or correct extract.weights_sha256.")
