"""asap_cc_fuzz_test: one libFuzzer target, two ways to run it.

With `--config=fuzz` (clang, libFuzzer, ASan, UBSan) the target is a fuzzer:

    bazel run --config=fuzz //tests/fuzz:NAME -- -max_total_time=60

It starts from the seed corpus in corpus/NAME (new inputs it finds are kept in
the runfiles copy, not in the source tree).

In every other configuration it is a plain test that feeds each file of the
seed corpus to LLVMFuzzerTestOneInput once (replay_main.cc), so `bazel test
//...` and the sanitizer configs replay every seed and every crash input that
was added as a regression.
"""

def asap_cc_fuzz_test(name, srcs, deps = [], **kwargs):
    corpus = "corpus/" + name
    native.cc_test(
        name = name,
        srcs = srcs,
        args = ["tests/fuzz/" + corpus],
        data = native.glob([corpus + "/**"]),
        linkopts = select({
            "//tests/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//tests/fuzz:libfuzzer": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
        **kwargs
    )
