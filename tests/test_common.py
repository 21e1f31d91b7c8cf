"""scikit-learn's common estimator checks over every selector, with the expected failures.

The model is imbalanced-learn's ``tests/test_common.py``: every estimator of the package through
``parametrize_with_checks``, and one table saying which checks fail and why.  Most failures
come from one design choice: ``transform(X)`` returns the *selected rows* of ``X``
(``X[indices_]``), so it only takes data with the rows the selector was fitted on (the
gradients, or the inputs they were computed from, of any width), and it returns fewer rows than
it gets.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksubset.selectors import (
    CraigSelector,
    CrestSelector,
    GlisterSelector,
    GradMatchSelector,
    RandomSelector,
)

SELECTORS = [GradMatchSelector(), RandomSelector(), CraigSelector(), GlisterSelector(),
             CrestSelector()]

_ROWS = ("transform returns the selected rows of data aligned with the rows it was fitted on; "
         "data with other rows is refused")

#: checks every selector fails, and why
EXPECTED_FAILURES = {
    "check_transformer_general": "transform returns the selected rows, fewer than it gets",
    "check_transformer_general(readonly_memmap=True)":
        "transform returns the selected rows, fewer than it gets",
    "check_transformer_data_not_an_array":
        "transform takes arrays, tensors, LastLayer or Datasets with a length, not bare "
        "array-likes",
    "check_fit2d_predict1d": _ROWS,
    "check_fit_idempotent": _ROWS,
    "check_methods_subset_invariance": _ROWS,
    "check_methods_sample_order_invariance": _ROWS,
    "check_n_features_in_after_fitting":
        "transform takes rows of any width (the inputs the gradients were computed from), "
        "so it does not compare widths with n_features_in_",
    "check_estimators_empty_data_messages":
        "an input without columns is refused with sksubset's own message, not scikit-learn's",
}

#: further checks the selectors that read the values of G fail (RANDOM reads only its rows)
EXPECTED_FAILURES_READING_G = {
    "check_complex_data": "complex gradients are refused with a TypeError, not a ValueError",
    "check_estimator_sparse_array": "gradients are dense (torch tensors); a sparse input is "
                                    "refused without scikit-learn's wording",
    "check_estimator_sparse_matrix": "gradients are dense (torch tensors); a sparse input is "
                                     "refused without scikit-learn's wording",
    "check_estimator_sparse_tag": "gradients are dense (torch tensors); a sparse input is "
                                  "refused without scikit-learn's wording",
    "check_estimators_nan_inf": "fit refuses NaN and inf; transform returns rows of any data "
                                "(inputs, Datasets) without reading their values",
}


#: what RANDOM alone fails: it reads the rows of G, never their values
EXPECTED_FAILURES_RANDOM = {
    "check_dtype_object": "RANDOM never reads the values of G, so an object array holding a "
                          "non-number is not refused",
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, RandomSelector):
        return {**EXPECTED_FAILURES, **EXPECTED_FAILURES_RANDOM}
    return {**EXPECTED_FAILURES, **EXPECTED_FAILURES_READING_G}


@pytest.mark.usefixtures("one_thread")
@parametrize_with_checks(SELECTORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_selector(estimator, check):
    check(estimator)
