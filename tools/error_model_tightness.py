"""Measure how tight the error model is on torch.optim.Adagrad (docs/error-model.md, "How tight").

Runs torch's for-loop, foreach and fused paths on random 50-step trajectories of 3,000 elements
per dtype and prints the largest |torch - oracle| / bound and the largest error in ulps.

    .venv/bin/python tools/error_model_tightness.py
"""
import numpy as np, torch
from adagrad.reference import adagrad_step
from adagrad.conformance.error_model import ErrorTracker
from adagrad.conformance.dtypes import round_to, FORMATS, ulp
rng = np.random.default_rng(0)
worst = {}
for dtype in ["float64","float32","float16","bfloat16"]:
  for path in ["for","foreach","fused"]:
    for hyper in [dict(lr=0.1,lr_decay=0.0,weight_decay=0.0,eps=1e-10), dict(lr=0.5,lr_decay=0.1,weight_decay=0.1,eps=1e-3), dict(lr=1.0, lr_decay=0.0, weight_decay=0.5, eps=0.1), dict(lr=0.01,lr_decay=0.0,weight_decay=0.0,eps=0.0)]:
      tau = 0.1
      n=3000
      lo = 2**-7 if dtype=="float16" else 1e-6
      hi = 16 if dtype=="float16" else 1e3
      p0 = round_to(rng.uniform(-2,2,n), dtype)
      steps=50
      grads = [round_to(rng.choice([-1,1],n)*np.exp(rng.uniform(np.log(lo),np.log(hi),n)), dtype) for _ in range(steps)]
      td = getattr(torch,dtype)
      P = torch.tensor(p0, dtype=td)
      kw = {"foreach":path=="foreach", "fused": path=="fused" or None}
      opt = torch.optim.Adagrad([P], initial_accumulator_value=tau, **hyper, **kw)
      op, os_, ot = p0.copy(), np.full(n, tau), 0
      tr = ErrorTracker(dtype, (n,), initial_accumulator_value=tau)
      rmax=0; ulpmax=0
      for k in range(steps):
        P.grad = torch.tensor(grads[k], dtype=td)
        opt.step()
        b = tr.step(op, grads[k], os_, ot, **hyper)
        op, os_, ot = adagrad_step(op, grads[k], os_, ot, **hyper)
        a = P.detach().double().numpy()
        err = np.abs(a-op)
        r = (err/b.param).max()
        rmax=max(rmax,r); ulpmax=max(ulpmax,(err/ulp(op,FORMATS[dtype])).max())
        s = opt.state[P]["sum"].double().numpy()
        rs = (np.abs(s-os_)/b.sum).max(); rmax=max(rmax,rs)
      print(dtype, path, hyper, "max err/bound %.3f  max ulps %.1f"%(rmax, ulpmax))
