# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Regularizing a small network, and first steps in deep learning
#
# This notebook walks through the course with overfitlab: first regularization (early
# stopping, L2 and L1, small networks, ensembles, dropout, more data, the early-stopping/L2
# theory), then the first steps of deep learning (convolution, a CNN on digits, vanishing
# gradients, the linear autoencoder and PCA). Each section asks the course's question and
# runs the experiment that answers it. The `quick` presets (shortened further here) keep it to a
# few minutes on a laptop CPU; `preset("full")` gives the numbers of the report.
#
# A `Result` displays as its report section: the answers with their explanations and the
# figures with captions that say what to look at. `print(result)` gives a short summary.
#
# The source is `docs/tutorial.py` (jupytext percent format); `docs/tutorial.ipynb` is the same
# notebook, executed (`make notebook` rebuilds it).

# %%
import warnings

import numpy as np

from overfitlab import RegularizedMLPRegressor
from overfitlab.data.synthetic import noisy_function
from overfitlab.experiments.registry import get
from overfitlab.plots.estimator import plot_learning_curve


def run(name, **overrides):
    """Run an experiment's quick preset with ``overrides``; the Result displays itself."""
    experiment = get(name)
    return experiment.run(experiment.config_class.preset("quick", **overrides))


# %% [markdown]
# ## 1. The data, and the best error we can hope for
#
# Ten points of y = x² with Gaussian noise of standard deviation 0.2, and a large test set from
# the same distribution. No model can predict the noise, so the best expected test MSE is the
# noise variance, 0.04.

# %%
data = noisy_function(n_train=10, n_test=100, noise=0.2, seed=0)
print("irreducible error:", data.bayes_mse)
print("MSE of the true function on the test set:",
      np.mean((data.truth(data.X_test) - data.y_test) ** 2))

# %% [markdown]
# ## 2. A 20-unit network overfits
#
# `RegularizedMLPRegressor` takes `MLPRegressor`'s parameters and means the same thing by them;
# the same `random_state` even starts from `MLPRegressor`'s initial weights, so on these 10
# points (one full batch per iteration) it follows scikit-learn's trajectory. With `eval_set` it
# records the test error after every iteration, which the course builds by hand with a
# `partial_fit` loop.

