"""Mode coverage of 2D mixtures, as in PacGAN (Lin et al. 2018) / VEEGAN / unrolled GAN.

A sample is high quality (HQ) when it lies within `num_std` standard deviations of its nearest mode; a
mode is captured when at least one HQ sample is nearest to it; the reverse KL is KL(p || uniform)
between the HQ samples' histogram over modes and the uniform distribution. Pure jnp, so the metrics
vmap over runs and jit inside a training loop.
"""
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import key_streams
from gan_jax.families.latent import step as step_lib


def mode_coverage(samples, modes, std, num_std=3.0):
  """{'modes': captured modes, 'hq': HQ fraction, 'reverse_kl': KL(HQ histogram || uniform)}.

  `samples` (N, 2), `modes` (M, 2). With no HQ sample the histogram is undefined and the reverse KL
  is reported as log M (the value of collapsing onto one mode).
  """
  samples = jnp.asarray(samples, jnp.float32)
  modes = jnp.asarray(modes, jnp.float32)
  num_modes = modes.shape[0]
  d2 = jnp.sum(jnp.square(samples[:, None, :] - modes[None]), -1)
  nearest = jnp.argmin(d2, axis=1)
  hq = jnp.sqrt(jnp.min(d2, axis=1)) <= num_std * std
  counts = jnp.zeros((num_modes,), jnp.float32).at[nearest].add(hq.astype(jnp.float32))
  total = counts.sum()
  p = counts / jnp.maximum(total, 1.0)
  kl = jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0) * num_modes), 0.0))
  return {"modes": jnp.sum(counts > 0).astype(jnp.float32),
          "hq": hq.mean(),
          "reverse_kl": jnp.where(total > 0, kl, jnp.log(float(num_modes)))}


def make_in_loop_evaluator(config, info, generator):
  """evaluate(state, step) -> {'modes', 'hq_percent', 'reverse_kl'} (python floats) for 2D data.

  Scores `config.mode_eval_samples` (default 2,500, PacGAN's protocol) samples of the EMA generator
  when EMA is on, from latents fixed for the whole run.
  """
  sample = step_lib.make_sample_fn(generator)
  n = config.get("mode_eval_samples", 2_500)
  z, labels = step_lib.latent_and_labels(config, generator.num_classes,
                                         key_streams.mode_eval_key(config.seed), n)
  modes, std = np.asarray(info.modes), float(info.mode_std)

  @jax.jit
  def scores(state):
    return mode_coverage(sample(state, z, labels), modes, std)

  def evaluate(state, step):
    del step  # The latents are fixed, so runs are comparable across steps.
    out = jax.device_get(scores(state))
    return {"modes": float(out["modes"]), "hq_percent": 100.0 * float(out["hq"]),
            "reverse_kl": float(out["reverse_kl"])}
  return evaluate
