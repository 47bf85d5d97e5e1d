"""ProGAN (Karras et al. 2018) on 32x32 CIFAR-10: progressive growing 4 -> 8 -> 16 -> 32 with
WGAN-GP (lambda 10) plus the drift term 0.001, one critic step per G step, minibatch standard
deviation, equalised learning rate, pixel normalisation, Adam 0.001 (0, 0.99), G average 0.999.
Sized for a GPU.

  python -m gan_jax.main --config=configs/progan_cifar10.py --workdir=/tmp/progan_cifar10

The schedule is ProGAN's: each resolution fades in over 600k images and then trains for 600k
(`progressive.fade_images` / `stable_images`); the loop compiles one program per resolution and a
run resumed inside a fade-in continues the same alpha. `--config.model.progressive=False` trains the
same networks at 32x32 from the start. Default data: the image folder at `dataset.path`
(../shared/data/cifar10-jpg/train); `:cifar10` reads TFDS. Widths: min(8192 / resolution, 256)
(ProGAN's CIFAR networks are 512 wide; scaled to our widths). The CPU-sized comparison of
progressive and fixed-resolution training is experiments/progressive_study.py (not yet run).
"""
import ml_collections

from configs import default


def get_config(dataset="image_folder"):
  config = default.get_config()
  config.dataset.name = dataset
  if dataset == "image_folder":
    config.dataset.path = default.CIFAR10_FOLDER
  config.model.name = "progan"
  config.model.latent_dim = 256
  config.model.channel_base = 8192
  config.model.channel_max = 256
  config.model.mbstd_group_size = 4
  config.model.progressive = True
  config.progressive = ml_collections.ConfigDict(
      dict(fade_images=600_000, stable_images=600_000))
  config.loss.name = "wasserstein"
  config.loss.gp_weight = 10.0
  config.loss.drift_weight = 0.001
  config.n_critic = 1
  config.g_optimizer = default.optimizer("adam", 1e-3, b1=0.0, b2=0.99, eps=1e-8)
  config.d_optimizer = default.optimizer("adam", 1e-3, b1=0.0, b2=0.99, eps=1e-8)
  config.ema.decay = 0.999
  config.batch_size = 64
  config.num_train_steps = 200_000    # 12.8M images: 4.2M to the end of the last fade-in.
  config.steps_per_call = 100
  config.log_every_steps = 1_000
  config.sample_every_steps = 5_000
  config.checkpoint_every_steps = 10_000
  config.eval_every_steps = 50_000
  return config
