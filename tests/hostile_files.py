"""Builders of hostile files for the bounded-read tests: zip members and gzip streams
that inflate to far more than they occupy (built in milliseconds from repeated deflate
segments, never by compressing the zeros), and zip members whose declared sizes lie.
Written from the zip (APPNOTE) and gzip (RFC 1952) formats, not from minidl's readers;
shared by tests/test_bounded_reads.py and the memory-capped fuzz child."""
import io
import struct
import zipfile
import zlib

MiB = 1 << 20
_ZEROS = bytes(MiB)


def deflate_then_zeros(prefix, zero_mib):
    """A raw deflate stream of ``prefix`` followed by ``zero_mib`` MiB of zeros.

    After a full flush a deflate compressor starts afresh, so the segment that one MiB
    of zeros compresses to can be repeated: a gigabyte costs about a megabyte."""
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = block.compress(_ZEROS) + block.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    return stream + segment * zero_mib + final


def gzip_then_zeros(prefix, zero_mib):
    """A gzip file holding ``prefix`` then ``zero_mib`` MiB of zeros (its CRC is left 0:
    a bounded reader stops long before the trailer)."""
    size = (len(prefix) + zero_mib * MiB) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00" + b"\x00" * 4 + b"\x00\xff"
    return header + deflate_then_zeros(prefix, zero_mib) + struct.pack("<II", 0, size)


def zip_archive(entries):
    """A zip file from ``(name, method, stored_bytes, file_size, crc)`` entries, written
    by hand so that the declared uncompressed size can be anything; a sixth item, when
    present, is the compressed size to declare instead of ``len(stored_bytes)``."""
    out, central = io.BytesIO(), []
    for name, method, data, file_size, crc, *forged in entries:
        encoded = name.encode()
        compressed = forged[0] if forged else len(data)
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                              compressed, file_size, len(encoded), 0) + encoded + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0,
                                   0x21, crc, compressed, file_size, len(encoded), 0, 0, 0,
                                   0, 0, offset) + encoded)
    start = out.tell()
    directory = b"".join(central)
    out.write(directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries),
                                      len(entries), len(directory), start, 0))
    return out.getvalue()


def zip_member(name, payload, method=zipfile.ZIP_STORED):
    """An honest entry for ``zip_archive``: ``payload`` stored or deflated, real CRC."""
    data = payload
    if method == zipfile.ZIP_DEFLATED:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = compressor.compress(payload) + compressor.flush()
    return (name, method, data, len(payload), zlib.crc32(payload))


def bomb_member(name, prefix, zero_mib):
    """A deflated entry that inflates to ``prefix`` and ``zero_mib`` MiB of zeros."""
    return (name, zipfile.ZIP_DEFLATED, deflate_then_zeros(prefix, zero_mib),
            len(prefix) + zero_mib * MiB, 0)


def zip_members(data):
    """``{name: bytes}`` of a (valid) zip file."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def npy_header(shape, descr="<f4"):
    """The bytes of a version 1.0 ``.npy`` header declaring ``shape`` of ``descr``."""
    text = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    text += " " * ((64 - (10 + len(text) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")
