#!/usr/bin/env python3
"""Size-preserving prune of the CUDA fat binaries inside an ELF shared library.

Every fat-binary entry whose target architecture is not in --keep is overwritten with zeros, header
and payload alike, so no offset in the library moves and the file keeps its size; only the kept
machine code survives, and the zeroed bytes compress to almost nothing. The CUDA runtime then finds
only the kept architectures' cubins. Use it for a check-only copy (for example sm_90 for an H100),
never for a build that must run on other GPUs.

Layout (as documented by public fat-binary readers): a fat binary starts with
  magic u32 = 0xBA55ED50, version u16, header_size u16, payload_size u64
followed by entries, each
  kind u16 (1 PTX, 2 cubin), version u16, header_size u32, payload_size u64, ...,
  arch u32 at offset 28 of the entry header,
with the entry's payload right after its header.
"""
import argparse, struct, sys

MAGIC = 0xBA55ED50

def section(data, name):
    # ELF64 little-endian section lookup.
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    strtab_off = struct.unpack_from('<Q', data, shoff + shstrndx * shentsize + 0x18)[0]
    for i in range(shnum):
        base = shoff + i * shentsize
        name_off, = struct.unpack_from('<I', data, base)
        end = data.index(b'\0', strtab_off + name_off)
        if data[strtab_off + name_off:end].decode() == name:
            offset, size = struct.unpack_from('<QQ', data, base + 0x18)
            return offset, size
    raise SystemExit(f'no section {name}')

def main():
    p = argparse.ArgumentParser()
    p.add_argument('library')
    p.add_argument('--keep', type=int, nargs='+', default=[90])
    p.add_argument('--out')
    a = p.parse_args()
    data = bytearray(open(a.library, 'rb').read())
    start, size = section(data, '.nv_fatbin')
    pos, end = start, start + size
    kept = dropped = entries = 0
    by_arch = {}
    while pos + 16 <= end:
        magic, version, header, payload = struct.unpack_from('<IHHQ', data, pos)
        if magic != MAGIC:
            pos += 8  # fat binaries are 8-byte aligned; skip padding
            continue
        e, stop = pos + header, pos + header + payload
        while e + 32 <= stop:
            kind, ever, eheader, esize = struct.unpack_from('<HHIQ', data, e)
            arch, = struct.unpack_from('<I', data, e + 28)
            total = eheader + esize
            entries += 1
            key = ('ptx' if kind == 1 else 'sass') + f'_sm{arch}'
            by_arch[key] = by_arch.get(key, 0) + total
            if arch in a.keep:
                kept += total
            else:
                dropped += total
                if a.out:
                    data[e + eheader:e + total] = bytes(esize)   # payload only: headers stay valid
            e += total
        pos = stop
    for k in sorted(by_arch):
        print(f'{k:>12}: {by_arch[k] / 2**20:8.1f} MiB', file=sys.stderr)
    print(f'{entries} entries; kept {kept / 2**20:.1f} MiB, zeroed {dropped / 2**20:.1f} MiB', file=sys.stderr)
    if a.out:
        open(a.out, 'wb').write(data)

main()
