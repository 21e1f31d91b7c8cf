"""sksubset: train deep nets on small, well-chosen weighted subsets of the data."""

from .classifier import SubsetTrainingClassifier
from .data import SelectionView
from .exceptions import DataParallelError, DivergenceError
from .gradients import last_layer_gradients
from .omp import orthogonal_matching_pursuit
from .regressor import SubsetTrainingRegressor
from .selectors import (
                        STRATEGIES,
                        CraigSelector,
                        CrestSelector,
                        GlisterSelector,
                        GradMatchSelector,
                        RandomSelector,
                        gradmatch,
)
from .tuning import full_data_estimator

__version__ = "0.1.0"

__all__ = ["SubsetTrainingClassifier", "SubsetTrainingRegressor", "GradMatchSelector",
           "RandomSelector", "CraigSelector", "GlisterSelector", "CrestSelector", "gradmatch",
           "orthogonal_matching_pursuit", "last_layer_gradients", "STRATEGIES", "SelectionView",
           "DivergenceError", "DataParallelError", "full_data_estimator"]
