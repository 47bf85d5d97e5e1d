"""The Pix2Pix step: known values (L1 term, halved D loss, the learning-rate factor), the same
updates as the authors' step in PyTorch (experiments/torch_pix2pix.py), the ablation switches, and
that it learns a simple mapping."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import torch

from experiments import torch_pix2pix
from pix2pix_testing import random_variables
from gan_jax import state as state_lib
from gan_jax.families.pix2pix import models
from gan_jax.families.pix2pix import step as step_lib


def _hparams(**overrides):
  return {"l1_weight": 100.0, "gan_weight": 1.0, "lr_constant_steps": 100.0,
          "lr_decay_steps": 100.0, **overrides}


def _state(g, d, source, target, optimizer="adam", lr=2e-4, **hparams):
  opt = ml_collections.ConfigDict({"name": optimizer, "learning_rate": lr, "b1": 0.5})
  g_vars, d_vars = random_variables(g, source), random_variables(d, target, source, seed=1)
  return state_lib.new_state(
      nets={"g": state_lib.init_net(g_vars, state_lib.make_optimizer(opt, "g")),
            "d": state_lib.init_net(d_vars, state_lib.make_optimizer(opt, "d"))},
      hparams=_hparams(**hparams))


def _batch(n=4, size=16, seed=0):
  k1, k2 = jax.random.split(jax.random.key(seed))
  return {"source": jax.random.uniform(k1, (n, size, size, 1), minval=-1, maxval=1),
          "target": jax.random.uniform(k2, (n, size, size, 2), minval=-1, maxval=1)}


def _nets(norm="batch", dropout_blocks=0):
  """Tiny nets; dropout off unless a test is about it (its random draws dominate compile times)."""
  return (models.UNetGenerator(out_channels=2, width=4, norm=norm, dropout_blocks=dropout_blocks),
          models.PatchDiscriminator(width=4, n_layers=1, norm=norm))


def test_lr_factor_is_constant_then_linear():
  factors = [float(step_lib.lr_factor(s, 3, 4)) for s in range(9)]
  np.testing.assert_allclose(factors, [1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0, 0], atol=1e-6)


def test_l1_term_and_halved_d_loss_have_their_known_values():
  g, d = _nets(dropout_blocks=2)  # The step's key is dropout's.
  batch = _batch()
  state = _state(g, d, batch["source"], batch["target"])
  rng = jax.random.key(7)
  _, metrics = jax.jit(step_lib.make_step(step_lib.Options(), g, d))(state, batch, rng)
  # Recompute from the initial networks: G with the step's dropout key, D on fake then real.
  gn, dn = state.nets["g"], state.nets["d"]
  fake, _ = g.apply(gn.variables(), batch["source"], train=True, rngs={"dropout": rng},
                    mutable=["batch_stats"])
  fake_logits, _ = d.apply(dn.variables(), fake, batch["source"], train=True,
                           mutable=["batch_stats"])
  real_logits, _ = d.apply(dn.variables(), batch["target"], batch["source"], train=True,
                           mutable=["batch_stats"])
  softplus = lambda v: np.logaddexp(0.0, np.asarray(v, np.float64))
  d_loss = 0.5 * (softplus(-real_logits).mean() + softplus(fake_logits).mean())
  np.testing.assert_allclose(metrics["d_loss"], d_loss, rtol=1e-5)
  np.testing.assert_allclose(metrics["g_l1"], np.abs(fake - batch["target"]).mean(), rtol=1e-5)
  np.testing.assert_allclose(metrics["g_loss"], 100 * metrics["g_l1"] + metrics["g_gan"],
                             rtol=1e-5)
  assert float(metrics["lr_factor"]) == 1.0


def _torch_state_dict(module_cls, args, variables):
  module = module_cls(*args)
  torch_pix2pix.load_flax_weights(module, variables)
  return module.state_dict()


@pytest.mark.usefixtures("production_compiler")  # Parity with the reference.
@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.05), ("adam", 2e-4)])
def test_two_steps_match_the_authors_step_in_pytorch(optimizer, lr):
  """SGD keeps the losses' scale in the updates (the halved D loss, lambda); Adam is theirs."""
  g, d = _nets()  # Without dropout: its draws differ between frameworks.
  batches = [_batch(seed=0), _batch(seed=1)]
  state = _state(g, d, batches[0]["source"], batches[0]["target"], optimizer, lr)
  tg = torch_pix2pix.UNet(1, 2, 16, 4, "batch", 0)
  td = torch_pix2pix.PatchGAN(3, 4, 1, "batch")
  torch_pix2pix.load_flax_weights(tg, state.nets["g"].variables())
  torch_pix2pix.load_flax_weights(td, state.nets["d"].variables())
  torch_step = torch_pix2pix.make_train_step(tg, td, 100.0, lr, optimizer)
  step = jax.jit(step_lib.make_step(step_lib.Options(), g, d))
  to_torch = lambda x: torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())
  for batch in batches:
    state, metrics = step(state, batch, jax.random.key(0))
    theirs = torch_step(to_torch(batch["source"]), to_torch(batch["target"]))
    np.testing.assert_allclose(metrics["d_loss"], float(theirs["d_loss"]), rtol=1e-4)
    np.testing.assert_allclose(metrics["g_loss"], float(theirs["g_loss"]), rtol=1e-4)
  # Batch-norm running statistics differ by design: torch's running variance averages the
  # unbiased batch variance (flax's the biased one), and its D also updates them in G's pass.
  skip = {"g": ("num_batches_tracked", "running_var"),
          "d": ("num_batches_tracked", "running_var", "running_mean")}
  for which, module, args in (("g", tg, (1, 2, 16, 4, "batch", 0)),
                              ("d", td, (3, 4, 1, "batch"))):
    mine = _torch_state_dict(type(module), args, state.nets[which].variables())
    for name, value in module.state_dict().items():
      if name.endswith(skip[which]):
        continue
      np.testing.assert_allclose(mine[name].numpy(), value.numpy(), atol=2e-5, err_msg=name)


