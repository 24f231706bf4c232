exports_files(["defs.bzl"])
