"""`mtlcheck sim pretrain`: one configuration, its metrics as JSON."""
from __future__ import annotations

import json
import sys

from ..theory.model import Algorithm, ReferenceModel, TaskFamily
from ..theory.params import validate


def main_pretrain(args) -> int:
    from .pretrain import PretrainConfig, pretrain   # torch import only once arguments are read

    v = validate("sim pretrain", d=args.d, r=args.r, T=args.T, n1=args.n1, n2=args.n2, m=args.m,
                 family=args.tasks, noise=args.noise, variant=args.variant, rounds=args.rounds,
                 head_steps=args.head_steps, loss=args.loss, eta_a=args.eta_a, eta_w=args.eta_w,
                 task_pool=args.task_pool, seed=args.seed, device=args.device, dtype=args.dtype)
    if args.weight_decay is not None:
        validate("sim pretrain", weight_decay=args.weight_decay)
    if args.chunk is not None:
        validate("sim pretrain", chunk=args.chunk)
    model = ReferenceModel(v["d"], v["r"], family=TaskFamily(v["family"]), noise=v["noise"])
    algo = Algorithm(v["T"], v["n1"], v["n2"], v["m"], variant=v["variant"], eta_a=v["eta_a"],
                     eta_w=v["eta_w"], loss=v["loss"], head_steps=v["head_steps"],
                     rounds=v["rounds"], weight_decay=args.weight_decay, row_norm=args.row_norm,
                     task_pool=v["task_pool"], single_task=args.single_task)
    cfg = PretrainConfig(model, algo, seed=v["seed"], device=v["device"], dtype=v["dtype"],
                         chunk=args.chunk)
    progress = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    res = pretrain(cfg, progress=progress)
    config = {**cfg.to_dict(), "chunk": res.chunk}
    out = {**res.metrics(), "wall_s": res.wall_s, "device": res.device, "config": config,
           "rounds": res.rounds}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"E_out      = {out['E_out']:.6g}\nisotropy   = {out['isotropy']:.6g}\n"
              f"angles     = {', '.join(f'{a:.4f}' for a in out['principal_angles'])} rad\n"
              f"wall_s     = {out['wall_s']:.3f}  ({out['device']})")
    return 0
