"""StyleGAN-lite against NVIDIA's networks: the same weights, the same outputs?

Builds stylegan2-ada-pytorch's Generator and Discriminator (its reference ops, no custom CUDA) at a
small size, copies their weights into ours (the parameter trees must match leaf for leaf) and
compares the outputs: G with fixed noise, with and without truncation; D on random images.

  python experiments/stylegan_reference.py --nvidia_repo=/path/to/stylegan2-ada-pytorch

(a checkout of https://github.com/NVlabs/stylegan2-ada-pytorch; torch on the CPU).
"""
import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.families.stylegan import models


def _t(x):
  return np.asarray(x.detach().cpu().numpy(), np.float32)


def dense(layer):
  out = {"kernel": _t(layer.weight).T}
  if layer.bias is not None:
    out["bias"] = _t(layer.bias)
  return out


def conv(layer):
  """An NVIDIA Conv2dLayer (OIHW) -> our EqualConv (HWIO)."""
  out = {"kernel": _t(layer.weight).transpose(2, 3, 1, 0)}
  if layer.bias is not None:
    out["bias"] = _t(layer.bias)
  return out


def synthesis_layer(layer):
  params = {"affine": dense(layer.affine), "weight": _t(layer.weight).transpose(2, 3, 1, 0),
            "bias": _t(layer.bias), "noise_strength": _t(layer.noise_strength)}
  return params, _t(layer.noise_const)[..., None]


def generator_variables(g_nv, resolution):
  synthesis, noise = {}, {}
  for k in range(int(np.log2(resolution)) - 1):
    res = 4 * 2**k
    block = getattr(g_nv.synthesis, f"b{res}")
    if k == 0:
      synthesis["const"] = _t(block.const).transpose(1, 2, 0)
    for name in (("conv1",) if k == 0 else ("conv0", "conv1")):
      params, noise_const = synthesis_layer(getattr(block, name))
      synthesis[f"b{res}_{name}"] = params
      noise[f"b{res}_{name}"] = {"noise": noise_const}
    synthesis[f"b{res}_torgb"] = {"affine": dense(block.torgb.affine),
                                  "weight": _t(block.torgb.weight).transpose(2, 3, 1, 0),
                                  "bias": _t(block.torgb.bias)}
  mapping = {f"fc{i}": dense(getattr(g_nv.mapping, f"fc{i}"))
             for i in range(g_nv.mapping.num_layers)}
  return {"params": {"mapping": mapping, "synthesis": synthesis},
          "w_avg": {"mapping": {"w_avg": _t(g_nv.mapping.w_avg)}},
          "noise_const": {"synthesis": noise}}


def discriminator_variables(d_nv, resolution):
  params = {}
  for res in [2**k for k in range(int(np.log2(resolution)), 2, -1)]:
    block = getattr(d_nv, f"b{res}")
    if hasattr(block, "fromrgb"):
      params[f"fromrgb{res}"] = conv(block.fromrgb)
    params[f"b{res}"] = {"conv0": conv(block.conv0), "conv1": conv(block.conv1)}
    if hasattr(block, "skip"):
      params[f"b{res}"]["skip"] = conv(block.skip)
  b4 = d_nv.b4
  params["b4_conv"] = conv(b4.conv)
  c = b4.conv.weight.shape[0]
  fc = _t(b4.fc.weight).reshape(-1, c, 4, 4).transpose(2, 3, 1, 0).reshape(16 * c, -1)
  params["b4_fc"] = {"kernel": fc, "bias": _t(b4.fc.bias)}
  params["b4_out"] = dense(b4.out)
  return {"params": params}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--nvidia_repo", required=True)
  parser.add_argument("--resolution", type=int, default=32)
  parser.add_argument("--architecture", default="orig", choices=models.D_ARCHITECTURES)
  args = parser.parse_args()
  sys.path.insert(0, args.nvidia_repo)
  import torch  # pylint: disable=g-import-not-at-top
  from training import networks  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  res, size = args.resolution, dict(channel_base=2048, channel_max=64)
  g_nv = networks.Generator(z_dim=32, c_dim=0, w_dim=32, img_resolution=res, img_channels=3,
                            mapping_kwargs=dict(num_layers=2), synthesis_kwargs=size).eval()
  d_nv = networks.Discriminator(c_dim=0, img_resolution=res, img_channels=3,
                                architecture=args.architecture, **size).eval()
  with torch.no_grad():  # Non-zero noise strengths, biases and w average, so they are compared.
    for name, p in list(g_nv.named_parameters()) + list(d_nv.named_parameters()):
      if name.endswith(("noise_strength", "bias")):
        p.copy_(torch.randn_like(p) * 0.1)
    g_nv.mapping.w_avg.copy_(torch.randn_like(g_nv.mapping.w_avg))

  g = models.Generator(resolution=res, channels=3, z_dim=32, w_dim=32, mapping_layers=2, **size)
  d = models.Discriminator(resolution=res, architecture=args.architecture, **size)
  g_vars, d_vars = generator_variables(g_nv, res), discriminator_variables(d_nv, res)
  # Our parameter tree must be exactly NVIDIA's, leaf for leaf.
  ours = jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((1, 32)), train=False))
  assert jax.tree.structure(ours) == jax.tree.structure(g_vars), "G trees differ"
  assert jax.tree.map(jnp.shape, ours) == jax.tree.map(np.shape, g_vars), "G shapes differ"
  ours = jax.eval_shape(lambda: d.init(jax.random.key(0), jnp.zeros((1, res, res, 3))))
  assert jax.tree.map(jnp.shape, ours) == jax.tree.map(np.shape, d_vars), "D shapes differ"
  count = lambda tree: sum(np.size(p) for p in jax.tree.leaves(tree["params"]))
  print(f"parameters: G {count(g_vars):,} (NVIDIA {sum(p.numel() for p in g_nv.parameters()):,}),"
        f" D {count(d_vars):,} (NVIDIA {sum(p.numel() for p in d_nv.parameters()):,})")

  z = np.random.default_rng(0).normal(size=(8, 32)).astype(np.float32)
  for psi, cutoff in ((1.0, None), (0.7, None), (0.5, 4)):
    with torch.no_grad():
      ref = _t(g_nv(torch.tensor(z), None, truncation_psi=psi, truncation_cutoff=cutoff,
                    noise_mode="const")).transpose(0, 2, 3, 1)
    out = np.asarray(g.apply(g_vars, z, train=False, psi=psi, cutoff=cutoff))
    diff = np.abs(out - ref)
    print(f"G psi={psi} cutoff={cutoff}: max |ours - NVIDIA| {diff.max():.2e}, "
          f"output std {ref.std():.3f}")
  x = np.random.default_rng(1).normal(size=(8, res, res, 3)).astype(np.float32)
  with torch.no_grad():
    ref = _t(d_nv(torch.tensor(x.transpose(0, 3, 1, 2)), None))[:, 0]
  out = np.asarray(d.apply(d_vars, x))
  print(f"D ({args.architecture}): max |ours - NVIDIA| {np.abs(out - ref).max():.2e}, "
        f"logit std {ref.std():.3f}")


if __name__ == "__main__":
  main()
