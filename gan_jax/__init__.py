"""gan_jax: Generative Adversarial Networks as pure JAX functions."""
