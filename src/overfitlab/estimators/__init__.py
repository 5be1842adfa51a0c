"""scikit-learn compatible regularized MLPs on the JAX engine.

``RegularizedMLPRegressor`` and ``RegularizedMLPClassifier`` take MLPRegressor's and
MLPClassifier's parameters plus ``l1``, ``dropout`` and ``n_networks``;
``RegularizedMLPRegressorCV`` and ``RegularizedMLPClassifierCV`` choose their
coefficients by (shuffled) cross-validation, every fold x grid point x seed in one engine call.
"""
from overfitlab.estimators.classifier import RegularizedMLPClassifier
from overfitlab.estimators.cv import RegularizedMLPClassifierCV, RegularizedMLPRegressorCV
from overfitlab.estimators.regressor import RegularizedMLPRegressor

__all__ = ["RegularizedMLPClassifier", "RegularizedMLPClassifierCV", "RegularizedMLPRegressor",
           "RegularizedMLPRegressorCV"]
