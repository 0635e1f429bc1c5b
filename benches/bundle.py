#!/usr/bin/env python3
"""Packs mpe, this machine's ffmpeg and the tools benches/compare.sh needs into one folder
that runs on another x86-64 Linux with nothing installed (the `device` machine).

    python3 benches/bundle.py OUT_DIR [EXTRA_BINARY...]

Debian's FFmpeg links ~160 libraries (200+ MB) for codecs, filters and devices the
benchmark never touches. Those libraries are replaced by stubs: a small shared object of
the same soname that defines exactly the symbols (and symbol versions) the kept libraries
import from it, each function returning 0. Zero is success for the few that run anyway
(avformat_network_init calls gnutls_global_init); nothing the benchmark does reaches the
others. What the benchmark runs (libav*,
libsw*, libx264, glibc and the compression libraries) is copied as is, with glibc's own
loader, so the bundle does not depend on the other machine's C library.

Every binary gets a wrapper in OUT_DIR/bin that starts it through the bundled loader.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Libraries copied as they are; every other dependency becomes a stub.
KEEP = re.compile(
    r"^(libav(codec|format|util|filter|device)|libsw(scale|resample)|libpostproc|libx264"
    r"|libc|libm|libpthread|libdl|librt|libresolv|ld-linux-x86-64|libgcc_s|libstdc\+\+"
    r"|libz|liblzma|libbz2|libzstd|libreadline|libtinfo)\.so"
)


# Stubs whose zero would crash their caller: gme_identify_header's "" means "not mine"
# (libavformat probes every input with it), NULL is dereferenced.
OVERRIDES = {"gme_identify_header": 'const char *gme_identify_header(void) { return ""; }'}


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def needed(path):
    """DT_NEEDED sonames of a binary or library."""
    out = run("readelf", "-d", path)
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)


def resolve(binary):
    """soname -> path for everything the dynamic loader would load for `binary`."""
    paths = {}
    for line in run("ldd", binary).splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
        m = re.match(r"\s*(/\S*ld-linux[^ ]*)", line)
        if m:
            paths[os.path.basename(m.group(1))] = m.group(1)
    return paths


def symbols(path, defined):
    """(name, version or '', type, size) of the dynamic symbols of a library."""
    flag = "--defined-only" if defined else "--undefined-only"
    out = run("nm", "-D", "-S", flag, path)
    result = []
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if defined and len(parts) == 4:
            _, size, kind, sym = parts
        elif defined and len(parts) == 3:
            _, kind, sym = parts
            size = "0"
        elif not defined:
            kind, sym, size = parts[-2], parts[-1], "0"
        else:
            continue
        name, _, version = sym.partition("@")
        result.append((name, version.lstrip("@"), kind, int(size, 16)))
    return result


def stub(soname, source_path, wanted, out_dir, build):
    """Builds a stub of `source_path` defining the `wanted` (name, version) symbols."""
    defined = {(n, v): (k, s) for n, v, k, s in symbols(source_path, True)}
    by_name = {}
    for (n, v), ks in defined.items():
        by_name.setdefault(n, (v, ks))
    c_lines, versions = [], {}
    for name, version in sorted(wanted):
        kind, size = defined.get((name, version), by_name.get(name, ("", ("T", 0)))[1])
        version = version or by_name.get(name, ("", None))[0]
        if name in OVERRIDES:
            c_lines.append(OVERRIDES[name])
        elif kind in "TWiI":
            c_lines.append(f"long {name}(void) {{ return 0; }}")
        else:
            c_lines.append(f"char {name}[{max(size, 8)}];")
        versions.setdefault(version, []).append(name)
    c_file = os.path.join(build, soname + ".c")
    with open(c_file, "w") as f:
        f.write("\n".join(c_lines) + "\n")
    cmd = ["cc", "-shared", "-fPIC", "-w", "-o", os.path.join(out_dir, soname), c_file,
           f"-Wl,-soname,{soname}"]
    named = [v for v in versions if v]
    if named:
        script = os.path.join(build, soname + ".map")
        with open(script, "w") as f:
            for i, v in enumerate(named):
                names = versions[v] + (versions.get("", []) if i == 0 else [])
                f.write(f"{v} {{ global: {'; '.join(names)}; }};\n")
        cmd.append(f"-Wl,--version-script={script}")
    subprocess.run(cmd, check=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    binaries = [shutil.which(b) or b for b in sys.argv[2:]]
    lib_dir, bin_dir = os.path.join(out, "lib"), os.path.join(out, "bin")
    os.makedirs(lib_dir, exist_ok=True)
    os.makedirs(bin_dir, exist_ok=True)
    paths = {}
    for b in binaries:
        paths.update(resolve(b))
    kept = {so: p for so, p in paths.items() if KEEP.match(so)}
    # What the kept objects import from each library that is not kept.
    wanted = {}
    for obj in binaries + list(kept.values()):
        imports = [(n, v) for n, v, _, _ in symbols(obj, False)]
        for so in needed(obj):
            if so in kept or so not in paths:
                continue
            provided = {(n, v) for n, v, _, _ in symbols(paths[so], True)}
            names = {n for n, _ in provided}
            want = wanted.setdefault(so, set())
            want.update((n, v) for n, v in imports if n in names)
    for so, p in kept.items():
        shutil.copy2(p, os.path.join(lib_dir, so))
    with tempfile.TemporaryDirectory() as build:
        for so, want in wanted.items():
            stub(so, paths[so], want, lib_dir, build)
    loader = next(so for so in kept if so.startswith("ld-linux"))
    for b in binaries:
        name = os.path.basename(b)
        real = os.path.join(bin_dir, name + ".real")
        shutil.copy2(b, real)
        # Debug info is most of a release build's size, and none of its speed.
        subprocess.run(["strip", real], check=True)
        wrapper = os.path.join(bin_dir, name)
        with open(wrapper, "w") as f:
            f.write(
                "#!/bin/sh\n"
                'd=$(cd "$(dirname "$0")/.." && pwd)\n'
                f'exec "$d/lib/{loader}" --library-path "$d/lib" "$d/bin/{name}.real" "$@"\n'
            )
        os.chmod(wrapper, 0o755)
    print(f"{out}: {len(kept)} libraries kept, {len(wanted)} stubbed", file=sys.stderr)


if __name__ == "__main__":
    main()
