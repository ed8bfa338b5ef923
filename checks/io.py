"""The one atomic writer: a file is replaced only by a complete one.

A write goes to a temporary file in the same folder, is fsync'ed, renamed over the final name
(atomic on POSIX), and the folder is fsync'ed, so that a process killed at any moment leaves
either the old file or the new one, never a torn one. The cache, results.json, the audit and
the calibration outputs all go through here.
"""
from __future__ import annotations

import json
import os
import tempfile

from ..theory.params import Described, ParameterError

__all__ = ["atomic_write_text", "atomic_write_json", "check_writable_folder", "json_safe",
           "encode_array", "decode_array"]


def encode_array(a) -> dict:
    """An array as JSON, exactly: dtype, shape and the raw little-endian bytes in base64 (a
    float32 matrix takes 4/3 of its bytes, not the ~20 characters per entry of a list)."""
    import base64

    import numpy as np
    a = np.ascontiguousarray(np.asarray(a))
    return {"dtype": a.dtype.str, "shape": list(a.shape),
            "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(obj: dict):
    """The array of :func:`encode_array`."""
    import base64

    import numpy as np
    return np.frombuffer(base64.b64decode(obj["b64"]), dtype=np.dtype(obj["dtype"])).reshape(
        obj["shape"]).copy()


def json_safe(obj):
    """``obj`` with every non-finite float (NaN, inf) replaced by None, tuples by lists and
    numpy scalars by Python numbers: what strict JSON can hold (None reads as 'undefined')."""
    import math
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):          # numpy / torch scalars
        return json_safe(obj.item())
    return obj


def atomic_write_text(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def atomic_write_json(path: str, obj, indent: int | None = None, strict: bool = True) -> None:
    """``obj`` as JSON, written atomically. ``strict``: no NaN or inf (results files are strict
    JSON; a non-finite number there is a bug upstream); the internal cache may hold them."""
    atomic_write_text(path, json.dumps(obj, indent=indent, allow_nan=not strict, default=str))


def check_writable_folder(path: str, param: str, where: str, create: bool = True) -> str:
    """Create ``path`` if needed and prove that a file can be written in it, before any work;
    a folder that cannot be used is one ParameterError naming ``param`` and the reason. With
    ``create=False`` nothing is created: the path must be a folder, or not exist below a
    writable folder (a verb that may still refuse its input checks its output this way first)."""
    path = os.path.abspath(path)
    what = "a folder that can be created and written"
    if not create:
        if os.path.exists(path) and not os.path.isdir(path):
            raise ParameterError(param, where, what, Described(f"{path!r} (a file, not a folder)"))
        up = path
        while not os.path.exists(up):
            up = os.path.dirname(up)
        if not os.path.isdir(up):
            raise ParameterError(param, where, what,
                                 Described(f"{path!r} (a file stands on that path)"))
        try:                                    # a file can be made where the folder would be
            fd, tmp = tempfile.mkstemp(prefix=".write-test-", dir=up)
            os.close(fd)
            os.unlink(tmp)
        except OSError as e:
            reason = e.strerror or e.__class__.__name__
            raise ParameterError(param, where, what, Described(f"{path!r} ({reason})")) from None
        return path
    try:
        os.makedirs(path, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except NotADirectoryError:
        raise ParameterError(param, where, what,
                             Described(f"{path!r} (a file stands on that path)")) from None
    except FileExistsError:
        raise ParameterError(param, where, what, Described(f"{path!r} (a file, not a folder)")) from None
    except OSError as e:
        reason = e.strerror or e.__class__.__name__
        raise ParameterError(param, where, what, Described(f"{path!r} ({reason})")) from None
    return path
