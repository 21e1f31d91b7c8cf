"""Worker of tests/test_distributed_faults.py: one of two CPU processes (gloo) of a fit.

Started as a plain process with ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` set (no launcher, which would stop the survivor itself when a
process dies).  Rank 1 stops itself, killed (``SIGKILL``) or paused
(``SIGSTOP``), in the second selection round (``where="select"``) or in a
training epoch of the first round's subset (``where="train"``); rank 0 writes
what its ``fit`` raised to ``OUT.rank0``.  The process group's timeout is 5 s.

    python distributed_fault_worker.py OUT kill|pause select|train
"""

import datetime
import os
import pickle
import signal
import sys

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import InitProcessGroupKwargs
from skorch.callbacks import Callback

from sksubset import SubsetTrainingClassifier
from sksubset.distributed import AcceleratedNetClassifier
from sksubset.selectors import RandomSelector

TIMEOUT = datetime.timedelta(seconds=5)


def main(out, how, where):
    torch.set_num_threads(1)
    accelerator = Accelerator(cpu=True, kwargs_handlers=[InitProcessGroupKwargs(timeout=TIMEOUT)])

    def stop():
        if accelerator.process_index == 1:
            os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGSTOP)

    class StopIn(RandomSelector):
        rounds = 0

        def select(self, context):
            StopIn.rounds += 1
            if where == "select" and StopIn.rounds == 2:
                stop()
            return super().select(context)

    class StopAt(Callback):
        def on_epoch_begin(self, net, **kwargs):
            if where == "train" and len(net.history) == 2:  # the second epoch: round 1's subset
                stop()

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 8)).astype(np.float32)
    y = np.arange(120) % 3
    net = AcceleratedNetClassifier(
        accelerator=accelerator, criterion=torch.nn.CrossEntropyLoss, max_epochs=6, batch_size=8,
        module=torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)),
        lr=0.05, train_split=None, verbose=0, callbacks=[StopAt()])
    clf = SubsetTrainingClassifier(net, selector=StopIn(), budget=0.5, R=2, kappa=0.0,
                                   random_state=0, verbose=0)
    try:
        clf.fit(X, y)
    except Exception as exc:
        result = {"type": type(exc).__name__, "message": str(exc),
                  "cause": repr(exc.__cause__),
                  **{name: getattr(exc, name, "-") for name in
                     ("rank", "world_size", "epoch", "selection_round", "timeout")}}
        with open(f"{out}.rank{accelerator.process_index}", "wb") as f:
            pickle.dump(result, f)
        os._exit(3)  # the group is broken: leave without tearing it down
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:])
