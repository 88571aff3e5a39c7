use std::process::ExitCode;

/// mimalloc instead of glibc's malloc (see docs/benchmarks.md, "Scale: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    canopy::cli::main()
}