def test_l1_only_leaves_d_untouched_and_zero_lr_factor_freezes_everything():
  g, d = _nets()
  batch = _batch()
  state = _state(g, d, batch["source"], batch["target"])
  l1_only = jax.jit(step_lib.make_step(step_lib.Options(use_gan=False), g, d))
  new, metrics = l1_only(state, batch, jax.random.key(0))
  assert "d_loss" not in metrics and "g_gan" not in metrics
  jax.tree.map(np.testing.assert_array_equal, new.nets["d"].params, state.nets["d"].params)
  assert not np.allclose(new.nets["g"].params["up0"]["kernel"],
                         state.nets["g"].params["up0"]["kernel"])
  # lr_factor(0) = 0 with no constant steps and no decay steps: the updates are scaled to 0.
  frozen = state.replace(hparams=_hparams(lr_constant_steps=0.0, lr_decay_steps=0.0))
  new, metrics = l1_only(frozen, batch, jax.random.key(0))
  assert float(metrics["lr_factor"]) == 0.0
  jax.tree.map(np.testing.assert_array_equal, new.params(), frozen.params())


def test_the_average_of_g_follows_its_weights_and_statistics_from_the_start_step():
  """ema <- decay * ema + (1 - decay) * G's new variables, batch-norm statistics included; a copy
  of G before `ema_start_step`."""
  g, d = _nets()
  batch = _batch()
  state = _state(g, d, batch["source"], batch["target"], ema_decay=0.9)
  state = state.replace(ema={"g": state.nets["g"].variables()})
  for start, decay in ((1, 0.0), (0, 0.9)):  # Before its start, then after it.
    options = step_lib.Options(ema_start_step=start)
    new, _ = jax.jit(step_lib.make_step(options, g, d))(state, batch, jax.random.key(0))
    expected = jax.tree.map(lambda old, now: decay * old + (1 - decay) * now,
                            state.ema["g"], new.nets["g"].variables())
    assert set(new.ema["g"]) == {"params", "batch_stats"}
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 new.ema["g"], expected)
  # G moved, so an average that is not a copy differs from it.
  assert not np.allclose(new.ema["g"]["params"]["up0"]["kernel"],
                         new.nets["g"].params["up0"]["kernel"])
  without, _ = jax.jit(step_lib.make_step(step_lib.Options(), g, d))(state.replace(ema={}), batch,
                                                                     jax.random.key(0))
  assert without.ema == {}


def test_unconditional_d_scores_outputs_alone():
  g, d = _nets(norm="instance")
  batch = _batch()
  state = _state(g, d, batch["source"], batch["target"])
  d_vars = random_variables(d, batch["target"])  # 2 input channels, not 3.
  state = state.replace(nets={**state.nets, "d": state_lib.init_net(d_vars, state.nets["d"].tx)})
  options = step_lib.Options(loss="least_squares", conditional_d=False)
  _, metrics = jax.jit(step_lib.make_step(options, g, d))(state, batch, jax.random.key(0))
  assert np.isfinite(metrics["d_loss"]) and np.isfinite(metrics["g_gan"])


def test_learns_a_simple_mapping():
  """Colour inversion of smooth random images: held-out L1 falls far below its start."""
  def pairs(seed, n):
    low = jax.random.uniform(jax.random.key(seed), (n, 4, 4, 1), minval=-1, maxval=1)
    source = jax.image.resize(low, (n, 16, 16, 1), "bilinear")
    return {"source": source, "target": jnp.concatenate([-source, source], -1)}
  g, d = _nets(norm="instance")
  state = _state(g, d, *pairs(0, 2).values(), lr=2e-3, lr_constant_steps=1e9)
  step = jax.jit(step_lib.make_step(step_lib.Options(), g, d))
  test = pairs(99, 32)
  error = lambda s: float(np.abs(g.apply(s.nets["g"].variables(), test["source"], train=False)
                                 - test["target"]).mean())
  before = error(state)
  for i in range(150):
    state, _ = step(state, pairs(i + 1, 8), jax.random.key(i))
  assert error(state) < 0.15 * before, (before, error(state))
