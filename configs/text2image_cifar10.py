"""Text-to-image on CIFAR-10 (DF-GAN-lite, captions from class, colour and background): GPU-sized.

  python -m gan_jax.main --config=configs/text2image_cifar10.py --workdir=/tmp/t2i_cifar10
  python -m gan_jax.generate --workdir=/tmp/t2i_cifar10 --prompt "a red car on a dark background" \
      --prompt "a blue car" --num=10 --grid=out.png

Captions ("a red car on a dark background", "a photo of an automobile", "a blue ship") are written
from each image's class and the measured colour of its centre and brightness of its border (five
per image; gan_jax/families/text2image/captions.py). Default data: the CIFAR-10 training set as an
image folder (`../shared/data/cifar10-jpg/train`; `dataset.path` for another copy).

DF-GAN's settings: the matching-aware gradient penalty (k = 2, p = 6), Adam (0.0, 0.9) with D's
learning rate 4x G's, hinge loss, G EMA. 100,000 steps at batch 64; on 2 CPU cores it runs but
does not finish in useful time (a GPU config).
"""
from configs import default
from configs import text2image_digits


def get_config():
  config = text2image_digits.get_config()
  config.dataset.name = "image_folder"
  config.dataset.path = default.CIFAR10_FOLDER
  config.dataset.captions = "cifar10"
  config.model.latent_dim = 100
  config.model.g_widths = (256, 256, 128, 64)  # 4x4 -> 8x8 -> 16x16 -> 32x32.
  config.model.d_widths = (64, 128, 256, 256)  # 32x32 -> 16x16 -> 8x8 -> 4x4.
  config.loss.ma_gp_weight = 2.0
  config.loss.mode_seeking_weight = 0.0  # DF-GAN has none; the digits' 0.03 is untried here.
  config.g_optimizer = default.optimizer("adam", 1e-4, b1=0.0, b2=0.9)
  config.d_optimizer = default.optimizer("adam", 4e-4, b1=0.0, b2=0.9)
  config.ema.decay = 0.999
  config.ema.start_step = 5_000
  config.num_train_steps = 100_000
  config.steps_per_call = 100
  config.sample_every_steps = 5_000
  config.checkpoint_every_steps = 5_000
  config.eval_every_steps = 10_000
  config.fid.num_samples = 10_000
  config.sample_prompts = ("an airplane", "a car", "a bird", "a cat", "a deer", "a dog", "a frog",
                           "a horse", "a ship", "a truck", "a red car", "a blue car",
                           "a white car on a dark background", "a green frog",
                           "a ship on a bright background", "an aircraft")
  return config
