"""cuda_library: .cu files compiled by nvcc into objects that a cc_library links.

When the toolkit is absent (CUDA_FOUND is False) a cuda_library is an empty cc_library, so the
targets that depend on it build for the CPU alone.
"""

load("@local_cuda//:defs.bzl", "CUDA_ARCHS", "CUDA_FOUND", "CUPTI_FOUND", "NCCL_FOUND", "NVCC")

def if_cuda(with_cuda, without_cuda = []):
    return with_cuda if CUDA_FOUND else without_cuda

def if_nccl(with_nccl, without_nccl = []):
    return with_nccl if NCCL_FOUND else without_nccl

def if_cupti(with_cupti, without_cupti = []):
    return with_cupti if CUPTI_FOUND else without_cupti

def _nvcc_objects_impl(ctx):
    cc = [d[CcInfo].compilation_context for d in ctx.attr.deps]
    headers = depset(transitive = [c.headers for c in cc])
    flags = ["-I."]
    for c in cc:
        for inc in c.includes.to_list() + c.quote_includes.to_list():
            flags += ["-I", inc]
        for inc in c.system_includes.to_list():
            flags += ["-isystem", inc]
        for d in c.defines.to_list():
            flags.append("-D" + d)
    gencode = []
    for a in ctx.attr.archs:
        gencode += ["-gencode", "arch=compute_%s,code=sm_%s" % (a, a)]

    # PTX of the newest target too, so newer GPUs can run the code after a JIT step.
    gencode += ["-gencode", "arch=compute_%s,code=compute_%s" % (ctx.attr.archs[-1], ctx.attr.archs[-1])]
    objects = []
    for src in ctx.files.srcs:
        out = ctx.actions.declare_file("_nvcc/%s/%s.pic.o" % (ctx.label.name, src.basename[:-3]))
        # nvcc names its temporary files after its process id, which is the same (2) in every
        # Bazel sandbox: two nvcc actions at once would share /tmp's files. Each gets a
        # directory of its own.
        ctx.actions.run_shell(
            command = 'tmp=$(mktemp -d) && TMPDIR="$tmp" "$@"; status=$?; rm -rf "$tmp"; exit $status',
            arguments = [
                ctx.attr.nvcc,
                "-c",
                src.path,
                "-o",
                out.path,
                "-std=c++17",
                "-O3",
                "--expt-relaxed-constexpr",
                "-Werror",
                "all-warnings",
                "-Xcompiler",
                "-fPIC,-Wall,-Wextra,-Werror",
                "-DREPFLOW_WITH_CUDA=1",
            ] + gencode + flags,
            inputs = depset([src] + ctx.files.hdrs, transitive = [headers]),
            outputs = [out],
            mnemonic = "Nvcc",
            progress_message = "nvcc %s" % src.short_path,
            use_default_shell_env = True,
        )
        objects.append(out)
    return [DefaultInfo(files = depset(objects))]

_nvcc_objects = rule(
    implementation = _nvcc_objects_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".cu"]),
        "hdrs": attr.label_list(allow_files = [".h", ".cuh"]),
        "deps": attr.label_list(providers = [CcInfo]),
        "nvcc": attr.string(),
        "archs": attr.string_list(),
    },
)

def cuda_library(name, srcs, hdrs = [], deps = [], **kwargs):
    """A cc_library of nvcc-compiled objects, or an empty one when CUDA is absent."""
    if not CUDA_FOUND:
        native.cc_library(name = name, **kwargs)
        return
    _nvcc_objects(
        name = name + "_objects",
        srcs = srcs,
        hdrs = hdrs,
        deps = deps + ["@local_cuda//:cuda"],
        nvcc = NVCC,
        archs = CUDA_ARCHS,
    )
    native.cc_library(
        name = name,
        srcs = [":" + name + "_objects"],
        hdrs = hdrs,
        deps = deps + ["@local_cuda//:cuda"],
        alwayslink = True,
        **kwargs
    )
