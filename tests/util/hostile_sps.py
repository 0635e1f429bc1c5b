"""Rewrites the frame size every H.264 SPS of an Annex B stream declares.

usage: hostile_sps.py IN.h264 OUT.h264 WIDTH HEIGHT

The slices are left as they are, so the stream claims WIDTH x HEIGHT over data
of its real size: what a hostile or broken upload looks like. Handles the SPS
of the Baseline and Main profiles (no chroma format fields), as x264 writes them
with `-profile:v baseline`.
"""
import re
import sys


def unescape(b):
    return re.sub(b"\x00\x00\x03", b"\x00\x00", b)


def escape(b):
    out = bytearray()
    zeros = 0
    for x in b:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return bytes(out)


class Bits:
    def __init__(self, data):
        self.bits = "".join(f"{x:08b}" for x in data)
        self.pos = 0

    def u(self, n):
        v = int(self.bits[self.pos:self.pos + n], 2)
        self.pos += n
        return v

    def ue(self):
        zeros = 0
        while self.bits[self.pos] == "0":
            zeros += 1
            self.pos += 1
        self.pos += 1
        rest = self.u(zeros) if zeros else 0
        return (1 << zeros) - 1 + rest


def ue(v):
    code = f"{v + 1:b}"
    return "0" * (len(code) - 1) + code


def patch_sps(rbsp, width, height):
    r = Bits(rbsp)
    profile = r.u(8)
    if profile not in (66, 77, 88):
        sys.exit(f"profile {profile}: only Baseline/Main/Extended SPS are handled")
    r.u(16)  # constraint flags, level
    r.ue()  # seq_parameter_set_id
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        sys.exit("pic_order_cnt_type 1 is not handled")
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    head = r.bits[:r.pos]
    r.ue()
    r.ue()
    frame_mbs_only = r.bits[r.pos]
    if frame_mbs_only != "1":
        sys.exit("interlaced SPS is not handled")
    tail = r.bits[r.pos:].rstrip("0")[:-1]  # without the stop bit and padding
    bits = head + ue(width // 16 - 1) + ue(height // 16 - 1) + tail + "1"
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def main():
    src, dst, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    data = open(src, "rb").read()
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", data)]
    out = bytearray()
    patched = 0
    for i, s in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        nal = data[s:end]
        # A four-byte start code leaves its leading zero on the previous NAL.
        trail = b""
        if i + 1 < len(starts) and nal.endswith(b"\x00"):
            nal, trail = nal[:-1], b"\x00"
        if nal and nal[0] & 0x1F == 7:
            nal = nal[:1] + escape(patch_sps(unescape(nal[1:]), width, height))
            patched += 1
        out += b"\x00\x00\x01" + nal + trail
    if not patched:
        sys.exit("no SPS found")
    open(dst, "wb").write(bytes(out))


main()
