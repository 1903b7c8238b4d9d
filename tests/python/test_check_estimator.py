"""scikit-learn's own estimator checks (sklearn.utils.estimator_checks), one test each. The
checks lloyd is expected to fail are listed, with the reason, in KMeans._more_tags()
(`_xfail_checks`, as scikit-learn's KMeans lists its own)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import lloyd


@parametrize_with_checks([lloyd.KMeans(n_clusters=3, random_state=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
