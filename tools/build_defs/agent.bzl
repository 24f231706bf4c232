"""asap_agent_library: typed agents and clients from a .proto.

A service in the .proto describes an agent and each rpc one of its skills
(options in asap/v1/options.proto). protoc-gen-asap
(//tools/protoc_gen_asap) generates, for `research.proto`:

- `research.asap.h`: per service a class with `Service` (derive the agent
  from it) and `Client` (typed calls over an AsapClient), in the C++
  library `name`, with the messages (`research.pb.h`);
- `research_asap.py`: per service a `<Service>Client` for grpcio, in the
  py_library `name + "_py"`, with the messages (`research_pb2`);
- `research.asap.json`: each agent's manifest with its skills' JSON
  Schemas, in the filegroup `name + "_manifest"`.

    load("@asap//tools/build_defs:agent.bzl", "asap_agent_library")

    asap_agent_library(
        name = "research_agent",
        srcs = ["research.proto"],
    )

    cc_binary(name = "server", srcs = ["server.cc"],
              deps = [":research_agent", "@asap//server"])

Headers and Python modules are named by the .proto's import path, the path
from the workspace root ("examples/research_agent/research.asap.h",
`from examples.research_agent import research_asap`), unless
`strip_import_prefix` or `import_prefix` change it as for proto_library.
The .proto may import asap/v1/options.proto and the well-known types
(any, duration, empty, field_mask, struct, timestamp, wrappers) without
listing them; other imports go in `deps` (proto_library targets).
"""

load(":protoc.bzl", "WELL_KNOWN_PREFIX", "import_path", "out_dir", "run_protoc", "split_files")

_IMPLICIT_PROTO_DEPS = [
    Label("//proto:options_proto"),
    "@com_google_protobuf//:any_proto",
    "@com_google_protobuf//:duration_proto",
    "@com_google_protobuf//:empty_proto",
    "@com_google_protobuf//:field_mask_proto",
    "@com_google_protobuf//:struct_proto",
    "@com_google_protobuf//:timestamp_proto",
    "@com_google_protobuf//:wrappers_proto",
]

# Their Python modules come with python3-protobuf and //proto:asap_py_grpc.
_PROVIDED_PYTHON_PREFIXES = [WELL_KNOWN_PREFIX, "asap/v1/"]

def _provided_in_python(path):
    for prefix in _PROVIDED_PYTHON_PREFIXES:
        if path.startswith(prefix):
            return True
    return False

def _asap_codegen_impl(ctx):
    infos = [d[ProtoInfo] for d in ctx.attr.srcs]
    outputs = []
    sources = []
    for info in infos:
        for src in info.direct_sources:
            path = import_path(src, info)
            base = path[:-len(".proto")]
            sources.append(path)
            if ctx.attr.language == "cpp":
                outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + ".asap.h"))
                outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + ".asap.cc"))
            elif ctx.attr.language == "json":
                outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base + ".asap.json"))
            else:
                outputs.append(ctx.actions.declare_file(ctx.attr.out_prefix + "/" + base.replace("-", "_") + "_asap.py"))
    run_protoc(
        ctx,
        list(outputs),
        infos,
        sources,
        ctx.executable._plugin,
        "asap",
        out_dir(ctx),
        "AsapCodegen",
        parameter = ctx.attr.language,
    )
    if ctx.attr.language == "python":
        # The messages of these files and of every file they import that
        # Python does not already have, by protoc's own Python generator.
        messages = []
        message_sources = []
        seen = {}
        for info in infos:
            for src in info.transitive_sources.to_list():
                path = import_path(src, info)
                if _provided_in_python(path) or path in seen:
                    continue
                seen[path] = True
                message_sources.append(path)
                messages.append(ctx.actions.declare_file(
                    ctx.attr.out_prefix + "/" + path[:-len(".proto")].replace("-", "_") + "_pb2.py",
                ))
        args = ctx.actions.args()
        args.add("--python_out=%s" % out_dir(ctx))
        args.add_all(depset(transitive = [i.transitive_proto_path for i in infos]), format_each = "-I%s")
        args.add("-I.")
        args.add_all(message_sources)
        ctx.actions.run(
            executable = ctx.executable._protoc,
            inputs = depset(transitive = [i.transitive_sources for i in infos]),
            outputs = messages,
            arguments = [args],
            mnemonic = "AsapPyMessages",
            progress_message = "Generating Python messages for %s" % ctx.label,
        )
        outputs += messages
    return [DefaultInfo(files = depset(outputs), runfiles = ctx.runfiles(files = outputs))]

