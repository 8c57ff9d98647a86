"""Draw the extension's icons (icon16/32/48/128.png) with the standard library only.

    python3 extension/icons/make_icons.py

A white ghost with two eyes on a rounded indigo square, drawn at 8x and
averaged down (anti-aliasing), written as RGBA PNG.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).parent
BG = (48, 63, 159)        # indigo
GHOST = (255, 255, 255)
EYE = (48, 63, 159)
SS = 8                    # supersampling factor


def inside_rounded_square(x: float, y: float, r: float = 0.22) -> bool:
    cx = min(max(x, r), 1 - r)
    cy = min(max(y, r), 1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def inside_ghost(x: float, y: float) -> bool:
    # Head: a circle; body: a rectangle below it with a wavy hem.
    cx, cy, r = 0.5, 0.42, 0.27
    if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
        return True
    if cx - r <= x <= cx + r and cy <= y:
        hem = 0.80 + 0.05 * math.cos((x - (cx - r)) / (2 * r) * 3 * 2 * math.pi)
        return y <= hem
    return False


def inside_eye(x: float, y: float) -> bool:
    for ex in (0.41, 0.59):
        if ((x - ex) / 0.045) ** 2 + ((y - 0.41) / 0.07) ** 2 <= 1:
            return True
    return False


def pixel(x: float, y: float):
    if not inside_rounded_square(x, y):
        return None
    if inside_eye(x, y):
        return EYE
    if inside_ghost(x, y):
        return GHOST
    return BG


def render(size: int) -> bytes:
    rows = []
    n = size * SS
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SS):
                for sx in range(SS):
                    c = pixel((px * SS + sx + 0.5) / n, (py * SS + sy + 0.5) / n)
                    if c is not None:
                        acc[0] += c[0]
                        acc[1] += c[1]
                        acc[2] += c[2]
                        acc[3] += 1
            k = acc[3]
            if k:
                row += bytes((acc[0] // k, acc[1] // k, acc[2] // k, round(255 * k / (SS * SS))))
            else:
                row += bytes(4)
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    for size in (16, 32, 48, 128):
        (HERE / f"icon{size}.png").write_bytes(render(size))
        print(f"icon{size}.png")
