"""Reference helpers shared by tests: scikit-learn's own initialisation."""
import numpy as np
from sklearn.utils import check_random_state


def sklearn_init(seed, layer_sizes, activation="tanh"):
    """MLPRegressor's initial weights for random_state=seed (same RandomState draws)."""
    rs = check_random_state(seed)
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rs.uniform(-bound, bound, fan_out))
    return coefs, intercepts
