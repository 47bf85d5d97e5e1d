"""CycleGAN's parts: the ResNet generator against a PyTorch build of the authors' architecture,
the image pool's semantics (exact and statistical), the cycle/identity/adversarial losses on known
values, the learning-rate factor, and the step (it trains, reads only 'a' and 'b', and makes the
updates of the authors' PyTorch step)."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import torch

from gan_jax import replay
from gan_jax.errors import UserError
from gan_jax.families.cyclegan import models
from gan_jax.families.cyclegan import step as step_lib
from gan_jax.families.pix2pix.models import PatchDiscriminator


# ------------------------------------------------------------------------------------- generator --


def _torch_resnet_generator(c_in, c_out, width, blocks, downsamplings=2):
  """The authors' ResnetGenerator (instance norm, no dropout, reflection padding), written out;
  their n_downsampling (fixed at 2 in their code) as an argument."""
  tnn = torch.nn
  norm = lambda c: tnn.InstanceNorm2d(c, affine=False, track_running_stats=False)

  class Block(tnn.Module):
    def __init__(self, c):
      super().__init__()
      self.body = tnn.Sequential(tnn.ReflectionPad2d(1), tnn.Conv2d(c, c, 3), norm(c), tnn.ReLU(),
                                 tnn.ReflectionPad2d(1), tnn.Conv2d(c, c, 3), norm(c))

    def forward(self, x):
      return x + self.body(x)

  layers = [tnn.ReflectionPad2d(3), tnn.Conv2d(c_in, width, 7), norm(width), tnn.ReLU()]
  for i in range(downsamplings):
    m = 2**i
    layers += [tnn.Conv2d(width * m, width * m * 2, 3, 2, 1), norm(width * m * 2), tnn.ReLU()]
  layers += [Block(width * 2**downsamplings) for _ in range(blocks)]
  for i in range(downsamplings):
    m = 2**(downsamplings - i)
    layers += [tnn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1),
               norm(width * m // 2), tnn.ReLU()]
  layers += [tnn.ReflectionPad2d(3), tnn.Conv2d(width, c_out, 7), tnn.Tanh()]
  return tnn.Sequential(*layers)


def _torch_weights_in_flax_order(net):
  """The torch network's conv weights, in module order, as flax kernels and biases."""
  out = []
  for m in net.modules():
    if isinstance(m, torch.nn.ConvTranspose2d):  # (in, out, kh, kw) -> (kh, kw, out, in).
      out.append((m.weight.detach().numpy().transpose(2, 3, 1, 0), m.bias.detach().numpy()))
    elif isinstance(m, torch.nn.Conv2d):  # (out, in, kh, kw) -> (kh, kw, in, out).
      out.append((m.weight.detach().numpy().transpose(2, 3, 1, 0), m.bias.detach().numpy()))
  return out


def _flax_conv_paths(blocks, downsamplings=2):
  """The flax generator's conv layers in call order (flax numbers each kind as it is created)."""
  residual = [(f"ResidualBlock_{i}", f"Conv_{j}") for i in range(blocks) for j in (0, 1)]
  return ([(f"Conv_{i}",) for i in range(1 + downsamplings)] + residual
          + [(f"ConvTranspose_{i}",) for i in range(downsamplings)]
          + [(f"Conv_{1 + downsamplings}",)])


@pytest.mark.usefixtures("production_compiler")  # Parity with the reference.
@pytest.mark.parametrize("c_in,c_out,size,downsamplings",
                         [(1, 3, 12, 2), (3, 3, 16, 2), (1, 1, 12, 1), (3, 1, 8, 0)])
