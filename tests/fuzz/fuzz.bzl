"""asap_cc_fuzz_test: a libFuzzer target that is also a corpus regression test.

    asap_cc_fuzz_test(
        name = "gzip_fuzz",
        srcs = ["gzip_fuzz.cc"],       # defines LLVMFuzzerTestOneInput
        deps = ["//asap/compression:codec"],
    )

makes a cc_test whose seed corpus is corpus/<name>/ in this package:

- `bazel test //...` (any config but fuzz) runs every corpus file through
  LLVMFuzzerTestOneInput once (tests/fuzz/fuzz_main.cc);
- `bazel run --config=fuzz //tests/fuzz:gzip_fuzz -- -max_total_time=60`
  fuzzes with libFuzzer (clang-14, ASan, UBSan), starting from the corpus;
- `bazel test --config=fuzz --test_arg=-max_total_time=20 //tests/fuzz:all`
  fuzzes every target for a bounded time, each one a test.
"""

def asap_cc_fuzz_test(name, srcs, deps = [], **kwargs):
    corpus = "corpus/" + name
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + ["//tests/fuzz:fuzz_main"],
        linkopts = select({
            "//tests/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        data = native.glob([corpus + "/**"]),
        args = ["--asap_seed_corpus=%s/%s" % (native.package_name(), corpus)],
        # Bounded fuzzing runs take the time they are given (-max_total_time),
        # plus start-up and the final corpus pass.
        size = "medium",
        tags = kwargs.pop("tags", []) + ["fuzz"],
        **kwargs
    )
