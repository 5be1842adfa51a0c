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
# # Regularizing a small network, step by step
#
# This notebook walks through the regularization part of the course with overfitlab. Each
# section asks the course's question, computes the answer with the library, and shows the
# figure. Everything runs on a laptop CPU in about a minute; the `quick` presets keep it short,
# and `preset("full")` gives the numbers of the report.
#
# Open it with `jupytext --to notebook docs/tutorial.py` (or run it as a script).

# %%
import warnings

import numpy as np
from IPython.display import Image, display

from overfitlab import RegularizedMLPRegressor
from overfitlab.data.synthetic import noisy_function
from overfitlab.experiments.registry import get
from overfitlab.experiments.results_io import figure_pngs


def show(name, **overrides):
    """Run an experiment's quick preset, print its answers, display its figures."""
    experiment = get(name)
    result = experiment.run(experiment.config_class.preset("quick", **overrides))
    for a in result.answers:
        band = "" if a.low is None else f"  (10-90 %: {a.low:.4g} .. {a.high:.4g})"
        value = f"{a.value:.4g}" if isinstance(a.value, (int, float)) else a.value
        print(f"{a.id}: {value}{band}")
    for png in figure_pngs(result).values():
        display(Image(data=png))
    return result


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
# ## 3. Early stopping
#
# Twenty initialisations at once: the test curve falls, then rises again. The course picks the
# iteration of minimum test error and retrains to it; a validation split does the same without
# peeking at the test set.

# %%
early = show("early-stopping", seeds=6, max_iter=3000)

# %% [markdown]
# ## 4. L2 and L1 weight penalties
#
# The penalty alpha/(2n)·ΣW² adds alpha·W/n to every weight gradient: weight decay. L1, applied
# by a proximal step, sets weights exactly to zero.

# %%
penalty = show("weight-penalty", seeds=4)

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
# and trains every fold x alpha in one vectorized call (a fold is a 0/1 sample-weight mask).
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
small = show("small-network", seeds=4)

# %% [markdown]
# ## 6. Ensembles and dropout
#
# Averaging networks trained from different initialisations cancels part of their
# disagreement; dropout trains an implicit ensemble of thinned networks that share weights.

# %%
ensemble = show("ensemble")

# %%
dropout = show("dropout")

# %% [markdown]
# ## 7. More data
#
# With enough points, the same 20-unit network cannot memorise the noise any more.

# %%
more_data = show("sample-size")

# %% [markdown]
# ## 8. Why early stopping acts like L2
#
# On a quadratic cost, gradient descent from 0 reaches w_j(n) = (1 - (1 - λμ_j)^n) w*_j along
# the eigenvector of curvature μ_j, and ridge gives μ_j/(μ_j + α) w*_j: both shrink the
# low-curvature directions most, with α ≈ 1/(nλ).

# %%
theory = show("es-l2-equivalence")
