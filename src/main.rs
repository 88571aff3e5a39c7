use std::process::ExitCode;

fn main() -> ExitCode {
    canopy::cli::main()
}
