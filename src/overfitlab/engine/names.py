"""The names the engine accepts, importable without JAX.

Experiment configurations offer them as the allowed values of their fields (``overfitlab params``,
error messages) before anything is trained; the engine keys its functions by the same names.
"""

MLP_ACTIVATIONS: tuple[str, ...] = ("identity", "logistic", "tanh", "relu")
"""Hidden-layer activations of the MLPs (the keys of ``overfitlab.engine.mlp.ACTIVATIONS``)."""

CNN_ARCHITECTURES: tuple[str, ...] = ("simple", "lenet5", "vgg", "compact")
"""Named convolutional networks (the keys of ``overfitlab.engine.cnn.ARCHITECTURES``)."""
