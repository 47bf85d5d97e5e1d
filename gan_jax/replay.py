"""Experience replay for the discriminator (Shrivastava et al. 2017): a fixed-size, device-resident
buffer of past generated samples. Two ways to use it: `push` + `mix` (a ring of the latest fakes, a
fraction of each fake batch drawn from it) and `pool_query` (CycleGAN's image pool).

The buffer is a pytree of arrays (it lives in the train state's `extras`), so it is jitted, vmapped
and checkpointed with the rest of the state.
"""
import jax
import jax.numpy as jnp


def init(size, sample_shape, dtype=jnp.float32):
  """An empty buffer of `size` samples of `sample_shape` and their class labels."""
  return {"samples": jnp.zeros((size,) + tuple(sample_shape), dtype),
          # A replayed sample keeps the label it was generated for (conditional models).
          "labels": jnp.zeros((size,), jnp.int32),
          "count": jnp.zeros((), jnp.int32)}  # Samples ever pushed; the next slot is count % size.


def push(buffer, x, labels):
  """Writes the batch x (B, ...) and its labels (B,) over the oldest entries, so the buffer holds
  the latest `size`."""
  size = buffer["samples"].shape[0]
  idx = (buffer["count"] + jnp.arange(x.shape[0])) % size
  # When B > size, only the last `size` rows of x survive; scatter order makes that explicit.
  keep = jnp.arange(x.shape[0]) >= x.shape[0] - size
  idx = jnp.where(keep, idx, size)  # Out-of-range index: dropped by mode="drop".
  return {"samples": buffer["samples"].at[idx].set(x.astype(buffer["samples"].dtype), mode="drop"),
          "labels": buffer["labels"].at[idx].set(labels.astype(jnp.int32), mode="drop"),
          "count": buffer["count"] + x.shape[0]}


def mix(buffer, fake, labels, rng, fraction):
  """(fake, labels) with their first round(fraction * B) rows replaced by random buffer entries.

  `fraction` may be traced (a swept hyper-parameter); nothing is replaced while the buffer is empty.
  """
  b = fake.shape[0]
  filled = jnp.minimum(buffer["count"], buffer["samples"].shape[0])
  idx = jax.random.randint(rng, (b,), 0, jnp.maximum(filled, 1))
  use = (jnp.arange(b) < jnp.round(fraction * b)) & (filled > 0)
  mixed = jnp.where(use.reshape((b,) + (1,) * (fake.ndim - 1)),
                    buffer["samples"][idx].astype(fake.dtype), fake)
  return mixed, jnp.where(use, buffer["labels"][idx], labels)


def pool_query(buffer, images, rng, swap_prob=0.5):
  """CycleGAN's image pool (Zhu et al. 2017, sec. 4; the authors' `ImagePool.query`): the fakes
  each discriminator update sees, and the buffer after it. Returns (images_for_d, buffer).

  Images are taken one at a time, in batch order, as the authors' loop does. While the buffer is not
  full the image is stored and returned itself. Once full, with probability `swap_prob` (0.5 in the
  paper) it replaces a uniformly drawn stored image, which is returned in its place; otherwise it is
  returned and not stored. A later image of the same batch may thus swap out an earlier one.

  `buffer` is `init(size, image_shape)`; its labels are unused. Store the images without gradient
  (`jax.lax.stop_gradient`): the pool returns past fakes, not functions of the current G.
  """
  size = buffer["samples"].shape[0]
  if size == 0:  # The authors' pool_size=0: no pool.
    return images, buffer
  b = images.shape[0]
  swap_rng, slot_rng = jax.random.split(rng)
  swap = jax.random.uniform(swap_rng, (b,)) < swap_prob
  slot = jax.random.randint(slot_rng, (b,), 0, size)

  def one(carry, row):
    samples, count = carry
    image, swap_i, slot_i = row
    filling = count < size
    idx = jnp.where(filling, count, slot_i)
    stored = samples[idx]
    returned = jnp.where(filling | ~swap_i, image, stored)
    samples = samples.at[idx].set(jnp.where(filling | swap_i, image, stored))
    return (samples, jnp.minimum(count + 1, size)), returned  # A full pool's count stays at size.

  # A scan over a handful of rows holds no convolution: nothing to unroll on CPU.
  rows = (images.astype(buffer["samples"].dtype), swap, slot)
  (samples, count), out = jax.lax.scan(one, (buffer["samples"], buffer["count"]), rows)
  return out.astype(images.dtype), {**buffer, "samples": samples, "count": count}