def test_resnet_generator_matches_the_authors_architecture_in_pytorch(c_in, c_out, size,
                                                                      downsamplings):
  torch.manual_seed(0)
  width, blocks = 4, 2
  ref = _torch_resnet_generator(c_in, c_out, width, blocks, downsamplings).eval()
  x = np.random.RandomState(0).uniform(-1, 1, (2, size, size, c_in)).astype(np.float32)
  g = models.ResnetGenerator(channels=c_out, width=width, num_blocks=blocks,
                             downsamplings=downsamplings)
  params = g.init(jax.random.key(0), x)["params"]
  paths = _flax_conv_paths(blocks, downsamplings)
  weights = _torch_weights_in_flax_order(ref)
  assert len(paths) == len(weights) == 1 + downsamplings + 2 * blocks + downsamplings + 1
  for path, (kernel, bias) in zip(paths, weights):
    node = params
    for p in path[:-1]:
      node = node[p]
    assert node[path[-1]]["kernel"].shape == kernel.shape, path
    node[path[-1]] = {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}
  out = g.apply({"params": params}, x)
  with torch.no_grad():
    want = ref(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
  assert out.shape == (2, size, size, c_out)
  np.testing.assert_allclose(np.asarray(out), want, atol=2e-5)


def test_generator_initialisation_is_the_authors():
  g = models.ResnetGenerator(channels=3, width=8, num_blocks=1)
  params = g.init(jax.random.key(1), jnp.zeros((1, 16, 16, 3)))["params"]
  kernels = [p for path, p in jax.tree_util.tree_leaves_with_path(params) if "kernel" in str(path)]
  biases = [p for path, p in jax.tree_util.tree_leaves_with_path(params) if "bias" in str(path)]
  assert all(float(jnp.abs(b).max()) == 0.0 for b in biases)
  flat = jnp.concatenate([k.ravel() for k in kernels])
  assert float(flat.std()) == pytest.approx(0.02, rel=0.05)


def test_image_sizes_the_generator_cannot_take_are_user_errors():
  models.check_image_size((28, 28, 1), "dataset.a")
  models.check_image_size((6, 10, 1), "dataset.a", downsamplings=0)
  for shape in ((30, 28, 1), (4, 4, 3)):
    with pytest.raises(UserError, match="multiples of 4 and at least 8"):
      models.check_image_size(shape, "dataset.a")
  with pytest.raises(UserError, match="28x28 px .*3 stride-2 .*multiples of 8 and at least 16"):
    models.check_image_size((28, 28, 1), "dataset.a", downsamplings=3)


# ------------------------------------------------------------------------------------ image pool --


def _ids(start, n):
  """n images (2x2x1) whose pixels all hold their id: which image ended where is readable."""
  return jnp.broadcast_to(jnp.arange(start, start + n, dtype=jnp.float32)[:, None, None, None],
                          (n, 2, 2, 1))


def _authors_pool(pool, images, swap, slot, size):
  """The authors' ImagePool.query with its random draws given: (returned, pool)."""
  pool, out = list(pool), []
  for image, s, j in zip(images, swap, slot):
    if len(pool) < size:
      pool.append(image)
      out.append(image)
    elif s:
      out.append(pool[j])
      pool[j] = image
    else:
      out.append(image)
  return out, pool


def _draws(rng, b, size, swap_prob=0.5):
  # The same draws as replay.pool_query: (uniform < swap_prob, randint(0, size)) from split(rng).
  swap_rng, slot_rng = jax.random.split(rng)
  return (np.asarray(jax.random.uniform(swap_rng, (b,)) < swap_prob),
          np.asarray(jax.random.randint(slot_rng, (b,), 0, size)))


def test_pool_query_is_the_authors_algorithm_exactly_with_fixed_keys():
  size, batch = 5, 3
  buffer, ref_pool, next_id = replay.init(size, (2, 2, 1)), [], 0
  query = jax.jit(replay.pool_query)
  swaps_seen = 0
  for i in range(12):  # Fills over two queries (the second part-way), then swaps.
    images = _ids(next_id, batch)
    next_id += batch
    rng = jax.random.key(i)
    out, buffer = query(buffer, images, rng)
    swap, slot = _draws(rng, batch, size)
    ref_ids = [int(im[0, 0, 0]) for im in images]
    want_out, ref_pool = _authors_pool(ref_pool, ref_ids, swap, slot, size)
    assert [int(v) for v in out[:, 0, 0, 0]] == want_out, i
    stored = [int(v) for v in buffer["samples"][:len(ref_pool), 0, 0, 0]]
    assert stored == ref_pool, i
    swaps_seen += sum(o != r for o, r in zip(want_out, ref_ids))
  assert int(buffer["count"]) == size
  assert swaps_seen > 0  # The case that matters was exercised.


def test_pool_until_full_returns_and_stores_the_new_fakes():
  buffer = replay.init(4, (2, 2, 1))
  out, buffer = replay.pool_query(buffer, _ids(0, 3), jax.random.key(0))
  np.testing.assert_array_equal(out, _ids(0, 3))
  out, buffer = replay.pool_query(buffer, _ids(3, 3), jax.random.key(1))
  assert float(out[0, 0, 0, 0]) == 3.0  # The 4th image fills the pool and comes back itself.
  assert int(buffer["count"]) == 4


def test_pool_once_full_returns_a_stored_image_half_the_time_uniformly_over_slots():
  size, batch, queries = 10, 8, 400
  _, buffer = replay.pool_query(replay.init(size, (2, 2, 1)), _ids(-size, size), jax.random.key(0))

  def body(carry, i):
    buffer = carry
    images = _ids(0, batch) + 1000.0 * (i + 1)  # Unique ids per query.
    before = buffer["samples"][:, 0, 0, 0]
    out, buffer = replay.pool_query(buffer, images, jax.random.fold_in(jax.random.key(1), i))
    from_pool = out[:, 0, 0, 0] != images[:, 0, 0, 0]
    changed = buffer["samples"][:, 0, 0, 0] != before
    return buffer, (from_pool, changed)

  _, (from_pool, changed) = jax.lax.scan(body, buffer, jnp.arange(queries))
  n = batch * queries
  frac = float(from_pool.mean())
  assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / n)  # 4 sigma of a fair coin.
  # Every swap writes one slot; slots are hit uniformly (chi-square, 9 dof: 27.9 at p = 1e-3).
  hits = np.asarray(changed).sum(0).astype(float)
  assert hits.sum() > 0
  expected = hits.sum() / size
  chi2 = ((hits - expected) ** 2 / expected).sum()
  assert chi2 < 27.9, hits


