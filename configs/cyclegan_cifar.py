"""CycleGAN between two CIFAR-10 classes (Zhu et al. 2017), sized for a GPU.

    python -m gan_jax.main --config=configs/cyclegan_cifar.py --workdir=/tmp/cyclegan_horse2deer
    python -m gan_jax.main --config=configs/cyclegan_cifar.py:automobile2truck --workdir=...

Tasks (the part after ':'): horse2deer (default) and automobile2truck, each class's 5,000 images of
the CIFAR-10 folder (../shared/data/cifar10-jpg/train; another copy: --config.dataset.a.path and
--config.dataset.b.path), 500 of each held out. The paper's 128 px setting scaled to 32 px: ResNet
generators of width 64 with 6 residual blocks, 2-layer PatchGANs (34 px receptive field), LSGAN,
cycle weight 10, identity 0.5, pool 50, Adam 2e-4 / 0.5, constant then linearly decaying to 0 over
the second half; batch 8 (the paper: 1) for ~90 epochs of the larger domain.

What to expect: samples_*.png rows of held-out horses | as deer | back as horses (and deer | as
horses | back); an in-loop FID/KID of the translations against the target class every 10,000
steps (the class pairs have no labels to preserve: a horse should stop being one). On a 2-core
CPU a step takes ~1 s; use configs/cyclegan_digits.py there.
"""
import ml_collections

from configs import default
from gan_jax.families.cyclegan import data as cyclegan_data
from gan_jax.errors import UserError

TASKS = {"horse2deer": "cifar_horse2deer", "automobile2truck": "cifar_automobile2truck"}


def get_config(task="horse2deer"):
  if task not in TASKS:
    raise UserError(f"configs/cyclegan_cifar.py:{task}: unknown task; allowed: {', '.join(TASKS)}")
  config = default.base()
  config.family = "cyclegan"
  config.seed = 0
  config.num_train_steps = 50_000
  config.batch_size = 8
  config.log_every_steps = 500
  config.sample_every_steps = 5_000
  config.checkpoint_every_steps = 5_000
  config.eval_every_steps = 10_000

  config.dataset = ml_collections.ConfigDict(dict(
      name=TASKS[task], image_size=32, heldout=500,
      a=cyclegan_data.domain_fields(), b=cyclegan_data.domain_fields()))
  config.model = ml_collections.ConfigDict(dict(
      name="resnet", g_width=64, g_blocks=6, g_downsamplings=2,
      d_width=64, d_layers=2, d_norm="instance"))
  config.loss = ml_collections.ConfigDict(dict(
      name="least_squares", cycle="both", identity=True, cycle_weight_a=10.0, cycle_weight_b=10.0,
      identity_weight=0.5, d_loss_weight=0.5, cycle_noise_std=0.0))
  config.pool_size = 50
  config.pool_swap_prob = 0.5
  config.decay_steps = -1  # The learning rate decays linearly over the last steps; -1: half.
  config.g_optimizer = default.optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = default.optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  config.eval = ml_collections.ConfigDict(dict(classifier=False, fid=True))
  config.fid.update(batch_size=250, num_samples=500, ref_num_samples=0, compute_is=False)
  return config
