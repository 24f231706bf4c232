"""asap_dependencies(): the repositories asap needs, bound to Debian's packages.

Call it from a WORKSPACE, the asap repository's own or a consumer's:

    local_repository(name = "asap", path = "/path/to/asap")
    load("@asap//third_party:repositories.bzl", "asap_dependencies")
    asap_dependencies()

Nothing is downloaded: every repository is made from files on this machine
(installed by tools/setup.sh) or from files inside asap.
"""

load("//third_party/debian:debian_libraries.bzl", "debian_libraries")

def _files_repository_impl(ctx):
    """Copies a BUILD file and its sibling sources from asap into a new repository."""
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    for label, dest in ctx.attr.files.items():
        ctx.symlink(ctx.path(label), dest)

_files_repository = repository_rule(
    implementation = _files_repository_impl,
    attrs = {"files": attr.label_keyed_string_dict(allow_files = True)},
)

def _maybe(rule, name, **kwargs):
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def asap_dependencies():
    """Declares rules_java, rules_cc, remote_coverage_tools, com_google_protobuf,
    asap_debian (gRPC, Abseil, zlib, brotli, GoogleTest, Benchmark) and registers a
    Python toolchain for Debian's /usr/bin/python3."""
    _maybe(
        native.local_repository,
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    _maybe(
        _files_repository,
        name = "rules_cc",
        files = {
            "@asap//third_party/rules_cc:BUILD.cc": "cc/BUILD",
            "@asap//third_party/rules_cc:defs.bzl": "cc/defs.bzl",
            "@asap//third_party:BUILD.empty": "BUILD",
        },
    )
    _maybe(
        _files_repository,
        name = "remote_coverage_tools",
        files = {
            "@asap//third_party/coverage:BUILD.coverage": "BUILD",
            "@asap//third_party/coverage:lcov_merger.sh": "lcov_merger.sh",
            "@asap//third_party/coverage:coverage_report_generator.sh": "coverage_report_generator.sh",
        },
    )
    _maybe(
        native.new_local_repository,
        name = "com_google_protobuf",
        path = "/usr",
        build_file = "@asap//third_party/protobuf:BUILD.protobuf",
    )
    _maybe(debian_libraries, name = "asap_debian")
    native.register_toolchains("@asap//third_party/python:python_toolchain")
