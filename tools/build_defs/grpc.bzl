"""Bazel rules that turn `proto_library` targets into gRPC C++ and Python stubs.

They run Debian's protoc with Debian's gRPC plugins, so nothing is downloaded.
The names and the main attributes follow gRPC's own Bazel rules:

    load("@asap//tools/build_defs:grpc.bzl", "cc_grpc_library", "py_grpc_library")

    proto_library(
        name = "greeter_proto",
        srcs = ["greeter.proto"],
    )

    # C++: messages (cc_proto_library) and the service stubs, one cc_library.
    cc_grpc_library(
        name = "greeter_cc_grpc",
        srcs = [":greeter_proto"],
    )

    # Python: greeter_pb2.py and greeter_pb2_grpc.py, one py_library.
    py_grpc_library(
        name = "greeter_py_grpc",
        srcs = [":greeter_proto"],
    )
"""

load(":protoc.bzl", "WELL_KNOWN_PREFIX", "import_path", "out_dir", "run_protoc", "split_files")

def _cc_grpc_codegen_impl(ctx):
    outputs = []
    sources = []
    for dep in ctx.attr.srcs:
        info = dep[ProtoInfo]
        for src in info.direct_sources:
            path = import_path(src, info)
            base = path[:-len(".proto")]
            sources.append(path)
            outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + ".grpc.pb.h"))
            outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + ".grpc.pb.cc"))
    run_protoc(
        ctx,
        outputs,
        [d[ProtoInfo] for d in ctx.attr.srcs],
        sources,
        ctx.executable._plugin,
        "grpc",
        out_dir(ctx),
        "GrpcCppCodegen",
    )
    return [DefaultInfo(files = depset(outputs))]

_cc_grpc_codegen = rule(
    implementation = _cc_grpc_codegen_impl,
    attrs = {
        "srcs": attr.label_list(providers = [ProtoInfo], mandatory = True),
        "out_prefix": attr.string(mandatory = True),
        "_protoc": attr.label(
            default = "@com_google_protobuf//:protoc",
            executable = True,
            cfg = "exec",
        ),
        "_plugin": attr.label(
            default = "@com_google_protobuf//:grpc_cpp_plugin",
            executable = True,
            cfg = "exec",
        ),
    },
)

def cc_grpc_library(name, srcs, deps = [], grpc_only = False, visibility = None, **kwargs):
    """C++ gRPC stubs for the services in `srcs`.

    Args:
      name: the cc_library to create. Include `<import path>.grpc.pb.h` (and
        `<import path>.pb.h` for the messages).
      srcs: proto_library targets whose services get stubs.
      deps: cc_proto_library targets the stubs need when grpc_only = True.
      grpc_only: when False (the default) a cc_proto_library for `srcs` is made
        and linked in, so one target gives both messages and stubs.
      visibility: the usual.
      **kwargs: passed to the cc_library (for example testonly).
    """
    codegen = name + "_grpc_codegen"
    prefix = name + "_grpc_pb"
    testonly = kwargs.get("testonly", False)
    all_deps = list(deps)
    if not grpc_only:
        native.cc_proto_library(
            name = name + "_cc_proto",
            deps = srcs,
            testonly = testonly,
            visibility = visibility,
        )
        all_deps.append(":" + name + "_cc_proto")
    _cc_grpc_codegen(name = codegen, srcs = srcs, out_prefix = prefix, testonly = testonly)
    split_files(name = codegen + "_hdrs", src = ":" + codegen, suffix = ".h", testonly = testonly)
    split_files(name = codegen + "_srcs", src = ":" + codegen, suffix = ".cc", testonly = testonly)
    native.cc_library(
        name = name,
        srcs = [":" + codegen + "_srcs"],
        hdrs = [":" + codegen + "_hdrs"],
        strip_include_prefix = prefix,
        deps = all_deps + ["@asap_debian//:grpc++"],
        visibility = visibility,
        **kwargs
    )

def _py_grpc_codegen_impl(ctx):
    outputs = []
    sources = []
    infos = [d[ProtoInfo] for d in ctx.attr.srcs]

    # Python needs the messages of every imported file too; the well-known types
    # ship with python3-protobuf.
    seen = {}
    for dep in ctx.attr.srcs + ctx.attr.deps:
        info = dep[ProtoInfo]
        for src in info.transitive_sources.to_list():
            path = import_path(src, info)
            if path.startswith(WELL_KNOWN_PREFIX) or path in seen:
                continue
            seen[path] = True
            sources.append(path)
            base = path[:-len(".proto")]
            outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + "_pb2.py"))
            outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + "_pb2_grpc.py"))
    output_dir = out_dir(ctx)
    transitive = depset(transitive = [i.transitive_sources for i in infos])
    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-grpc=%s" % ctx.executable._plugin.path)
    args.add("--python_out=%s" % output_dir)
    args.add("--grpc_out=%s" % output_dir)
    args.add_all(depset(transitive = [i.transitive_proto_path for i in infos]), format_each = "-I%s")
    args.add("-I.")
    args.add_all(sources)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        tools = [ctx.executable._plugin],
        inputs = transitive,
        outputs = outputs,
        arguments = [args],
        mnemonic = "GrpcPyCodegen",
        progress_message = "Generating Python gRPC stubs for %s" % ctx.label,
    )
    return [DefaultInfo(files = depset(outputs))]

_py_grpc_codegen = rule(
    implementation = _py_grpc_codegen_impl,
    attrs = {
        "srcs": attr.label_list(providers = [ProtoInfo], mandatory = True),
        "deps": attr.label_list(providers = [ProtoInfo]),
        "out_prefix": attr.string(mandatory = True),
        "_protoc": attr.label(
            default = "@com_google_protobuf//:protoc",
            executable = True,
            cfg = "exec",
        ),
        "_plugin": attr.label(
            default = "@com_google_protobuf//:grpc_python_plugin",
            executable = True,
            cfg = "exec",
        ),
    },
)

def py_grpc_library(name, srcs, deps = [], visibility = None, **kwargs):
    """Python messages (`*_pb2.py`) and gRPC stubs (`*_pb2_grpc.py`) for `srcs`.

    Import them by proto path: `from asap.v1 import service_pb2_grpc`. They run on
    Debian's python3-grpcio and python3-protobuf.

    Args:
      name: the py_library to create.
      srcs: proto_library targets; stubs are made for them and all they import.
      deps: more proto_library targets whose messages are needed.
      visibility: the usual.
      **kwargs: passed to the py_library.
    """
    prefix = name + "_py_pb"
    _py_grpc_codegen(
        name = name + "_codegen",
        srcs = srcs,
        deps = deps,
        out_prefix = prefix,
        testonly = kwargs.get("testonly", False),
    )
    native.py_library(
        name = name,
        srcs = [":" + name + "_codegen"],
        imports = [prefix],
        visibility = visibility,
        **kwargs
    )