# %%
reg = RegularizedMLPRegressor(hidden_layer_sizes=(20,), activation="tanh", tol=1e-7,
                              max_iter=5000, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # max_iter is short on purpose here
    reg.fit(data.X_train, data.y_train, eval_set=(data.X_test, data.y_test))
train_mse = np.mean((reg.predict(data.X_train) - data.y_train) ** 2)
test_curve = np.array(reg.eval_loss_curve_)
print(f"train MSE {train_mse:.4f}, test MSE {test_curve[-1]:.4f}")
print("best iteration on the test curve:", int(np.argmin(test_curve)) + 1)
assert train_mse < data.bayes_mse < test_curve[-1]  # memorised noise, worse than the floor

# %% [markdown]
# The curves the fit recorded, in one call: the training loss (squared error / 2), the test
# MSE from `eval_set` and its minimum.

# %%
plot_learning_curve(reg)

# %% [markdown]
# ## 3. Early stopping
#
# Twenty initialisations at once: the test curve falls, then rises again. The course picks the
# iteration of minimum test error and retrains to it; a validation split does the same without
# peeking at the test set.

# %%
early = run("early-stopping", seeds=6, max_iter=3000)
early

# %% [markdown]
# ## 4. L2 and L1 weight penalties
#
# The penalty alpha/(2n)·ΣW² adds alpha·W/n to every weight gradient: weight decay. L1, applied
# by a proximal step, sets weights exactly to zero.

# %%
penalty = run("weight-penalty", seeds=4)
penalty

# %% [markdown]
# ### Choosing alpha without the test set: cross-validation, shuffled
#
# The sweep above reads the best alpha off the *test* curve, so the test error at that alpha
# has already been used once and is optimistic. Cross-validation chooses on the training points
# alone. One trap first: scikit-learn's `KFold` (and `cv=3` in `GridSearchCV` for a regressor)
# cuts the rows in order, and our x is a sorted grid. Each fold then holds out a contiguous
# third of [-1, 1] (the left end, the middle, the right end) and asks the network to
# *extrapolate* the parabola there: the scores measure extrapolation, not fit.
#
# `RegularizedMLPRegressorCV` turns `cv=3` into a shuffled `KFold` seeded by `random_state`,
# and trains every fold x alpha in one vectorized call (each network on its fold's rows).
# The score is minus the held-out MSE: R² on three or four held-out points divides by their
# tiny spread and is too noisy to choose with.

# %%
from sklearn.model_selection import KFold

from overfitlab import RegularizedMLPRegressorCV

print("held-out x of each plain KFold(3) fold:",
      [np.round(data.X_train[test, 0], 2).tolist() for _, test in KFold(3).split(data.X_train)])
search = dict(hidden_layer_sizes=(20,), activation="tanh", alphas=np.logspace(-3, 1, 9),
              max_iter=5000, tol=1e-7, random_state=0, scoring="neg_mean_squared_error")
for name, cv in [("plain KFold(3)", KFold(3)), ("shuffled, cv=3", 3)]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter is short on purpose here
        cv_search = RegularizedMLPRegressorCV(cv=cv, **search).fit(data.X_train, data.y_train)
    test_mse = np.mean((cv_search.predict(data.X_test) - data.y_test) ** 2)
    print(f"{name:15s} chooses alpha = {cv_search.alpha_:.3g}: CV MSE "
          f"{-cv_search.best_score_:.3f}, test MSE of the refit {test_mse:.4f} "
          f"(floor {data.bayes_mse})")

# %% [markdown]
# ## 5. Small networks
#
# Which hidden units of the best L2 network matter, and does a network of that width do as
# well without any penalty?

# %%
small = run("small-network", seeds=4)
small

# %% [markdown]
# ## 6. Ensembles and dropout
#
# Averaging networks trained from different initialisations cancels part of their
# disagreement; dropout trains an implicit ensemble of thinned networks that share weights.

# %%
ensemble = run("ensemble")
ensemble

# %%
dropout = run("dropout")
dropout

# %% [markdown]
# ## 7. More data
#
# With enough points, the same 20-unit network cannot memorise the noise any more.

# %%
more_data = run("sample-size")
more_data

# %% [markdown]
# ## 8. Why early stopping acts like L2
#
# On a quadratic cost, gradient descent from 0 reaches w_j(n) = (1 - (1 - λμ_j)^n) w*_j along
# the eigenvector of curvature μ_j, and ridge gives μ_j/(μ_j + α) w*_j: both shrink the
# low-curvature directions most, with α ≈ 1/(nλ).

# %%
theory = run("es-l2-equivalence")
theory

# %% [markdown]
# ## Part two: first steps in deep learning
#
# ## 9. Image convolution
#
# A convolution slides a small kernel over the image and sums the products. A 3x3 kernel of
# ones adds up 9 neighbours, so it brightens the image about 9-fold; dividing it by 9 makes it an
# average, a blur. The Laplacian (weights summing to 0) responds only where the brightness
# changes: edges. The library's `convolve2d` takes the boundary modes of SciPy's
# `ndimage.convolve`.

# %%
from overfitlab.imaging.convolve import convolve2d
from overfitlab.imaging.images import load_image, rgb2gray, sample_image_path
from overfitlab.imaging.kernels import box_kernel, laplacian_kernel

gray = rgb2gray(load_image(sample_image_path()))
ones = convolve2d(gray, box_kernel(3, normalize=False))
edges = convolve2d(gray, laplacian_kernel(4))
print(f"image {gray.shape}, mean brightness {gray.mean():.3f}; after the kernel of ones "
      f"{ones.mean():.3f} ({ones.mean() / gray.mean():.2f}x); Laplacian mean {edges.mean():.1e}")

# %%
convolution = run("convolution")
convolution

# %% [markdown]
# ## 10. A CNN on the 8x8 digits
#
# Two small convolutions share their kernels over all positions of the image, so the network
# needs far fewer weights than a dense one for the same first layer. Here it trains for a few
# epochs on scikit-learn's bundled digits beside a fully connected network with the same
# optimizer (`--set dataset=mnist` in the CLI runs it on MNIST from a directory).

# %%
cnn = run("cnn", epochs=2)
cnn

# %% [markdown]
# ## 11. Vanishing gradients
#
# In a chain of L sigmoid neurons the gradient of the first weight is a product of L-1 factors
# w·σ'(z), each at most 1/4 when |w| <= 1: it shrinks geometrically with depth. tanh (σ' <= 1)
# suffers less and ReLU (σ' = 1 where active) least. The deep-MLP part shows what Glorot and He
# initialisations change.

# %%
vanishing = run("vanishing-gradient", lengths=(5, 10), epochs=20, mlp_depth=10)
vanishing

# %% [markdown]
# ## 12. A linear autoencoder finds PCA's subspace
#
# An autoencoder x -> W_dec W_enc x with k linear hidden units, trained to reconstruct the
# digits, reaches PCA's reconstruction error: its decoder spans the top-k principal subspace,
# although its weights are a mixed (not orthogonal) basis of it.

# %%
autoencoder = run("autoencoder-pca", seeds=2, ks=(2, 5))
autoencoder

# %% [markdown]
# The short text form of a Result, for logs and the terminal:

# %%
print(autoencoder)

# %% [markdown]
# # Beyond the course
#
# ## Where the error comes from: bias, variance, and which variance
#
# Train the course's network on many independent noise draws of the training set (data sets),
# several initialisations on each, and predict on a fine grid where f(x) is known. The expected
# test error splits exactly into noise + bias² + variance, and the variance into the part that
# comes from the data, Var_d(E_s f), and the part that comes from the initialisation,
# E_d[Var_s f]. Each knob of the course moves error between these terms; averaging
# initialisations (an ensemble) can only remove the last one.

# %%
bv = run("bias-variance", max_iter=1000, checkpoints=(200, 500))
bv

# %% [markdown]
# The decomposition is one function of a (data sets, initialisations, grid) array of
# predictions, here the base networks of the first repetition. Its estimates are unbiased, so
# a component that is nearly zero can come out slightly negative:

# %%
from overfitlab.theory.bias_variance import decompose

parts = decompose(bv.arrays["base_predictions_block0"], bv.arrays["truth"], noise_var=0.04)
print(f"noise {parts.noise:.4f} + bias² {parts.bias2:.4f} + data variance "
      f"{parts.data_variance:.4f} + initialisation variance {parts.init_variance:.4f} "
      f"= {parts.total:.4f}; measured directly: {parts.expected_mse:.4f}")

# %% [markdown]
# ## Double descent
#
# Freeze a hidden layer of p random units and fit only the output weights, by the
# minimum-norm least-squares solution. Below p = n the test error follows the classical U;
# at p = n the features can just interpolate the noisy points, with huge weights, and the
# test error peaks; beyond, the interpolating fit of least norm gets smoother again. A small
# ridge penalty removes the peak. Does the network trained in all its layers show it?

# %%
dd = run("double-descent", max_iter=1000, trained_widths=(2, 7, 20, 60))
dd
