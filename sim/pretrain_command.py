"""`mtlcheck sim pretrain`: one configuration, its metrics as JSON."""
from __future__ import annotations

import json
import sys

from ..theory.model import Algorithm, ReferenceModel, TaskFamily
from ..theory.params import ParameterError, validate


def _config(args):
    v = validate("sim pretrain", d=args.d, r=args.r, T=args.T, n1=args.n1, n2=args.n2, m=args.m,
                 tasks=args.tasks, noise=args.noise, variant=args.variant, rounds=args.rounds,
                 head_steps=args.head_steps, loss=args.loss, eta_a=args.eta_a, eta_w=args.eta_w,
                 task_pool=args.task_pool, seed=args.seed, device=args.device, dtype=args.dtype)
    if args.weight_decay is not None:
        validate("sim pretrain", weight_decay=args.weight_decay)
    if args.chunk is not None:
        validate("sim pretrain", chunk=args.chunk)
    if v["variant"] == "one-step":
        # options that only the alternating variant reads are refused, never silently ignored
        for name, given, default in (("rounds", v["rounds"], 1), ("head_steps", v["head_steps"], 1),
                                     ("task_pool", v["task_pool"], "fixed"),
                                     ("row_norm", args.row_norm, False)):
            if given != default:
                raise ParameterError(name, "sim pretrain --variant one-step",
                                     f"{default!r} (it applies to --variant alternating only)",
                                     given)
    model = ReferenceModel(v["d"], v["r"], family=TaskFamily(v["tasks"]), noise=v["noise"])
    algo = Algorithm(v["T"], v["n1"], v["n2"], v["m"], variant=v["variant"], eta_a=v["eta_a"],
                     eta_w=v["eta_w"], loss=v["loss"], head_steps=v["head_steps"],
                     rounds=v["rounds"], weight_decay=args.weight_decay, row_norm=args.row_norm,
                     task_pool=v["task_pool"], single_task=args.single_task)
    return v, model, algo


def main_pretrain(args) -> int:
    from .pretrain import PretrainConfig, pretrain   # torch import only once arguments are read

    v, model, algo = _config(args)
    cfg = PretrainConfig(model, algo, seed=v["seed"], device=v["device"], dtype=v["dtype"],
                         chunk=args.chunk)
    progress = None if args.json else (lambda msg: print(msg, file=sys.stderr, flush=True))
    res = pretrain(cfg, progress=progress)
    config = cfg.to_dict()
    # the values actually used, not the requests: the device, the chunk, the weight decay
    config.update(chunk=res.chunk, device=res.device)
    config["algo"]["weight_decay"] = algo.effective_weight_decay
    out = {**res.metrics(), "wall_s": res.wall_s, "device": res.device, "config": config,
           "rounds": res.rounds}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"E_out      = {out['E_out']:.6g}\nisotropy   = {out['isotropy']:.6g}\n"
              f"angles     = {', '.join(f'{a:.4f}' for a in out['principal_angles'])} rad\n"
              f"wall_s     = {out['wall_s']:.3f}  ({out['device']})")
    return 0
