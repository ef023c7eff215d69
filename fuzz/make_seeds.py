#!/usr/bin/env python3
"""Writes small valid inputs for the fuzz targets to fuzz/corpus/ (standard
library only, except the state_dict seeds, written with torch when it is
installed: run with Debian's /usr/bin/python3). Input layouts are described in
fuzz/fuzz_targets.h."""
import gzip
import io
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx_pair(count, rows, cols):
    images = struct.pack(">IIII", 0x803, count, rows, cols) + bytes((i * 7) % 256 for i in range(count * rows * cols))
    labels = struct.pack(">II", 0x801, count) + bytes(i % 10 for i in range(count))
    return images, labels


def main():
    images, labels = idx_pair(3, 4, 4)
    put("idx", "plain", struct.pack(">H", len(images)) + images + labels)
    gi = gzip.compress(images, mtime=0)
    put("idx", "gzip", struct.pack(">H", len(gi)) + gi + gzip.compress(labels, mtime=0))

    pixels = bytes((i * 13) % 256 for i in range(3072))
    put("cifar", "cifar10", b"\x00" + bytes([3]) + pixels + bytes([9]) + pixels)
    put("cifar", "cifar100", b"\x01" + bytes([2, 55]) + pixels + bytes([19, 99]) + pixels)

    x = bytes((i * 5) % 256 for i in range(96 * 96 * 3))
    put("stl10", "labeled", struct.pack(">H", len(x)) + x + bytes([4]))  # 0x6c00: first byte even
    put("stl10", "unlabeled", struct.pack(">H", 0x6D00) + x)               # odd: no labels, all bytes are X
    state_dict_seeds()


def state_dict_seeds():
    """state_dict: <0x00><data.pkl> (the pickle, over the storages that
    zip_around_pickle in fuzz_targets.h provides: data/0 and data/1 of 64
    bytes, data/2 of 6) or <0x01><a whole torch.save file>."""
    try:
        import torch
    except ImportError:
        print("torch not installed: state_dict seeds not written")
        return

    def saved(obj):
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()

    def pickle_of(obj):
        with zipfile.ZipFile(io.BytesIO(saved(obj))) as z:
            return z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))

    torch.manual_seed(0)
    linear = torch.nn.Linear(2, 3).state_dict()  # weight: 6 floats in data/0, bias: 3 in data/1
    bn = torch.nn.BatchNorm1d(2).state_dict()  # floats and a long (num_batches_tracked)
    strided = {"t": torch.zeros(4, 4).t(), "view": torch.zeros(16)[3:9].view(2, 3)}
    put("state_dict", "pickle-one", b"\x00" + pickle_of({"w": torch.zeros(2)}))
    put("state_dict", "pickle-linear", b"\x00" + pickle_of(linear))
    put("state_dict", "pickle-batchnorm", b"\x00" + pickle_of(bn))
    put("state_dict", "pickle-strided", b"\x00" + pickle_of(strided))
    put("state_dict", "pickle-types", b"\x00" + pickle_of({"h": torch.zeros(3, dtype=torch.half),
                                                           "b": torch.zeros(2, dtype=torch.bool),
                                                           "i": torch.zeros(2, dtype=torch.int32)}))
    put("state_dict", "zip-linear", b"\x01" + saved(linear))
    # The same re-packed with deflate (Python's zipfile), as a user might.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(saved(linear))) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    put("state_dict", "zip-deflated", b"\x01" + out.getvalue())


if __name__ == "__main__":
    main()
