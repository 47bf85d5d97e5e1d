"""Mode-collapse benchmark on 2D mixtures (PacGAN protocol, Lin et al. 2018), one config per variant.

  python -m gan_jax.main --config=configs/mode_collapse.py:grid25,pack4 --workdir=/tmp/mc
  python -m gan_jax.sample --workdir=/tmp/mc --num_samples=2500 --output=/tmp/mc.npz

Argument `DATASET,VARIANT`: DATASET ring8 | grid25; VARIANT one of VARIANTS. Base protocol, as
PacGAN's code (github.com/fjxmlzn/PacGAN, synthetic_data_experiments) sets it: 100k fixed training
points, G a 4 x 400 MLP on z ~ N(0, I_2) with batch norm and ReLU after each hidden layer, D three
maxout layers of 200 units x 5 pieces, Adam(1e-4, b1 0.8), batch 100, 400 epochs (400,000 steps);
the in-loop evaluator scores 2,500 samples (modes captured, % high quality, reverse KL;
`gan_jax.families.latent.mode_metrics`). `experiments/mode_collapse.py` trains ten seeds of every variant together
and writes experiments/results/mode_collapse.md. 400k steps take hours on a CPU: pass
`--config.num_train_steps=N` for a shorter run.
"""
from configs import default

VARIANTS = ("vanilla", "nonsat", "pack4", "pack2", "minibatch", "instance_noise", "replay",
            "unrolled", "wgan_gp")


def get_config(arg="grid25,nonsat"):
  dataset, _, variant = arg.partition(",")
  variant = variant or "nonsat"
  if variant not in VARIANTS:
    raise ValueError(f"variant {variant!r} is unknown; allowed: {', '.join(VARIANTS)}")
  config = default.get_config()
  config.dataset.name = dataset
  config.dataset.num_examples = 100_000
  config.model.name = "mlp"
  config.model.latent_dim = 2
  config.model.g_hidden = (400, 400, 400, 400)
  config.model.g_activation = "relu"
  config.model.g_batch_norm = True
  config.model.d_hidden = (200, 200, 200)
  config.model.d_activation = "maxout"
  config.model.maxout_pieces = 5
  config.loss.name = "non_saturating"
  config.batch_size = 100
  config.num_train_steps = 400_000  # PacGAN: 400 epochs of the 100k points.
  config.g_optimizer = default.optimizer("adam", 1e-4, b1=0.8, b2=0.999)
  config.d_optimizer = default.optimizer("adam", 1e-4, b1=0.8, b2=0.999)
  config.steps_per_call = 100
  config.log_every_steps = 1_000
  config.sample_every_steps = 20_000
  config.checkpoint_every_steps = 20_000
  config.eval_every_steps = 20_000
  config.num_grid_samples = 2_500

  if variant == "vanilla":
    config.loss.name = "minimax"
  elif variant == "wgan_gp":
    config.loss.name = "wasserstein"
    config.loss.gp_weight = 10.0
    config.n_critic = 5
    config.g_optimizer = default.optimizer("adam", 1e-4, b1=0.5, b2=0.9)
    config.d_optimizer = default.optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  elif variant == "unrolled":
    config.unrolled_steps = 5
  elif variant == "minibatch":
    config.model.minibatch_kernels = 20
    config.model.minibatch_kernel_dim = 5
  elif variant == "instance_noise":
    config.loss.instance_noise = 0.1
    config.loss.instance_noise_steps = config.num_train_steps // 2
  elif variant == "replay":
    config.replay.size = 10_000
    config.replay.fraction = 0.5
  elif variant.startswith("pack"):
    config.model.pack = int(variant[len("pack"):])
    config.batch_size = 100 * config.model.pack  # PacGAN: 100 decisions of `pack` samples each.
  return config
