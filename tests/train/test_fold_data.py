import torch

from memamba.train.fold_data import _loaded


def test_reading_batches_leaves_the_models_random_stream_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert [result for _, result in _loaded(lambda item: item * 2, [1, 2, 3], workers=0)] == [2, 4, 6]
    torch.testing.assert_close(torch.rand(3), expected)
