"""The libraries ``tools/compat.py`` checks: how to check each, what it needs installed, and
which scripts confirm its diagnosis outside the suite."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

__all__ = ["LIBRARIES", "Library", "installed"]


@dataclass(frozen=True)
class Library:
    """One column of a matrix: how to check it, what it needs installed, what confirms its diagnosis.

    ``confirm``: commands (script and arguments, relative to the repository) whose output is
    quoted under the library; a script that does not exist is left out. ``torch_api``: a
    torch-API optimizer checked directly with its shipped target spec (second matrix, every
    feature), not through an adapter.
    """

    name: str
    what: str
    args: tuple[str, ...]
    modules: tuple[str, ...]
    extra: str
    confirm: tuple[tuple[str, ...], ...] = ()
    torch_api: bool = False


_A = "adagrad.conformance.adapters"
_C = "tools/confirm"
_T = "tools/confirm_third_party"
LIBRARIES = (
    Library(
        "torch",
        "torch.optim.Adagrad 2.13 (the baseline; its known divergences D1, D3, D5 accepted)",
        ("torch.optim:Adagrad",),
        ("torch",),
        "",
    ),
    Library(
        "optax",
        "optax.adagrad (JAX, x64 on)",
        ("--adapter", "functional", f"{_A}.optax_adagrad:OptaxAdagrad"),
        ("optax", "jax"),
        "optax",
        ((f"{_C}/optax_update.py",),),
    ),
    Library(
        "keras",
        "keras.optimizers.Adagrad, Keras 3, torch backend",
        ("--adapter", "functional", f"{_A}.keras_adagrad:KerasAdagrad"),
        ("keras",),
        "keras",
        ((f"{_C}/keras_update.py",),),
    ),
    Library(
        "tf-keras",
        "keras.optimizers.Adagrad on TensorFlow (tf.keras)",
        ("--adapter", "functional", f"{_A}.tensorflow_adagrad:TfKerasAdagrad"),
        ("tensorflow", "keras"),
        "tensorflow",
        ((f"{_C}/tf_keras_update.py",),),
    ),
    Library(
        "tf-raw-op",
        "tf.raw_ops.ResourceApplyAdagradV2 (the ApplyAdagradV2 kernel)",
        ("--adapter", "functional", f"{_A}.tensorflow_adagrad:ApplyAdagradV2"),
        ("tensorflow",),
        "tensorflow",
        ((f"{_C}/tf_raw_op_update.py",),),
    ),
    Library(
        "mlx",
        "mlx.optimizers.Adagrad (CPU)",
        ("--adapter", "functional", f"{_A}.mlx_adagrad:MlxAdagrad"),
        ("mlx",),
        "mlx",
        ((f"{_C}/mlx_update.py",),),
    ),
    Library(
        "paddle",
        "paddle.optimizer.Adagrad (dynamic graph, CPU)",
        ("--adapter", "functional", f"{_A}.paddle_adagrad:PaddleAdagrad"),
        ("paddle",),
        "paddle",
        ((f"{_C}/paddle_update.py",),),
    ),
    Library(
        "onnx",
        "ONNX ai.onnx.preview.training Adagrad, onnx.reference evaluator",
        ("--adapter", "functional", f"{_A}.onnx_adagrad:OnnxAdagrad"),
        ("onnx",),
        "onnx",
        ((f"{_C}/onnx_update.py",),),
    ),
    Library(
        "node-example",
        "examples/exec/adagrad.mjs over the subprocess protocol (Node.js)",
        ("--exec", "node examples/exec/adagrad.mjs"),
        (),
        "",
    ),
    Library(
        "torchopt",
        "torchopt.Adagrad (0.7), shipped target spec `torchopt_adagrad`",
        ("torchopt:Adagrad",),
        ("torchopt",),
        "torchopt",
        ((f"{_C}/torch_api_update.py", "torchopt"), (f"{_T}/torchopt.py",)),
        torch_api=True,
    ),
    Library(
        "bnb-Adagrad",
        "bitsandbytes.optim.Adagrad (32-bit state), shipped target spec `bitsandbytes_adagrad`",
        ("bitsandbytes.optim:Adagrad",),
        ("bitsandbytes",),
        "bitsandbytes",
        ((f"{_C}/torch_api_update.py", "bitsandbytes"), (f"{_T}/bitsandbytes.py",)),
        torch_api=True,
    ),
    Library(
        "bnb-Adagrad32bit",
        "bitsandbytes.optim.Adagrad32bit, shipped target spec `bitsandbytes_adagrad`",
        ("bitsandbytes.optim:Adagrad32bit",),
        ("bitsandbytes",),
        "bitsandbytes",
        ((f"{_C}/torch_api_update.py", "bitsandbytes"), (f"{_T}/bitsandbytes.py",)),
        torch_api=True,
    ),
    Library(
        "bnb-Adagrad8bit",
        "bitsandbytes.optim.Adagrad8bit (8-bit blockwise state from 4,096 elements), shipped target spec "
        "`bitsandbytes_adagrad`",
        ("bitsandbytes.optim:Adagrad8bit",),
        ("bitsandbytes",),
        "bitsandbytes",
        ((f"{_C}/torch_api_update.py", "bitsandbytes"), (f"{_T}/bitsandbytes.py",)),
        torch_api=True,
    ),
    Library(
        "deepspeed",
        "deepspeed.ops.adagrad.DeepSpeedCPUAdagrad (CPU op, built with g++ on first use), shipped target spec "
        "`deepspeed_adagrad`",
        ("deepspeed.ops.adagrad:DeepSpeedCPUAdagrad",),
        ("deepspeed",),
        "deepspeed",
        ((f"{_C}/torch_api_update.py", "deepspeed"), (f"{_T}/deepspeed.py",)),
        torch_api=True,
    ),
)


def installed(lib: Library) -> str | None:
    """None if the library imports, else why not."""
    missing = [m for m in lib.modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"not installed here ({', '.join(missing)}): `pip install -c constraints.txt -e '.[{lib.extra}]'`"
    return None