def test_pool_of_size_zero_returns_the_fakes():
  images = _ids(0, 3)
  out, buffer = replay.pool_query(replay.init(0, (2, 2, 1)), images, jax.random.key(0))
  np.testing.assert_array_equal(out, images)
  assert buffer["samples"].shape[0] == 0


def test_pool_query_vmaps_over_a_stack_of_buffers():
  buffers = jax.vmap(lambda _: replay.init(3, (2, 2, 1)))(jnp.arange(2))
  out, buffers = jax.vmap(replay.pool_query)(buffers, jnp.stack([_ids(0, 2), _ids(5, 2)]),
                                             jax.random.split(jax.random.key(0), 2))
  assert out.shape == (2, 2, 2, 2, 1)
  np.testing.assert_array_equal(buffers["count"], [2, 2])


# ---------------------------------------------------------------------------------------- losses --


def test_cycle_and_identity_losses_are_mean_absolute_errors():
  x = jnp.array([[0.5, -1.0], [0.0, 1.0]])
  y = jnp.array([[0.0, -0.5], [1.0, 1.0]])
  assert float(step_lib.l1(x, y)) == pytest.approx((0.5 + 0.5 + 1.0 + 0.0) / 4)
  torch_l1 = torch.nn.L1Loss()(torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y)))
  assert float(step_lib.l1(x, y)) == pytest.approx(float(torch_l1))


def test_adversarial_terms_are_the_authors_gan_loss():
  real, fake = jnp.array([0.9, 0.2, 1.5]), jnp.array([0.1, -0.4, 0.7])
  mse = torch.nn.MSELoss()
  t = lambda v: torch.tensor(np.asarray(v))
  # LSGAN: G's term is MSE(D(G(x)), 1); D's sum before halving is MSE(real, 1) + MSE(fake, 0).
  assert float(step_lib.generator_adversarial_loss("least_squares", fake)) == pytest.approx(
      float(mse(t(fake), torch.ones(3))))
  assert float(step_lib.discriminator_adversarial_loss("least_squares", real, fake)) == \
      pytest.approx(float(mse(t(real), torch.ones(3)) + mse(t(fake), torch.zeros(3))), rel=1e-6)
  # Vanilla GAN: BCE with logits.
  bce = torch.nn.BCEWithLogitsLoss()
  assert float(step_lib.generator_adversarial_loss("non_saturating", fake)) == pytest.approx(
      float(bce(t(fake), torch.ones(3))), rel=1e-6)
  assert float(step_lib.discriminator_adversarial_loss("non_saturating", real, fake)) == \
      pytest.approx(float(bce(t(real), torch.ones(3)) + bce(t(fake), torch.zeros(3))), rel=1e-6)


def test_linear_decay_is_the_authors_policy_per_step():
  f = lambda s: float(step_lib.linear_decay(jnp.asarray(s), 10, 4))
  assert [f(s) for s in range(10)] == pytest.approx([1] * 6 + [1 - k / 5 for k in (1, 2, 3, 4)])
  assert float(step_lib.linear_decay(jnp.asarray(7), 10, 0)) == 1.0


# ------------------------------------------------------------------------------------------ step --


