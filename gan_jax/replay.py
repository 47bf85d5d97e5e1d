"""Experience replay for the discriminator (Shrivastava et al. 2017): a fixed-size, device-resident
ring buffer of past generated samples, a fraction of each fake batch drawn from it.

The buffer is a pytree of arrays (it lives in `GANState.extras["replay"]`), so it is jitted, vmapped
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
