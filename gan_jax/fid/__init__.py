"""FID with the standard TF Inception-v3, in JAX (see docs/fid.md)."""

from gan_jax.fid.distance import frechet_distance
from gan_jax.fid.distance import inception_score
from gan_jax.fid.distance import kernel_inception_distance
from gan_jax.fid.distance import precision_recall
from gan_jax.fid.evaluator import compute_fid
from gan_jax.fid.evaluator import compute_stats
from gan_jax.fid.evaluator import load_model
from gan_jax.fid.evaluator import make_evaluator
from gan_jax.fid.inception import InceptionV3
from gan_jax.fid.statistics import load_stats
from gan_jax.fid.statistics import save_stats