_asap_codegen = rule(
    implementation = _asap_codegen_impl,
    attrs = {
        "srcs": attr.label_list(providers = [ProtoInfo], mandatory = True),
        "language": attr.string(mandatory = True, values = ["cpp", "python", "json"]),
        "out_prefix": attr.string(mandatory = True),
        "_protoc": attr.label(
            default = "@com_google_protobuf//:protoc",
            executable = True,
            cfg = "exec",
        ),
        "_plugin": attr.label(
            default = Label("//tools/protoc_gen_asap:protoc-gen-asap"),
            executable = True,
            cfg = "exec",
        ),
    },
)

def asap_agent_library(
        name,
        srcs,
        deps = [],
        strip_import_prefix = None,
        import_prefix = None,
        visibility = None,
        **kwargs):
    """Typed agents and clients for the services of `srcs`.

    Args:
      name: the cc_library; also names `name + "_py"` (py_library),
        `name + "_manifest"` (the .asap.json files) and `name + "_proto"`
        (the proto_library of `srcs`).
      srcs: .proto files.
      deps: proto_library targets the files import, besides asap's options
        and the well-known types.
      strip_import_prefix: as proto_library's.
      import_prefix: as proto_library's.
      visibility: the usual.
      **kwargs: passed to every target (for example testonly, tags).
    """
    proto = name + "_proto"
    proto_args = {}
    if strip_import_prefix != None:
        proto_args["strip_import_prefix"] = strip_import_prefix
    if import_prefix != None:
        proto_args["import_prefix"] = import_prefix
    native.proto_library(
        name = proto,
        srcs = srcs,
        deps = deps + _IMPLICIT_PROTO_DEPS,
        visibility = visibility,
        **dict(proto_args, **kwargs)
    )
    native.cc_proto_library(
        name = name + "_cc_proto",
        deps = [":" + proto],
        visibility = visibility,
        **kwargs
    )

    cc_prefix = name + "_asap_cc"
    _asap_codegen(name = cc_prefix, srcs = [":" + proto], language = "cpp", out_prefix = cc_prefix, **kwargs)
    split_files(name = cc_prefix + "_hdrs", src = ":" + cc_prefix, suffix = ".h", **kwargs)
    split_files(name = cc_prefix + "_srcs", src = ":" + cc_prefix, suffix = ".cc", **kwargs)
    native.cc_library(
        name = name,
        srcs = [":" + cc_prefix + "_srcs"],
        hdrs = [":" + cc_prefix + "_hdrs"],
        strip_include_prefix = cc_prefix,
        deps = [
            ":" + name + "_cc_proto",
            Label("//asap/skills:agent_service"),
            Label("//client:typed_stub"),
        ],
        visibility = visibility,
        **kwargs
    )

    py_prefix = name + "_asap_py"
    _asap_codegen(name = py_prefix, srcs = [":" + proto], language = "python", out_prefix = py_prefix, **kwargs)
    native.py_library(
        name = name + "_py",
        srcs = [":" + py_prefix],
        imports = [py_prefix],
        deps = [
            Label("//client/python:asap_skills"),
            Label("//proto:asap_py_grpc"),
        ],
        visibility = visibility,
        **kwargs
    )

    _asap_codegen(
        name = name + "_manifest",
        srcs = [":" + proto],
        language = "json",
        out_prefix = name + "_asap_json",
        visibility = visibility,
        **kwargs
    )
