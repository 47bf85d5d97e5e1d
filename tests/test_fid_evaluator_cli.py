"""The in-loop evaluator (small random network) and the CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.fid import __main__ as cli
from gan_jax.fid import distance
from gan_jax.fid import evaluator
from gan_jax.fid import inception
from gan_jax.fid import statistics


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


def test_reference_statistics_progress_lines():
  lines = []
  progress = evaluator._rate_printer(lines.append, total=1000, start=0.0,
                                     every_s=0.0)
  progress(250)
  assert lines[0].startswith('  250/1000 images, ') and 'ETA' in lines[0]
  quiet = evaluator._rate_printer(lines.append, total=0, start=1e18)
  quiet(10)  # Less than every_s since start: nothing printed.
  assert len(lines) == 1


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


def test_auto_precision_is_fp16_on_gpus_only(monkeypatch):
  for backend, expected in (('gpu', 'fp16'), ('tpu', 'highest'), ('cpu', 'highest')):
    monkeypatch.setattr(jax, 'default_backend', lambda b=backend: b)
    assert evaluator.resolve_precision('auto') == expected
  assert evaluator.resolve_precision('bf16') == 'bf16'
  with pytest.raises(evaluator.UserError, match="'fp8' not in .*'auto'"):
    evaluator.resolve_precision('fp8')
