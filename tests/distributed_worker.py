"""Worker of tests/test_distributed.py, started by ``torchrun --nproc_per_node 2``.

Trains a SubsetTrainingClassifier around an AcceleratedNetClassifier on CPU
processes and saves, per rank, what the test compares: the selection history,
the factors and random state each selection round saw, the test accuracy and
the examples each rank trained on per epoch.
"""

import pickle
import sys

import torch
from accelerate import Accelerator
from skorch.callbacks import Callback

from sksubset import SubsetTrainingClassifier
from sksubset.distributed import AcceleratedNetClassifier
from sksubset.selectors import GradMatchSelector

ROUNDS = []  # (rng state, E, Hb, y) of every selection round of this rank


class RecordingSelector(GradMatchSelector):
    """GRAD-MATCH that keeps what each round was given."""

    def select(self, context):
        full = context.train()
        ROUNDS.append((context.rng.get_state(), full.E.numpy().copy(), full.Hb.numpy().copy(),
                       context.y.copy()))
        return super().select(context)


class CountRows(Callback):
    """Rows and summed weights this rank trains on, per epoch."""

    def on_epoch_begin(self, net, **kwargs):
        self.rows, self.weight = 0, 0.0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.rows += len(batch[0])
            self.weight += float(batch[1][1].sum())

    def on_epoch_end(self, net, **kwargs):
        net.history.record("rank_rows", self.rows)
        net.history.record("rank_weight", self.weight)


def main(out, data):
    torch.set_num_threads(1)
    with open(data, "rb") as f:
        params, X_train, y_train, X_test, y_test = pickle.load(f)
    accelerator = Accelerator(cpu=True)
    net = AcceleratedNetClassifier(accelerator=accelerator, callbacks=[CountRows()],
                                   **params["net"])
    clf = SubsetTrainingClassifier(net, selector=RecordingSelector(**params["selector"]),
                                   **params["clf"]).fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)  # every rank predicts: a collective
    rank = accelerator.process_index
    result = {"rank": rank, "world_size": accelerator.num_processes,
              "history": clf.selection_history_, "rounds": ROUNDS, "accuracy": accuracy,
              "rank_rows": clf.net_.history[:, "rank_rows"],
              "rank_weight": clf.net_.history[:, "rank_weight"],
              "subset_size": clf.net_.history[:, "subset_size"]}
    with open(f"{out}.rank{rank}", "wb") as f:
        pickle.dump(result, f)
    # leave the process group before exiting: a rank that exits with gloo's threads still
    # running can abort at shutdown ("terminate called without an active exception")
    accelerator.wait_for_everyone()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