def _config(**loss):
  return ml_collections.ConfigDict({
      "loss": {"name": "least_squares", "cycle": "both", "identity": True, **loss},
      "num_train_steps": 6, "decay_steps": 2, "pool_size": 3})


LR = 0.05  # Plain SGD in the step tests: a parameter's change is -LR * its gradient.


def _setup(config, channels=(1, 3), size=8, batch=2):
  import optax  # pylint: disable=g-import-not-at-top
  options = step_lib.Options.from_config(config)
  mods = {"g_ab": models.ResnetGenerator(channels[1], width=4, num_blocks=1),
          "g_ba": models.ResnetGenerator(channels[0], width=4, num_blocks=1),
          "d_a": PatchDiscriminator(width=4, n_layers=1, norm="instance"),
          "d_b": PatchDiscriminator(width=4, n_layers=1, norm="instance")}
  txs = {n: optax.inject_hyperparams(optax.sgd)(learning_rate=LR) for n in mods}
  shapes = {"a": (size, size, channels[0]), "b": (size, size, channels[1])}
  state = step_lib.init_state(jax.random.key(0), mods, txs, step_lib.hparams_from_config(config),
                              options, shapes)
  rs = np.random.RandomState(0)
  batch = {k: jnp.asarray(rs.uniform(-1, 1, (batch,) + s), jnp.float32) for k, s in shapes.items()}
  return options, mods, state, batch


@pytest.fixture(scope="module")
def compiled():
  """One configuration (the paper's losses, equal channel counts) and its step, compiled once."""
  options, mods, state, batch = _setup(_config(), channels=(3, 3))
  return options, mods, state, batch, jax.jit(step_lib.make_step(options, mods))


def _torch_patch_discriminator(c_in, width):
  """The authors' NLayerDiscriminator with n_layers=1 and instance norm."""
  tnn = torch.nn
  return tnn.Sequential(
      tnn.Conv2d(c_in, width, 4, 2, 1), tnn.LeakyReLU(0.2),
      tnn.Conv2d(width, width * 2, 4, 1, 1), tnn.InstanceNorm2d(width * 2), tnn.LeakyReLU(0.2),
      tnn.Conv2d(width * 2, 1, 4, 1, 1))


def _load_into_torch(net, params, paths):
  """Copies flax conv kernels and biases (at `paths`, in the torch network's order) into `net`."""
  convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
  assert len(convs) == len(paths)
  for m, path in zip(convs, paths):
    node = params
    for p in path:
      node = node[p]
    m.weight.data = torch.from_numpy(np.asarray(node["kernel"]).transpose(3, 2, 0, 1).copy())
    m.bias.data = torch.from_numpy(np.asarray(node["bias"]).copy())


def _torch_params(net, paths):
  """The torch network's parameters at the flax `paths`, as flax arrays."""
  convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
  out = {}
  for m, path in zip(convs, paths):
    node = out
    for p in path[:-1]:
      node = node.setdefault(p, {})
    node[path[-1]] = {"kernel": m.weight.detach().numpy().transpose(2, 3, 1, 0),
                      "bias": m.bias.detach().numpy()}
  return out


