"""What the protoc rules of grpc.bzl and agent.bzl share: import paths,
output folders, one protoc run, splitting outputs by suffix."""

WELL_KNOWN_PREFIX = "google/protobuf/"

def import_path(src, proto_info):
    """The path protoc knows `src` by: relative to the proto root it lives under."""
    best = ""
    for root in [proto_info.proto_source_root] + proto_info.transitive_proto_path.to_list():
        if root and root != "." and src.path.startswith(root + "/") and len(root) > len(best):
            best = root
    if best:
        return src.path[len(best) + 1:]
    if src.root.path and src.path.startswith(src.root.path + "/"):
        return src.path[len(src.root.path) + 1:]
    return src.path

def run_protoc(ctx, outputs, proto_infos, sources, plugin, plugin_name, out_dir, mnemonic, parameter = "", builtin_outs = []):
    """Runs protoc with `plugin` on `sources` (import paths).

    `parameter` goes to the plugin (--NAME_out=PARAMETER:DIR); `builtin_outs`
    names protoc's own generators to run into the same folder ("python").
    """
    transitive = depset(transitive = [p.transitive_sources for p in proto_infos])
    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-%s=%s" % (plugin_name, plugin.path))
    args.add("--%s_out=%s%s" % (plugin_name, parameter + ":" if parameter else "", out_dir))
    for builtin in builtin_outs:
        args.add("--%s_out=%s" % (builtin, out_dir))
    args.add_all(
        depset(transitive = [p.transitive_proto_path for p in proto_infos]),
        format_each = "-I%s",
    )
    args.add("-I.")
    args.add_all(sources)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        tools = [plugin],
        inputs = transitive,
        outputs = outputs,
        arguments = [args],
        mnemonic = mnemonic,
        progress_message = "Generating %s stubs for %s" % (plugin_name, ctx.label),
    )

def out_dir(ctx):
    path = ctx.bin_dir.path
    if ctx.label.workspace_root:
        path += "/" + ctx.label.workspace_root
    if ctx.label.package:
        path += "/" + ctx.label.package
    return path + "/" + ctx.attr.out_prefix

def _filter(files, suffix):
    return [f for f in files.to_list() if f.path.endswith(suffix)]

def _split_files_impl(ctx):
    return [DefaultInfo(files = depset(_filter(ctx.attr.src[DefaultInfo].files, ctx.attr.suffix)))]

split_files = rule(
    implementation = _split_files_impl,
    attrs = {
        "src": attr.label(mandatory = True),
        "suffix": attr.string(mandatory = True),
    },
)
