"""A small image-text matching model and AttnGAN's R-precision.

R-precision (Xu et al. 2018, AttnGAN sec. 5.1): for each generated image, its caption is ranked
among itself and 99 captions describing something else by the cosine similarity of image and text
embeddings; the score is the fraction ranked first (R = 1). AttnGAN ranks with its DAMSM encoders;
here a small CNN maps images into the frozen sentence encoder's space (a learnt linear map on the
text side), trained contrastively (InfoNCE in both directions, as CLIP; Radford et al. 2021) on real
(image, caption) pairs only. Pairs in a batch whose captions are the same text are not negatives of
each other (templates repeat: "a seven" describes many images).

The candidates that "describe something else" are captions of images of another class (the same
rule as the discriminator's mismatched pairs), so the score asks whether the image shows the class
the prompt asks for, judged by a model that never saw a generated image. Its score on held-out real
images is the reference.
"""
import dataclasses
import functools
import json
import logging
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax.families.text2image import data as data_lib

leaky_relu = functools.partial(nn.leaky_relu, negative_slope=0.2)


def _normalise(v):
  return v / jnp.maximum(jnp.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


class ImageEncoder(nn.Module):
  """Images in [-1, 1] -> unit vectors of `width` (strided 3x3 convs, global mean, Dense)."""
  widths: tuple = (32, 64, 128)
  width: int = 384

  @nn.compact
  def __call__(self, x):
    for w in self.widths:
      x = leaky_relu(nn.Conv(w, (3, 3), strides=2)(leaky_relu(nn.Conv(w, (3, 3))(x))))
    return _normalise(nn.Dense(self.width)(x.mean((1, 2))))


class MatchingModel(nn.Module):
  """(images, sentence embeddings) -> (image vectors, text vectors), both unit length."""
  widths: tuple = (32, 64, 128)

  def setup(self):
    self.image = ImageEncoder(self.widths)
    self.text = nn.Dense(384)

  def __call__(self, images, sentences):
    return self.encode_images(images), self.encode_texts(sentences)

  def encode_images(self, images):
    return self.image(images)

  def encode_texts(self, sentences):
    return _normalise(self.text(sentences))


def contrastive_loss(image_vectors, text_vectors, caption_ids, temperature=0.1):
  """Symmetric InfoNCE over a batch; pairs whose captions are the same text are left out of each
  other's negatives."""
  logits = image_vectors @ text_vectors.T / temperature
  same_text = caption_ids[:, None] == caption_ids[None, :]
  logits = jnp.where(same_text & ~jnp.eye(len(logits), dtype=bool), -1e9, logits)
  targets = jnp.arange(len(logits))
  return 0.5 * (optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()
                + optax.softmax_cross_entropy_with_integer_labels(logits.T, targets).mean())


@dataclasses.dataclass(frozen=True)
class Matcher:
  model: MatchingModel
  params: dict

  def image_vectors(self, images, batch_size=500):
    fn = jax.jit(lambda p, x: self.model.apply({"params": p}, x, method="encode_images"))
    images = _to_float(images)
    return np.concatenate([np.asarray(fn(self.params, images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])

  def text_vectors(self, sentences):
    fn = jax.jit(lambda p, e: self.model.apply({"params": p}, e, method="encode_texts"))
    return np.asarray(fn(self.params, jnp.asarray(sentences)))


def _to_float(images):
  images = np.asarray(images)
  return (images.astype(np.float32) - 127.5) / 127.5 if images.dtype == np.uint8 else images


def train(captioned, steps=2000, batch_size=128, learning_rate=1e-3, seed=0,
          widths=(32, 64, 128), log_every=500):
  """A Matcher trained on the real pairs of a data_lib.CaptionedImages (each step: random images,
  one random caption each)."""
  model = MatchingModel(tuple(widths))
  images = captioned.images
  h, w, c = images.shape[1:]
  key = jax.random.key(seed)
  params = jax.jit(model.init)(key, jnp.zeros((2, h, w, c)), jnp.zeros((2, 384)))["params"]
  tx = optax.adam(learning_rate)
  opt_state = tx.init(params)
  table = jnp.asarray(captioned.embeddings)
  data_images = jnp.asarray(images)
  ids = jnp.asarray(captioned.caption_ids)

  @jax.jit
  def step(params, opt_state, rng):
    rows_rng, pick_rng = jax.random.split(rng)
    rows = jax.random.randint(rows_rng, (batch_size,), 0, len(images))
    k = jax.random.randint(pick_rng, (batch_size,), 0, ids.shape[1])
    caption_ids = ids[rows, k]
    x = (data_images[rows].astype(jnp.float32) - 127.5) / 127.5

    def loss_fn(p):
      iv, tv = model.apply({"params": p}, x, table[caption_ids])
      return contrastive_loss(iv, tv, caption_ids)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  start = time.time()
  for i in range(steps):
    params, opt_state, loss = step(params, opt_state, jax.random.fold_in(key, i))
    if log_every and (i + 1) % log_every == 0:
      logging.info("matching model: step %d/%d, loss %.3f, %.1f steps/s", i + 1, steps,
                   float(loss), (i + 1) / (time.time() - start))
  return Matcher(model, params)


def cached(captioned, name, **train_kwargs):
  """`train`, or the Matcher cached in $GAN_JAX_CACHE for the same data, captions and settings."""
  key = data_lib.digest(name, json.dumps(train_kwargs, sort_keys=True), captioned.caption_ids,
                        np.asarray(captioned.label), captioned.images[::7])
  path = data_lib.cache_dir() / f"matching-{name}-{key}.npz"
  widths = tuple(train_kwargs.get("widths", (32, 64, 128)))
  model = MatchingModel(widths)
  h, w, c = captioned.images.shape[1:]
  template = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((2, h, w, c)),
                            jnp.zeros((2, 384)))["params"]
  leaves, treedef = jax.tree.flatten(template)
  stored = data_lib.load_npz(path, [f"p{i}" for i in range(len(leaves))])
  if stored is not None:
    return Matcher(model, jax.tree.unflatten(treedef, [jnp.asarray(stored[f"p{i}"])
                                                       for i in range(len(leaves))]))
  matcher = train(captioned, **train_kwargs)
  data_lib.save_npz(path, **{f"p{i}": np.asarray(v)
                             for i, v in enumerate(jax.tree.leaves(matcher.params))})
  return matcher


def r_precision(matcher, images, true_sentences, true_labels, candidate_sentences,
                candidate_labels, rng, num_candidates=100):
  """AttnGAN's R-precision (R = 1): the fraction of images whose own sentence embedding ranks
  first among itself and num_candidates - 1 sentences of other labels, drawn with `rng` (numpy).

  images (N, H, W, C); true_sentences (N, D) and true_labels (N,): each image's prompt and the class
  it asks for; candidate_sentences (M, D), candidate_labels (M,): the pool of other captions.
  """
  image_vectors = matcher.image_vectors(images)
  true_vectors = matcher.text_vectors(true_sentences)
  pool = matcher.text_vectors(candidate_sentences)
  candidate_labels = np.asarray(candidate_labels)
  hits = np.zeros(len(images), bool)
  for i in range(len(images)):
    others = np.flatnonzero(candidate_labels != true_labels[i])
    picked = rng.choice(others, num_candidates - 1, replace=False)
    scores = pool[picked] @ image_vectors[i]
    hits[i] = image_vectors[i] @ true_vectors[i] > scores.max()
  return float(hits.mean())
