"""Progressive growing: the schedule, and the fade-in of ProGAN's and StyleGAN's networks (at
alpha = 0 the grown network is the smaller one, resampled; at alpha = 1 the new block alone)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.families.latent import progan
from gan_jax import progressive
from gan_jax import resample
from gan_jax.errors import UserError
from gan_jax.families.stylegan import models

SIZE = dict(resolution=8, channel_base=32, channel_max=8)   # Stages 4, 8.
NUM_STAGES = 2


def test_schedule_stages_and_alpha():
  # batch 10: stable 100 images = 10 steps, fade 50 images = 5 steps.
  schedule = progressive.make_schedule(3, 10, fade_images=50, stable_images=100,
                                       num_train_steps=40)
  assert schedule.starts == (0, 10, 25)
  assert [schedule.stage_at(s) for s in (0, 9, 10, 24, 25, 39)] == [0, 0, 1, 1, 2, 2]
  np.testing.assert_allclose([schedule.alpha(1, s) for s in (10, 12, 15, 20)],
                             [0.0, 0.4, 1.0, 1.0], rtol=1e-6)
  assert float(schedule.alpha(0, 3)) == 1.0
  alpha = jax.jit(lambda s: schedule.alpha(2, s))  # A function of a traced step.
  np.testing.assert_allclose(alpha(jnp.int32(27)), 0.4, rtol=1e-6)


def test_schedule_that_does_not_fit_the_run_is_a_user_error():
  with pytest.raises(UserError, match="needs 30 steps to fade in the last resolution; "
                                      "num_train_steps=29"):
    progressive.make_schedule(3, 10, fade_images=50, stable_images=100, num_train_steps=29)
  progressive.make_schedule(3, 10, fade_images=50, stable_images=100, num_train_steps=30)


def _init(module, example):
  return jax.jit(lambda k: progressive.init_all_stages(
      module, k, example, num_stages=NUM_STAGES))(jax.random.key(0))


@pytest.fixture(scope="module")
def progan_nets():
  g = progan.ProGANGenerator(channels=3, **SIZE)
  d = progan.ProGANDiscriminator(**SIZE)
  return g, _init(g, jnp.zeros((4, 8))), d, _init(d, jnp.zeros((4, 8, 8, 3)))


@pytest.fixture(scope="module")
def stylegan_nets():
  g = models.Generator(channels=3, z_dim=8, w_dim=8, **SIZE)
  d = models.Discriminator(**SIZE)
  gv = jax.jit(lambda k: progressive.init_all_stages(
      g, k, jnp.zeros((4, 8)), train=False, num_stages=NUM_STAGES))(jax.random.key(0))
  return g, gv, d, _init(d, jnp.zeros((4, 8, 8, 3)))


def test_every_stage_has_its_parameters_from_the_start(progan_nets, stylegan_nets):
  _, pg, _, pd = progan_nets
  assert {f"torgb{r}" for r in (4, 8)} <= set(pg["params"])
  assert {f"fromrgb{r}" for r in (4, 8)} <= set(pd["params"])
  _, _, _, sd = stylegan_nets
  assert {f"fromrgb{r}" for r in (4, 8)} <= set(sd["params"])


@pytest.mark.parametrize("family", ["progan", "stylegan"])
def test_generator_at_alpha_0_is_the_smaller_one_upsampled(family, progan_nets, stylegan_nets):
  stage = 1
  g, gv, _, _ = progan_nets if family == "progan" else stylegan_nets
  upsample = resample.upsample_nearest if family == "progan" else resample.upsample2d
  kwargs = {} if family == "progan" else dict(train=False)
  run = jax.jit(lambda z, alpha, stage: g.apply(gv, z, stage=stage, alpha=alpha, **kwargs),
                static_argnums=2)
  z = jax.random.normal(jax.random.key(1), (4, 8))
  grown = run(z, jnp.float32(0.0), stage)
  smaller = run(z, jnp.float32(1.0), stage - 1)
  assert grown.shape == (4, 4 * 2**stage, 4 * 2**stage, 3)
  np.testing.assert_allclose(grown, upsample(smaller), rtol=1e-5, atol=1e-5)
  # Half way: the mean of the two ends.
  ends = run(z, jnp.float32(1.0), stage)
  np.testing.assert_allclose(run(z, jnp.float32(0.5), stage), (grown + ends) / 2, rtol=1e-4,
                             atol=1e-5)


def _perturb(variables, name):
  """`variables` with the parameters under `name` (top level or one level down) replaced."""
  params = dict(variables["params"])
  owner = params if name in params else params["synthesis"]
  owner = owner if owner is params else dict(owner)
  owner[name] = jax.tree.map(lambda p: p + 1.0, owner[name])
  if owner is not params:
    params["synthesis"] = owner
  return {**variables, "params": params}


@pytest.mark.usefixtures("production_compiler")  # Two programs: XLA's fusions set the rounding.
def test_progan_generator_at_alpha_1_is_the_new_block_alone(progan_nets):
  g, gv, _, _ = progan_nets
  z = jax.random.normal(jax.random.key(1), (4, 8))
  run = jax.jit(lambda v: g.apply(v, z, stage=1, alpha=jnp.float32(1.0)))
  out = run(gv)
  # The smaller network's toRGB no longer contributes; the new block's does.
  # (Up to rounding: alpha is traced, and 1 * (new - old) + old rounds.)
  np.testing.assert_allclose(run(_perturb(gv, "torgb4")), out, rtol=1e-5, atol=1e-6)
  assert not np.allclose(run(_perturb(gv, "torgb8")), out)
  # And it is the fixed-resolution network.
  np.testing.assert_allclose(g.apply(gv, z), out, rtol=1e-5, atol=1e-6)


def test_stylegan_generator_at_alpha_1_is_the_full_network(stylegan_nets):
  g, gv, _, _ = stylegan_nets
  z = jax.random.normal(jax.random.key(1), (4, 8))
  out = g.apply(gv, z, train=False, stage=1, alpha=jnp.float32(1.0))
  np.testing.assert_allclose(out, g.apply(gv, z, train=False), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["progan", "stylegan"])
def test_discriminator_fade_in(family, progan_nets, stylegan_nets):
  stage = 1
  _, _, d, dv = progan_nets if family == "progan" else stylegan_nets
  downsample = resample.avg_pool if family == "progan" else resample.downsample2d
  run = jax.jit(lambda v, x, alpha, stage: d.apply(v, x, stage=stage, alpha=alpha),
                static_argnums=3)
  res = 4 * 2**stage
  x = jax.random.normal(jax.random.key(2), (4, res, res, 3))
  # alpha = 0: the smaller D on the downsampled input.
  np.testing.assert_allclose(run(dv, x, jnp.float32(0.0), stage),
                             run(dv, downsample(x), jnp.float32(1.0), stage - 1), rtol=1e-4,
                             atol=1e-5)
  # alpha = 1: the new block alone; the smaller D's fromRGB is not used.
  out = run(dv, x, jnp.float32(1.0), stage)
  np.testing.assert_allclose(run(_perturb(dv, f"fromrgb{res // 2}"), x, jnp.float32(1.0), stage),
                             out, rtol=1e-5, atol=1e-6)
  assert not np.allclose(run(_perturb(dv, f"fromrgb{res}"), x, jnp.float32(1.0), stage), out)


def test_real_images_fade_like_the_generator():
  x = jax.random.normal(jax.random.key(0), (2, 16, 16, 3))
  at8 = resample.avg_pool(x)
  np.testing.assert_allclose(progressive.real_images(x, 1, 1.0, resample.upsample_nearest),
                             at8, rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(progressive.real_images(x, 1, 0.0, resample.upsample_nearest),
                             resample.upsample_nearest(resample.avg_pool(at8)), rtol=1e-6,
                             atol=1e-7)
  np.testing.assert_allclose(progressive.real_images(x, 2, 1.0, resample.upsample2d), x,
                             rtol=1e-6, atol=1e-6)