def test_one_step_is_the_authors_pytorch_step(compiled):
  """The authors' optimize_parameters (G step on both generators, then D step on the detached
  fakes, pools still filling), in PyTorch with the same weights, batch and SGD: equal updates."""
  _, _, state, batch, step = compiled
  new, _ = step(state, batch, jax.random.key(1))
  g_paths, d_paths = _flax_conv_paths(1), [("conv0",), ("conv1",), ("conv2",)]
  paths = {"g_ab": g_paths, "g_ba": g_paths, "d_a": d_paths, "d_b": d_paths}
  nets = {"g_ab": _torch_resnet_generator(3, 3, 4, 1), "g_ba": _torch_resnet_generator(3, 3, 4, 1),
          "d_a": _torch_patch_discriminator(3, 4), "d_b": _torch_patch_discriminator(3, 4)}
  for name, net in nets.items():
    _load_into_torch(net, state.nets[name].params, paths[name])
  a, b = (torch.from_numpy(np.array(batch[k])).permute(0, 3, 1, 2) for k in "ab")
  l1, mse = torch.nn.L1Loss(), torch.nn.MSELoss()
  gan = lambda logits, real: mse(logits, torch.full_like(logits, float(real)))
  opt_g = torch.optim.SGD([*nets["g_ab"].parameters(), *nets["g_ba"].parameters()], lr=LR)
  opt_d = torch.optim.SGD([*nets["d_a"].parameters(), *nets["d_b"].parameters()], lr=LR)
  # The authors' names: G_A = g_ab, G_B = g_ba, D_A = d_b (judges B), D_B = d_a.
  fake_b = nets["g_ab"](a)
  rec_a = nets["g_ba"](fake_b)
  fake_a = nets["g_ba"](b)
  rec_b = nets["g_ab"](fake_a)
  for d in ("d_a", "d_b"):
    nets[d].requires_grad_(False)
  opt_g.zero_grad()
  loss_g = (gan(nets["d_b"](fake_b), 1) + gan(nets["d_a"](fake_a), 1)
            + 10 * l1(rec_a, a) + 10 * l1(rec_b, b)
            + 10 * 0.5 * l1(nets["g_ab"](b), b) + 10 * 0.5 * l1(nets["g_ba"](a), a))
  loss_g.backward()
  opt_g.step()
  for d in ("d_a", "d_b"):
    nets[d].requires_grad_(True)
  opt_d.zero_grad()
  loss_d = (0.5 * (gan(nets["d_b"](b), 1) + gan(nets["d_b"](fake_b.detach()), 0))
            + 0.5 * (gan(nets["d_a"](a), 1) + gan(nets["d_a"](fake_a.detach()), 0)))
  loss_d.backward()
  opt_d.step()
  for name, net in nets.items():
    want = jax.tree.map(lambda t, old: t - np.asarray(old), _torch_params(net, paths[name]),
                        state.nets[name].params)
    got = jax.tree.map(lambda n, old: np.asarray(n - old), new.nets[name].params,
                       state.nets[name].params)
    scale = max(float(np.abs(x).max()) for x in jax.tree.leaves(want))
    jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, atol=1e-3 * scale), got, want)


def test_step_trains_all_four_networks_and_fills_both_pools(compiled):
  _, _, state, batch, step = compiled
  new, metrics = step(state, batch, jax.random.key(1))
  for name in ("g_ab", "g_ba", "d_a", "d_b"):
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), new.nets[name].params,
                         state.nets[name].params)
    assert max(jax.tree.leaves(moved)) > 0, name
  assert int(new.extras["pool_a"]["count"]) == 2 and int(new.extras["pool_b"]["count"]) == 2
  for key in ("g_adv_ab", "g_adv_ba", "cycle_a", "cycle_b", "identity_a", "identity_b",
              "d_a_loss", "d_b_loss", "g_loss"):
    assert np.isfinite(float(metrics[key])), key


def test_step_losses_are_the_authors_objective_by_hand(compiled):
  """The step's G and D losses, recomputed from the networks directly with the paper's weights."""
  _, mods, state, batch, step = compiled
  _, metrics = step(state, batch, jax.random.key(1))
  run = lambda n, x: mods[n].apply(state.nets[n].variables(), x)
  a, b = batch["a"], batch["b"]
  fake_b, fake_a = run("g_ab", a), run("g_ba", b)
  mse = lambda x, t: float(jnp.mean((x - t) ** 2))
  mae = lambda x, t: float(jnp.mean(jnp.abs(x - t)))
  g = (mse(run("d_b", fake_b), 1) + mse(run("d_a", fake_a), 1)
       + 10 * mae(run("g_ba", fake_b), a) + 10 * mae(run("g_ab", fake_a), b)
       + 0.5 * 10 * mae(run("g_ba", a), a) + 0.5 * 10 * mae(run("g_ab", b), b))
  assert float(metrics["g_loss"]) == pytest.approx(g, rel=1e-5)
  # The pools are empty at step 0: D sees exactly this step's fakes, and its loss is halved.
  d_b = 0.5 * (mse(run("d_b", b), 1) + mse(run("d_b", fake_b), 0))
  assert float(metrics["d_b_loss"]) == pytest.approx(d_b, rel=1e-5)


