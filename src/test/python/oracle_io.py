"""Small helpers shared by the oracle scripts: safetensors writing without the safetensors package."""
import json
import struct

import torch

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} (float32, int64 or uint8, C order, little endian) as a .safetensors file."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """{name: tensor} of a .safetensors file (F32, F16, I64)."""
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        b, e = spec["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=kinds[spec["dtype"]]).reshape(spec["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out
