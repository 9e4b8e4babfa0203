#!/usr/bin/python3
"""Writes the bad inputs of issue 19 that tests/unit/sim/hardening_test.cpp reads (run once; the files are
checked in). Needs the zstd command and a built uvmsim:

  tests/data/bad/make_inputs.py build/release/uvmsim

- zeros_2gib.uvmt: 67 KB whose header declares a 2 GiB body, a zstd frame of 2 GiB of zeros (and a wrong
  hash): the reader once decompressed it all (2.1 GB of memory) before the checksum failed.
- zeros_16gib.uvmt: the same frame, the header declaring 16 GiB: once a bare std::bad_alloc.
- huge_resident.uvmt: a valid small trace whose kernel's resident time is 2^63 - 1000 ns.
- huge_host_gap.uvmt: a valid small trace whose first op's host gap is INT64_MAX.
- third_party_v3.uvmt: a trace written by this script as FORMAT.md describes it (version 3, FNV-1a 64 of
  the body with the offset basis 14695981039346656037), not by uvmsim's writer.
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = b"\x89UVMT\r\n\x1a"


def fnv1a64(data, basis=14695981039346656037):
    h = basis
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def zstd(data):
    return subprocess.run(["zstd", "-q", "-19", "-c"], input=data, check=True, capture_output=True).stdout


def unzstd(data):
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, check=True, capture_output=True).stdout


def file_of(body, version=3, declared=None, hash_=None):
    declared = len(body) if declared is None else declared
    hash_ = fnv1a64(body) if hash_ is None else hash_
    return MAGIC + struct.pack("<IIQQ", version, 0, declared, hash_) + zstd(body)


def sections(body):
    """(tag, payload offset, payload length) of each section."""
    out, at = [], 0
    while at < len(body):
        tag = body[at:at + 4].decode()
        (n,) = struct.unpack_from("<Q", body, at + 4)
        out.append((tag, at + 12, n))
        at += 12 + n
    return out


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


def main():
    uvmsim = sys.argv[1]
    # 2 GiB of zeros, compressed in a stream: about 67 KB.
    zeros = subprocess.run(f"head -c {2 << 30} /dev/zero | zstd -q -19 -c", shell=True, check=True,
                           capture_output=True).stdout
    head = MAGIC + struct.pack("<IIQQ", 3, 0, 2 << 30, 0)
    write("zeros_2gib.uvmt", head + zeros)
    write("zeros_16gib.uvmt", MAGIC + struct.pack("<IIQQ", 3, 0, 16 << 30, 0) + zeros)

    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small.uvmt")
        subprocess.run([uvmsim, "generate", "--pattern", "seq", "--bytes", "64KiB", "--out", small], check=True)
        raw = open(small, "rb").read()
    body = bytearray(unzstd(raw[32:]))
    secs = {tag: (at, n) for tag, at, n in sections(body)}
    write("third_party_v3.uvmt", file_of(bytes(body)))

    # KERN: count u64, then kernel 0: tenant, stream, layer (u32 x3), name (u32 length + bytes), grid and block
    # (u32 x6), registers and shared memory (u32 x2), resident_ns (u64).
    at = secs["KERN"][0] + 8 + 12
    (name_len,) = struct.unpack_from("<I", body, at)
    at += 4 + name_len + 24 + 8
    patched = bytearray(body)
    struct.pack_into("<Q", patched, at, (1 << 63) - 1000)
    write("huge_resident.uvmt", file_of(bytes(patched)))

    # OPS_: count u64, then op 0: kind u8, access u8, device i32, tenant u32, stream u32, a b c u64, host_ns i64,
    # host_gap_ns i64.
    at = secs["OPS_"][0] + 8 + 1 + 1 + 4 + 4 + 4 + 24 + 8
    patched = bytearray(body)
    struct.pack_into("<q", patched, at, (1 << 63) - 1)
    write("huge_host_gap.uvmt", file_of(bytes(patched)))


if __name__ == "__main__":
    main()
