"""Finds the CUDA toolkit (CUDA_PATH, then /usr/local/cuda) and describes it to the build.

The generated repository holds a cc_library `cuda` (headers, cudart, cuBLAS, cuDNN), `nccl` and
`cupti`, and a defs.bzl with CUDA_FOUND, NVCC, CUDA_ARCHS, NCCL_FOUND and CUPTI_FOUND. Without a toolkit it holds an empty library and
CUDA_FOUND = False, so the same BUILD files build a CPU-only project.
"""

# Architectures the project targets; those the installed nvcc cannot build are skipped (CUDA 13
# dropped sm_70) and listed in CUDA_SKIPPED_ARCHS so the build says so.
_WANTED_ARCHS = ["70", "80", "90"]

def _found(repository_ctx, root):
    nvcc = root + "/bin/nvcc"
    repository_ctx.symlink(root + "/include", "include")
    listed = repository_ctx.execute([nvcc, "--list-gpu-code"])
    if listed.return_code != 0:
        fail("cuda_configure: %s --list-gpu-code failed: %s" % (nvcc, listed.stderr))
    supported = [line.strip()[3:] for line in listed.stdout.splitlines() if line.strip().startswith("sm_")]
    wanted = repository_ctx.os.environ.get("REPFLOW_CUDA_ARCHS", ",".join(_WANTED_ARCHS)).split(",")
    archs = [a for a in wanted if a in supported]
    skipped = [a for a in wanted if a not in supported]
    if not archs:
        fail("cuda_configure: nvcc at %s supports none of the architectures %s" % (nvcc, wanted))
    lib = root + "/lib64"
    repository_ctx.file("BUILD", """
cc_library(
    name = "cuda",
    hdrs = glob(["include/**"]),
    includes = ["include"],
    linkopts = ["-L{lib}", "-Wl,-rpath,{lib}", "-lcudnn", "-lcublas", "-lcudart"],
    visibility = ["//visibility:public"],
)
""".format(lib = lib) + _nccl_build(repository_ctx, root, lib) + _cupti_build(repository_ctx, root, lib))
    repository_ctx.file("defs.bzl", """
CUDA_FOUND = True
NVCC = "{nvcc}"
CUDA_ARCHS = {archs}
CUDA_SKIPPED_ARCHS = {skipped}
NCCL_FOUND = {nccl}
CUPTI_FOUND = {cupti}
""".format(
        nvcc = nvcc,
        archs = archs,
        skipped = skipped,
        nccl = _nccl_found(repository_ctx, root),
        cupti = _cupti_found(repository_ctx, root),
    ))

# NCCL ships with some toolkits (nccl.h in include/, libnccl in lib64/); `nccl` is empty and
# NCCL_FOUND False where it does not, so the NCCL communicator is left out of the build.
def _nccl_found(repository_ctx, root):
    return repository_ctx.path(root + "/include/nccl.h").exists

def _nccl_build(repository_ctx, root, lib):
    if not _nccl_found(repository_ctx, root):
        return """
cc_library(name = "nccl", visibility = ["//visibility:public"])
"""
    return """
cc_library(
    name = "nccl",
    linkopts = ["-L{lib}", "-Wl,-rpath,{lib}", "-lnccl"],
    deps = [":cuda"],
    visibility = ["//visibility:public"],
)
""".format(lib = lib)

# CUPTI (cupti.h, libcupti) traces what a GPU runs, for bench_model --kernel-times; `cupti` is
# empty and CUPTI_FOUND False where the toolkit lacks it.
def _cupti_found(repository_ctx, root):
    return (repository_ctx.path(root + "/include/cupti.h").exists and
            repository_ctx.path(root + "/lib64/libcupti.so").exists)

def _cupti_build(repository_ctx, root, lib):
    if not _cupti_found(repository_ctx, root):
        return """
cc_library(name = "cupti", visibility = ["//visibility:public"])
"""
    return """
cc_library(
    name = "cupti",
    linkopts = ["-L{lib}", "-Wl,-rpath,{lib}", "-lcupti"],
    deps = [":cuda"],
    visibility = ["//visibility:public"],
)
""".format(lib = lib)

def _not_found(repository_ctx):
    repository_ctx.file("BUILD", """
cc_library(name = "cuda", visibility = ["//visibility:public"])
cc_library(name = "nccl", visibility = ["//visibility:public"])
cc_library(name = "cupti", visibility = ["//visibility:public"])
""")
    repository_ctx.file("defs.bzl", """
CUDA_FOUND = False
NVCC = ""
CUDA_ARCHS = []
CUDA_SKIPPED_ARCHS = []
NCCL_FOUND = False
CUPTI_FOUND = False
""")

def _cuda_configure_impl(repository_ctx):
    root = repository_ctx.os.environ.get("CUDA_PATH", "/usr/local/cuda")

    # REPFLOW_CUDA=off builds for the CPU alone even where a toolkit is installed: the sanitizer
    # and fuzz builds (.bazelrc) do, since their runtimes and the CUDA driver do not mix.
    off = repository_ctx.os.environ.get("REPFLOW_CUDA", "") == "off"
    if not off and repository_ctx.path(root + "/bin/nvcc").exists:
        _found(repository_ctx, root)
    else:
        _not_found(repository_ctx)

cuda_configure = repository_rule(
    implementation = _cuda_configure_impl,
    environ = ["CUDA_PATH", "REPFLOW_CUDA", "REPFLOW_CUDA_ARCHS"],
    local = True,
)
