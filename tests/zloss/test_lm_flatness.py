"""The LM flatness measure: the checkpoint at 80 % of training and the relative drop after it."""

import numpy as np
import pytest

from experiments import zloss


def test_flat_index_is_the_checkpoint_at_80_percent():
    assert zloss.flat_index(10) == 7        # checkpoints at 10 %, ..., 100 %: the 8th is 80 %
    assert zloss.flat_index(5) == 3
    steps = [zloss.FULL.lm_steps // zloss.FULL.lm_curve_points * (i + 1)
             for i in range(zloss.FULL.lm_curve_points)]
    assert steps[zloss.flat_index(zloss.FULL.lm_curve_points)] == 0.8 * zloss.FULL.lm_steps
    for bad in (1, 6, 12):
        with pytest.raises(ValueError, match="lm_curve_points"):
            zloss.flat_index(bad)


def test_rel_drop_sign_and_scale():
    curve = np.array([[0.5, 0.2], [0.42, 0.2], [0.40, 0.21]])   # checkpoints × k
    d = zloss.rel_drop(curve, 1)
    np.testing.assert_allclose(d, [0.02 / 0.40, -0.01 / 0.21])   # > 0: still falling
    assert zloss.rel_drop(np.ones((3, 2)), 0).tolist() == [0.0, 0.0]
