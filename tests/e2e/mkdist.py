"""Builds a minimal but valid wheel and sdist for the PyPI tests, without a
build backend: mkdist.py OUTDIR NAME VERSION [REQUIRES_DIST ...]."""

import base64, hashlib, io, os, sys, tarfile, zipfile

out, name, version, *requires = sys.argv[1:]
os.makedirs(out, exist_ok=True)
module = name.lower().replace("-", "_").replace(".", "_")
dist = module  # the distribution name as file names spell it
metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: cairn test package\nRequires-Python: >=3.8\n"
metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
metadata += "\nA test package.\n"
files = {
    f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
    f"{dist}-{version}.dist-info/METADATA": metadata.encode(),
    f"{dist}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: cairn-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{path},sha256={digest},{len(data)}\n"
record += f"{dist}-{version}.dist-info/RECORD,,\n"
files[f"{dist}-{version}.dist-info/RECORD"] = record.encode()
with zipfile.ZipFile(os.path.join(out, f"{dist}-{version}-py3-none-any.whl"), "w") as z:
    for path, data in files.items():
        z.writestr(path, data)
with tarfile.open(os.path.join(out, f"{dist}-{version}.tar.gz"), "w:gz") as t:
    for path, data in {f"{dist}-{version}/PKG-INFO": metadata.encode(),
                       f"{dist}-{version}/{module}/__init__.py": files[f"{module}/__init__.py"]}.items():
        info = tarfile.TarInfo(path)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
