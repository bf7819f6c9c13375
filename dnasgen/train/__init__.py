"""Supernet training (sandwich rule, in-place distillation, DDP), BN recalibration, scoring."""
from dnasgen.train.api import format_train, train_spec, workdir_of
from dnasgen.train.evaluate import evaluate, predict, recalibrate_bn, score_candidate
from dnasgen.train.loop import train_supernet
from dnasgen.train.state import CHECKPOINT_NAME, LOG_NAME

__all__ = ["train_supernet", "train_spec", "format_train", "workdir_of", "recalibrate_bn", "evaluate",
           "predict", "score_candidate", "CHECKPOINT_NAME", "LOG_NAME"]
