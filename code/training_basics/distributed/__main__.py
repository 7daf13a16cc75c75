"""``python -m training_basics.distributed --workers 2``: the lab's loop on two worker processes.

Taught in: book/distribute.md
"""

import argparse
import sys

from . import WorkerError, run_workers, worker_main


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m training_basics.distributed",
        description="Train the lab's model with MultiWorkerMirroredStrategy, workers on 127.0.0.1.")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--epochs", type=int, default=15, help="full-batch steps (default 15)")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="default 0.1")
    parser.add_argument("--checkpoint-dir", help="write a checkpoint there every --every steps")
    parser.add_argument("--every", type=int, default=5, help="steps between checkpoints (default 5)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in "
                        "--checkpoint-dir")
    parser.add_argument("--kill-at-step", type=int, help="SIGKILL the last worker after this step, then "
                        "restart all workers from the last checkpoint")
    parser.add_argument("--timeout", type=float, default=120, help="seconds for the whole run (default 120)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one worker, TF_CONFIG set
    parser.add_argument("--deadline", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--wait-after-step", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    try:
        run = run_workers(args.workers, args.epochs, args.learning_rate, args.checkpoint_dir, args.every,
                          args.resume, args.kill_at_step, args.timeout, echo=print)
    except (WorkerError, ValueError, TypeError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    same = len(set(run["final"])) == 1
    print(f"all {args.workers} workers hold the same w and b: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