def test_cycle_noise_perturbs_the_way_back_only(compiled):
  """loss.cycle_noise_std: the translation gets Gaussian noise before the reverse generator in the
  cycle terms; the adversarial and identity terms see it clean. Known values from the step's
  keys."""
  _, mods, state, batch, step = compiled
  std = 0.3
  noisy_state = state.replace(hparams={**state.hparams, "cycle_noise_std": jnp.float32(std)})
  rng = jax.random.key(1)
  _, clean = step(state, batch, rng)
  _, noisy = step(noisy_state, batch, rng)
  run = lambda n, x: mods[n].apply(state.nets[n].variables(), x)
  a, b = batch["a"], batch["b"]
  fake_b, fake_a = run("g_ab", a), run("g_ba", b)
  pool_a, pool_b, noise_rng = jax.random.split(rng, 3)
  key_a, key_b = jax.random.split(noise_rng)
  # The noise's keys are none of the pools' (whose draws split their keys in two).
  pool_keys = {tuple(np.asarray(jax.random.key_data(k))) for p in (pool_a, pool_b)
               for k in (p, *jax.random.split(p))}
  assert not pool_keys & {tuple(np.asarray(jax.random.key_data(k))) for k in (key_a, key_b)}
  mae = lambda x, t: float(jnp.mean(jnp.abs(x - t)))
  noise = lambda x, key: std * jax.random.normal(key, x.shape, x.dtype)
  assert float(noisy["cycle_a"]) == pytest.approx(
      mae(run("g_ba", fake_b + noise(fake_b, key_b)), a), rel=1e-5)
  assert float(noisy["cycle_b"]) == pytest.approx(
      mae(run("g_ab", fake_a + noise(fake_a, key_a)), b), rel=1e-5)
  assert float(noisy["cycle_a"]) != pytest.approx(float(clean["cycle_a"]), rel=1e-3)
  for term in ("g_adv_ab", "g_adv_ba", "identity_a", "identity_b", "d_a_loss", "d_b_loss"):
    assert float(noisy[term]) == pytest.approx(float(clean[term]), rel=1e-6), term


def test_learning_rate_factor_scales_the_updates(compiled):
  _, _, state, batch, step = compiled
  late = state.replace(step=jnp.asarray(5, jnp.int32))  # 1 - 2/3 at step 5 of 6 (decay_steps 2).
  _, metrics = step(late, batch, jax.random.key(1))
  assert float(metrics["lr_factor"]) == pytest.approx(1 - 2 / 3)
  # SGD's update is -LR * factor * gradient: the factor is the ratio of the two updates.
  moved = lambda s: jax.tree.map(lambda a, b: a - b, step(s, batch, jax.random.key(1))[0]
                                 .nets["d_a"].params, state.nets["d_a"].params)
  ratio = jax.tree.map(lambda x, y: float(jnp.abs(y).max() / jnp.abs(x).max()), moved(state),
                       moved(late))
  assert all(r == pytest.approx(1 / 3, rel=1e-4) for r in jax.tree.leaves(ratio))


@pytest.mark.parametrize("cycle,identity,present,absent", [
    ("none", False, (), ("cycle_a", "cycle_b", "identity_a", "identity_b")),
    ("forward", False, ("cycle_a",), ("cycle_b", "identity_a")),
    ("backward", True, ("cycle_b", "identity_a"), ("cycle_a",)),
])
def test_ablation_switches_remove_their_terms(cycle, identity, present, absent):
  options, mods, state, batch = _setup(_config(cycle=cycle, identity=identity), channels=(3, 3))
  _, metrics = jax.eval_shape(step_lib.make_step(options, mods), state, batch, jax.random.key(1))
  assert all(k in metrics for k in present) and not any(k in metrics for k in absent)


def test_step_reads_only_the_two_image_fields():
  # Domains of different channel counts (no identity terms then: G_BA cannot take an A image).
  options, mods, state, batch = _setup(_config(identity=False), channels=(1, 3))
  accessed = []

  class Recording(dict):
    def __getitem__(self, key):
      accessed.append(key)
      return super().__getitem__(key)

  labelled = Recording({**batch, "a_label": jnp.zeros((2,), jnp.int32), "label": jnp.zeros(2)})
  step = step_lib.make_step(options, mods)
  new, _ = jax.eval_shape(lambda s: step(s, labelled, jax.random.key(1)), state)
  assert set(accessed) == {"a", "b"}
  assert new.extras["pool_a"]["samples"].shape == (3, 8, 8, 1)
  assert new.extras["pool_b"]["samples"].shape == (3, 8, 8, 3)


def test_bad_switches_are_user_errors():
  with pytest.raises(UserError, match="loss.cycle='half'"):
    step_lib.Options.from_config(_config(cycle="half"))
  with pytest.raises(UserError, match="loss.name='l2'"):
    step_lib.Options.from_config(_config(name="l2"))
  config = _config()
  config.decay_steps = 7
  with pytest.raises(UserError, match="decay_steps=7"):
    step_lib.Options.from_config(config)
