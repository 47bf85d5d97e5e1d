"""CycleGAN on digits (Zhu et al. 2017), sized for a 2-core CPU: unpaired translation whose labels
are kept aside to measure what the translation preserves.

    python -m gan_jax.main --config=configs/cyclegan_digits.py --workdir=/tmp/cyclegan_digits
    python -m gan_jax.main --config=configs/cyclegan_digits.py:mnist2mnist_on_cifar --workdir=...

Tasks (the part after ':'): digits2mnist (default: scikit-learn's 8x8 digits framed as MNIST's <->
MNIST) and mnist2mnist_on_cifar (MNIST <-> MNIST-M's recipe over CIFAR-10 patches). Both need
../shared/data (MNIST's IDX files; CIFAR-10 for the second).

What to expect: samples_*.png shows held-out digits of both directions as rows of input,
translation and reconstruction; the final evaluation prints label_acc_a2b / label_acc_b2a (a
classifier trained on the target domain's labelled images classifies the translations of held-out
source digits), the classifier's accuracy on real target digits (real_acc_*), the cycle error and
FID/KID against the target domain (with eval.fid=True). The classifiers of grey domains train with
writer augmentation (eval.classifier_augment) so that they read other writers' digits. Measured
(experiments/results/cyclegan.md, 2 CPU cores, other jobs beside part of each run): digits2mnist's
3,000 steps take 850-1,050 s; labels kept 75.6 % A->B and 66.8 % B->A (real target digits
99.2 % / 98.8 %; the source digits untranslated 95.2 % / 86.6 %), with 23 % / 32 % of the
translations hiding a label that the reconstruction recovers; FID 51.7 / 30.9 (real held-out
digits: 24.8 / 15.9). mnist2mnist_on_cifar (926-1,185 s): 62.2 % / 29.4 % (untranslated 93.6 % /
10.6 %); its B -> A -> B cycle fails at this size. With model.g_downsamplings=0 (residual blocks at
full resolution: appearance changes, shape kept): 84.4 % / 80.2 % and 91.0 % / 56.2 % (at
15,000 steps mnist2mnist_on_cifar keeps 93.4 % / 74.4 %), the best figures measured; the config
keeps the paper's 2. Issue 15's 90 % both ways is not reached:
held-out MNIST rendered the way the 8x8 digits were made scores 83-85 % on domain A's classifier
(experiments/cyclegan_style_ceiling.py), so B->A's 90 % needs the handwriting redrawn. The plain
classifiers (eval.classifier_augment=False) give the shipped config 75.2 % / 61.8 %.

The paper's networks at small scale: a ResNet generator of width 16 with 3 residual blocks at
28 px, 2-layer PatchGANs; LSGAN, cycle weight 10, identity 0.5, pool 50, Adam 2e-4 / 0.5 with the
learning rate decaying linearly over the second half; batch 8 (the paper: 1).
"""
import ml_collections

from configs import default
from gan_jax.families.cyclegan import data as cyclegan_data


def get_config(task="digits2mnist"):
  config = default.base()
  config.family = "cyclegan"
  config.seed = 0
  config.num_train_steps = 3_000
  config.batch_size = 8
  config.log_every_steps = 100
  config.sample_every_steps = 500
  config.checkpoint_every_steps = 1_000
  config.eval_every_steps = 3_000

  config.dataset = ml_collections.ConfigDict(dict(
      name=task, image_size=28, heldout=500,
      a=cyclegan_data.domain_fields(), b=cyclegan_data.domain_fields()))
  config.model = ml_collections.ConfigDict(dict(
      name="resnet", g_width=16, g_blocks=3, g_downsamplings=2,
      d_width=32, d_layers=2, d_norm="instance"))
  config.loss = ml_collections.ConfigDict(dict(
      name="least_squares", cycle="both", identity=True, cycle_weight_a=10.0, cycle_weight_b=10.0,
      identity_weight=0.5, d_loss_weight=0.5, cycle_noise_std=0.0))
  config.pool_size = 50
  config.pool_swap_prob = 0.5
  config.decay_steps = -1  # The learning rate decays linearly over the last steps; -1: half.
  config.g_optimizer = default.optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  config.d_optimizer = default.optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  # Label preservation (a classifier per domain, trained once and cached) and the cycle error at
  # the end; FID/KID with --config.eval.fid=True (Inception on a 2-core CPU: ~3 min per evaluation
  # of 2 x 250 translations, and ~6 min once per target domain for 1,000 reference images).
  # classifier_augment: grey domains' classifiers train on slanted, stretched, re-penned digits, so
  # that they read other writers (False: plain, as before stop 29).
  config.eval = ml_collections.ConfigDict(dict(classifier=True, classifier_augment=True, fid=False))
  config.fid.update(batch_size=250, num_samples=250, ref_num_samples=1000, compute_is=False)
  return config
