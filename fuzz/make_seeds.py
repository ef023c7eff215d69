#!/usr/bin/env python3
"""Writes small valid inputs for the fuzz targets to fuzz/corpus/ (standard
library only). Input layouts are described in fuzz/fuzz_targets.h."""
import gzip
import os
import struct

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


if __name__ == "__main__":
    main()
