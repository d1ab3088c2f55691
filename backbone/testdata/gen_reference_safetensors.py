"""Writes reference.safetensors: a file laid out as huggingface/safetensors'
own writer lays it out (safetensors/src/tensor.rs serialize: tensors sorted
by dtype alignment, then name; JSON header padded with spaces to a multiple
of 8 bytes; little-endian data), written here with the Python standard
library only, independently of the Go code that reads it.

Run: /usr/bin/python3 gen_reference_safetensors.py
"""
import json, struct

tensors = [
    # name, dtype, shape, values
    ("conv1.weight", "F32", [2, 1, 3, 3], [0.25 * i - 2 for i in range(18)]),
    ("bn1.weight", "F32", [2], [1.5, -0.5]),
    ("bn1.running_var", "F32", [2], [0.75, 2.0]),
    ("bn1.num_batches_tracked", "I64", [], [7]),
    # Training state beyond the parameters: a neighbor list (N×k, I64)
    # and pseudo-labels (I32), with values beyond 32 bits and negatives.
    ("state.neighbors", "I64", [3, 2], [1, 2, 0, 2, -1, 1 << 40]),
    ("state.labels", "I32", [4], [3, 0, -7, 2147483647]),
]
size = {"F32": 4, "I32": 4, "I64": 8}
fmt = {"F32": "<f", "I32": "<i", "I64": "<q"}
# safetensors sorts by alignment (descending), then by name.
tensors.sort(key=lambda t: (-size[t[1]], t[0]))
header, data = {}, b""
for name, dtype, shape, values in tensors:
    raw = b"".join(struct.pack(fmt[dtype], v) for v in values)
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
header["__metadata__"] = {"format": "pt"}
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open("reference.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
