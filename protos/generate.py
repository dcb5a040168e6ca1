"""Regenerate the Python code for switchboard.v1 from the .proto files beside it.

Run from anywhere: `python protos/generate.py`. With `--check`, exit 1 if the committed
generated code differs from what the .proto files give (CI runs this).

Each generated file ends with the SHA-256 of the .proto text it came from: a change to a
.proto that protoc does not carry into the code (its comments, which document the API) still
calls for regenerating, so the code in the repository always names the text it matches.
"""

from __future__ import annotations

import filecmp
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

PROTOS = Path(__file__).resolve().parent
PACKAGE = PROTOS / "switchboard" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out: Path) -> None:
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PACKAGE.glob("*.proto"))
    # The include path mirrors the package path, so generated imports read
    # `from switchboard.v1 import common_pb2` and resolve inside our package.
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    for generated in (out / "switchboard" / "v1").iterdir():
        proto = PACKAGE / (generated.name.split("_pb2", 1)[0] + ".proto")
        digest = hashlib.sha256(proto.read_bytes()).hexdigest()
        with generated.open("a", encoding="utf-8") as f:
            f.write(f"# generated from {proto.name}, sha256 {digest}\n")


def main() -> int:
    check = "--check" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out)
        fresh = sorted((out / "switchboard" / "v1").iterdir())
        if check:
            stale = [
                f.name
                for f in fresh
                if not (PACKAGE / f.name).exists()
                or not filecmp.cmp(f, PACKAGE / f.name, shallow=False)
            ]
            extra = [
                p.name
                for p in PACKAGE.iterdir()
                if p.name.endswith(SUFFIXES) and not (out / "switchboard" / "v1" / p.name).exists()
            ]
            if stale or extra:
                print(f"generated code is stale: {', '.join(stale + extra)}; run `make protos`")
                return 1
            print("generated code is up to date")
            return 0
        for f in fresh:
            shutil.copyfile(f, PACKAGE / f.name)
        print(f"regenerated {len(fresh)} files in {PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
