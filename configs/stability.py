"""The latent family's stability switches (gan_jax/families/latent: step.py, models.py), off.

`add_defaults(config)` adds every switch a config lacks, so command-line overrides such as
`--config.loss.r1_gamma=10` work (ml_collections refuses unknown keys). See docs/variants.md.
"""
import ml_collections

LOSS = dict(
    label_noise=0.0,           # Targets move towards the other class by label_noise * U(0, 1).
    label_flip_prob=0.0,       # Probability of swapping an example's real/fake target.
    r1_gamma=0.0,              # R1 penalty gamma (0 = off): + gamma / 2 * E||grad D(real)||^2.
    dragan_weight=0.0,         # DRAGAN penalty weight (0 = off).
    instance_noise=0.0,        # Std of Gaussian noise on D's inputs (0 = off) ...
    instance_noise_steps=0,    # ... annealed linearly to 0 over this many steps (0 = constant).
)
MODEL = dict(
    spectral_norm=False,       # SN on every D layer (u, sigma in the "spectral_norm" collection).
    g_spectral_norm=False,     # SN in G too (mlp, sngan32).
    d_conditioning="concat",   # 'concat' (one-hot input) or 'projection' (Miyato & Koyama).
    pack=1,                    # PacGAN: D judges `pack` samples jointly (mlp).
    minibatch_kernels=0,       # Minibatch discrimination kernels (0 = off; mlp).
    minibatch_kernel_dim=5,
    minibatch_std=False,       # ProGAN minibatch standard deviation feature (mlp).
    g_activation="leaky_relu",  # mlp G: 'leaky_relu' or 'relu'.
    g_batch_norm=False,        # mlp G: BN after each hidden Dense (PacGAN's toy generator).
    d_activation="leaky_relu",  # mlp D: 'leaky_relu', 'relu' or 'maxout'.
    maxout_pieces=5,
)


def add_defaults(config):
  """Adds the stability switches missing from `config` (in place); returns it."""
  for section, values in (("loss", LOSS), ("model", MODEL)):
    for key, value in values.items():
      if key not in config[section]:
        config[section][key] = value
  if "replay" not in config:
    # size > 0 keeps a ring buffer of that many past fakes; `fraction` of each D fake batch is
    # drawn from it.
    config.replay = ml_collections.ConfigDict(dict(size=0, fraction=0.0))
  if "unrolled_steps" not in config:
    config.unrolled_steps = 0  # Unrolled GAN: G's loss against D updated k steps ahead.
  if "mode_eval_samples" not in config:
    config.mode_eval_samples = 2_500  # 2D data: samples scored by families/latent/mode_metrics.
  return config
